"""CLI fixtures: an initialized MLGOV_HOME with a team, driven through click's CliRunner."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mlgov.cli.main import cli
from mlgov.governance.ports import RegisteredVersion
from mlgov.governance.service import Governance
from mlgov.governance.store import Store

TEAM = {
    "u_admin": ["admin"],
    "u_ds": ["data_scientist"],
    "owner_ds": ["data_scientist"],
    "u_ro": ["risk_officer"],
    "u_eng": ["ml_engineer"],
    "u_aud": ["auditor"],
}


def seed_versions(home: Path) -> None:
    """credit/1 in develop, credit/2 in train, credit/3 in deploy (owner: owner_ds)."""
    gov = Governance(Store(f"sqlite:///{home / 'governance.db'}"))
    for n in ("1", "2", "3"):
        gov.record_registration(
            "owner_ds",
            RegisteredVersion(
                model="credit",
                version=n,
                source_uri=f"models:/m-{n}",
                run_id=f"run{n}",
                experiment_id="0",
                fingerprint={"MLmodel": "0" * 64},
            ),
            risk_tier="low",
            purpose="credit scoring",
            owner="owner_ds",
        )
    gov.promote("owner_ds", "credit", "2", "train")
    gov.promote("owner_ds", "credit", "3", "train")
    gov.promote("u_eng", "credit", "3", "deploy")
    gov.store.engine.dispose()


@pytest.fixture(scope="session")
def template_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("template") / "home"
    runner = CliRunner()
    assert runner.invoke(cli, ["--home", str(home), "--user", "u_admin", "init"]).exit_code == 0
    for name, roles in TEAM.items():
        if name == "u_admin":
            continue
        args = ["--home", str(home), "--user", "u_admin", "users", "add", name]
        for r in roles:
            args += ["--role", r]
        assert runner.invoke(cli, args).exit_code == 0
    seed_versions(home)
    return home


@pytest.fixture
def home(template_home: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "home"
    shutil.copytree(template_home, dest)
    return dest


@pytest.fixture
def fake_registry(monkeypatch):
    """The seeded versions live in a fake registry shared by every invocation of a test."""
    from mlgov import app
    from mlgov.governance.testing import FakeRegistry

    registry = FakeRegistry()
    for n in ("1", "2", "3"):
        registry.files[("credit", n)] = {"MLmodel": b"m"}
    monkeypatch.setattr(app, "build_registry", lambda settings: registry)
    return registry


@pytest.fixture
def fake_ports(monkeypatch, tmp_path):
    """Fake deployer, drift engine and prediction log behind the CLI."""
    from mlgov import app
    from mlgov.governance.testing import FakeDeployer, FakeDriftChecker, FakePredictions

    ports = {
        "datasets": None,
        "drift": FakeDriftChecker(),
        "predictions": FakePredictions(),
        "deployer": FakeDeployer(tmp_path / "targets"),
    }
    monkeypatch.setattr(app, "build_ports", lambda settings: ports)
    return ports


@pytest.fixture
def mlgov(home: Path, monkeypatch, fake_registry, fake_ports) -> Callable[..., Result]:
    monkeypatch.delenv("MLGOV_POLICY", raising=False)
    monkeypatch.delenv("MLGOV_DB_URL", raising=False)

    def run(*args: str, user: str = "u_admin") -> Result:
        return CliRunner().invoke(cli, ["--home", str(home), "--user", user, *args])

    return run
