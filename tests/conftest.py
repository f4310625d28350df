"""Shared fixtures: a governance service on a temporary SQLite store with a movable clock."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlgov.governance import faults
from mlgov.governance.clock import FixedClock
from mlgov.governance.gates import Gates
from mlgov.governance.roles import Role
from mlgov.governance.service import Governance
from mlgov.governance.store import Store
from mlgov.governance.testing import FakeRegistry

# Tests never phone home, whatever the developer's environment says.
os.environ.setdefault("DO_NOT_TRACK", "true")


@pytest.fixture(scope="session", autouse=True)
def _outside_the_source_tree(tmp_path_factory) -> Iterator[None]:
    """Run from an empty directory: a subprocess started with `python -c` or `-m` puts its
    working directory on sys.path, and from the repository root `import mlgov` would find the
    bare source folder instead of the installed package (and tools would drop files there)."""
    previous = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))
    yield
    os.chdir(previous)


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


@pytest.fixture(autouse=True)
def _no_armed_fault():
    """A test that arms a fault point (faults.arm) never leaves it armed for the next one."""
    yield
    faults.disarm()


# The core's tests run on SQLite, and on PostgreSQL too when MLGOV_TEST_PG_URL names an
# empty database (.ci/run starts one): the multi-user target must not drift away.
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("MLGOV_TEST_PG_URL") else [])


def pytest_report_header(config: pytest.Config) -> str:
    if "postgresql" in BACKENDS:
        return "governance store backends: sqlite, postgresql (MLGOV_TEST_PG_URL)"
    return (
        "governance store backends: sqlite only; the PostgreSQL variants are not collected "
        "(set MLGOV_TEST_PG_URL, e.g. to what .ci/postgres.sh prints, to run them)"
    )


def _fresh_postgres(url: str) -> Store:
    from sqlalchemy import text

    store = Store(url)
    with store.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    return store


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path: Path) -> Iterator[Store]:
    if request.param == "postgresql":
        s = _fresh_postgres(os.environ["MLGOV_TEST_PG_URL"])
    else:
        s = Store(f"sqlite:///{tmp_path / 'governance.db'}")
    s.upgrade()
    yield s
    s.engine.dispose()


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


@pytest.fixture
def governed(store: Store, clock: FixedClock, fake_registry: FakeRegistry, tmp_path: Path):
    """A service with the core's real gates (train evidence, approvals, mirror)."""
    from mlgov.governance.defaults import core_gates
    from mlgov.governance.notify import FileNotifier
    from mlgov.governance.ports import DatasetInfo

    class Datasets:
        def describe(self, path: Path) -> DatasetInfo:
            import hashlib

            header = path.read_text().splitlines()[0].split(",")
            return DatasetInfo(
                path=path,
                sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                rows=len(path.read_text().splitlines()) - 1,
                columns={c: {"kind": "numerical", "dtype": "float64"} for c in header},
            )

    g = Governance(
        store,
        clock=clock,
        gates=core_gates(),
        registry=fake_registry,
        notifier=FileNotifier(tmp_path / "notifications.jsonl", clock),
        ports={"datasets": Datasets()},
        home=tmp_path / "home",
    )
    g.init("admin")
    for name, roles in TEAM.items():
        g.add_user("admin", name, roles)
    yield g
    store.engine.dispose()


HIGH_CARD = {
    "intended_use": "score retail credit applications",
    "limitations": "not for business loans",
    "training_data": "applications 2019-2023",
    "evaluation_data": "holdout 2024",
    "owner_contact": "ds1@bank.example",
    "fairness_assessment": "no disparate impact found",
    "fallback_plan": "manual underwriting",
}


@pytest.fixture
def high_card() -> dict[str, str]:
    return dict(HIGH_CARD)


@pytest.fixture
def in_train(governed, tmp_path: Path) -> Governance:
    """credit/1, high tier, with complete evidence, promoted to train."""
    from mlgov.governance import cards
    from mlgov.governance.references import record_reference

    governed.register("ds1", "credit", risk_tier="high", purpose="credit scoring", run_id="r1")
    cards.set_card(governed, "ds1", "credit", "1", HIGH_CARD)
    ref = tmp_path / "reference.csv"
    ref.write_text("x\n1.0\n2.0\n")
    record_reference(governed, "ds1", "credit", "1", ref)
    governed.promote("ds1", "credit", "1", "train")
    return governed


@pytest.fixture
def operated(in_train, tmp_path: Path):
    """`in_train` plus fake deployer, drift checker and prediction log, with the app's gates."""
    from mlgov.governance import deployments, drift_checks
    from mlgov.governance.testing import FakeDeployer, FakeDriftChecker, FakePredictions

    drift_checks.register(in_train.gates)
    deployments.register(in_train.gates)
    in_train.ports.update(
        deployer=FakeDeployer(tmp_path / "targets"),
        drift=FakeDriftChecker(),
        predictions=FakePredictions(),
    )
    (in_train.home / "reports").mkdir(parents=True, exist_ok=True)
    return in_train


class Operations:
    """Steps tests repeat on the `operated` service: approve, drift-check data, a second
    version deployed to the same target."""

    def __init__(self, gov: Governance, tmp_path: Path, high_card: dict[str, str]) -> None:
        self.gov, self.tmp, self.card = gov, tmp_path, high_card

    def approve(self, version: str = "1") -> None:
        from mlgov.governance import approvals

        approvals.request_approval(self.gov, "ds1", "credit", version)
        approvals.decide(self.gov, "ro1", "credit", version, approve=True)
        approvals.decide(self.gov, "ro2", "credit", version, approve=True)

    def current(self) -> Path:
        f = self.tmp / "current.csv"
        f.write_text("x\n5.0\n6.0\n")
        return f

    def second_version(self) -> None:
        from mlgov.governance import cards, deployments
        from mlgov.governance.drift_checks import record_drift
        from mlgov.governance.references import record_reference

        self.gov.register("ds1", "credit", risk_tier="high", purpose="v2", run_id="r2")
        cards.set_card(self.gov, "ds1", "credit", "2", self.card)
        ref = self.tmp / "ref2.csv"
        ref.write_text("x\n1.5\n2.5\n")
        record_reference(self.gov, "ds1", "credit", "2", ref)
        self.gov.promote("ds1", "credit", "2", "train")
        self.approve("2")
        record_drift(self.gov, "eng", "credit", "2", self.current())
        deployments.deploy(self.gov, "eng", "credit", "2", target="scoring")


@pytest.fixture
def ops(operated, tmp_path: Path, high_card) -> Operations:
    return Operations(operated, tmp_path, high_card)
