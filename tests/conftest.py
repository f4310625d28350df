"""Shared fixtures: a governance service on a temporary SQLite store with a movable clock."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlgov.governance.clock import FixedClock
from mlgov.governance.gates import Gates
from mlgov.governance.roles import Role
from mlgov.governance.service import Governance
from mlgov.governance.store import Store
from mlgov.governance.testing import FakeRegistry

# Tests never phone home, whatever the developer's environment says.
os.environ.setdefault("DO_NOT_TRACK", "true")

TEAM = {
    "ds1": [Role.DATA_SCIENTIST],
    "ds2": [Role.DATA_SCIENTIST],
    "ro1": [Role.RISK_OFFICER],
    "ro2": [Role.RISK_OFFICER],
    "eng": [Role.ML_ENGINEER],
    "aud": [Role.AUDITOR],
}


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'governance.db'}")
    s.upgrade()
    return s


@pytest.fixture
def fake_registry() -> FakeRegistry:
    return FakeRegistry()


@pytest.fixture
def gov(store: Store, clock: FixedClock, fake_registry: FakeRegistry) -> Iterator[Governance]:
    g = Governance(store, clock=clock, gates=Gates(), registry=fake_registry)
    g.init("admin")
    for name, roles in TEAM.items():
        g.add_user("admin", name, roles)
    yield g
    store.engine.dispose()


@pytest.fixture
def registered(gov: Governance) -> dict:
    return gov.register("ds1", "credit", risk_tier="high", purpose="credit scoring", run_id="r1")
