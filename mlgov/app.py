"""Wiring: builds the governance service with its adapters and gate checks.

Adapters are constructed here but import their heavy libraries only when used, so read-only
commands never load MLflow, BentoML or Evidently.
"""

from __future__ import annotations

from mlgov.config import Settings, apply_environment
from mlgov.governance.clock import Clock
from mlgov.governance.gates import Gates
from mlgov.governance.policy import load_policy
from mlgov.governance.service import Governance
from mlgov.governance.store import Store


def build_gates() -> Gates:
    """Every named gate check and move effect, registered in one place."""
    return Gates()


def open_governance(
    settings: Settings, *, initializing: bool = False, clock: Clock | None = None
) -> Governance:
    settings.ensure_home(create=initializing)
    policy = load_policy(settings.policy_path)
    apply_environment(settings)
    store = Store(settings.db_url)
    if not initializing:
        store.check_current()
    return Governance(store, policy=policy, clock=clock, gates=build_gates())
