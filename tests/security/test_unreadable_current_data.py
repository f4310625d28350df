"""Issue 16, item 10: a `--current` file that is not UTF-8 text (UTF-16, random bytes) is
refused with exit 2 naming the file, as the reference reader refuses the same files, by both
engines and through the CLI; nothing is recorded.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlgov.cli.main import cli
from mlgov.governance.ports import RegisteredVersion
from mlgov.governance.service import Governance
from mlgov.governance.store import Store

ROWS = "income,age\n" + "".join(f"{40_000 + 37 * i},{20 + i % 50}\n" for i in range(200))


def utf16_csv(path: Path) -> Path:
    path.write_bytes(ROWS.encode("utf-16"))
    return path


def random_bytes_csv(path: Path) -> Path:
    path.write_bytes(os.urandom(4096))
    return path


@pytest.fixture
def home(tmp_path: Path, monkeypatch) -> Path:
    """A home with an engineer and credit/1 in develop; real engines, fake MLflow."""
    from mlgov import app
    from mlgov.governance.testing import FakeRegistry

    monkeypatch.delenv("MLGOV_POLICY", raising=False)
    monkeypatch.delenv("MLGOV_DB_URL", raising=False)
    monkeypatch.setattr(app, "build_registry", lambda settings: FakeRegistry())
    home = tmp_path / "home"
    runner = CliRunner()
    assert runner.invoke(cli, ["--home", str(home), "--user", "admin", "init"]).exit_code == 0
    for user, role in (("owner", "data_scientist"), ("eng", "ml_engineer")):
        args = ["--home", str(home), "--user", "admin", "users", "add", user, "--role", role]
        assert runner.invoke(cli, args).exit_code == 0
    gov = Governance(Store(f"sqlite:///{home / 'governance.db'}"))
    gov.record_registration(
        "owner",
        RegisteredVersion(
            model="credit",
            version="1",
            source_uri="models:/m-1",
            run_id="run1",
            experiment_id="0",
            fingerprint={"MLmodel": "0" * 64},
        ),
        risk_tier="low",
        purpose="credit scoring",
        owner="owner",
    )
    gov.store.engine.dispose()
    return home


@pytest.fixture
def reference(tmp_path: Path) -> Path:
    path = tmp_path / "reference.csv"
    path.write_text(ROWS)
    return path


def drift(home: Path, reference: Path, current: Path, engine: str):
    recorded = CliRunner().invoke(
        cli,
        ["--home", str(home), "--user", "owner", "models", "reference", "credit", "1"]
        + [str(reference)],
    )
    assert recorded.exit_code == 0, recorded.output
    args = ["monitor", "drift", "credit", "1", "--current", str(current), "--engine", engine]
    return CliRunner().invoke(cli, ["--home", str(home), "--user", "eng", *args])


@pytest.mark.parametrize("engine", ["fast", "evidently"])
@pytest.mark.parametrize("make", [utf16_csv, random_bytes_csv], ids=["utf16", "random-bytes"])
def test_current_data_that_is_not_utf8_text_is_bad_input_naming_the_file(
    home, reference, tmp_path, engine, make
):
    current = make(tmp_path / "current.csv")
    result = drift(home, reference, current, engine)
    assert result.exit_code == 2, result.output
    assert f"{current}: cannot be parsed as its format says (not UTF-8 text" in result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.output
    history = CliRunner().invoke(
        cli,
        ["--home", str(home), "--user", "eng", "monitor", "history", "credit", "1"]
        + ["--format", "json"],
    )
    assert history.exit_code == 0 and history.stdout.strip() == "[]"  # nothing recorded


@pytest.mark.parametrize("make", [utf16_csv, random_bytes_csv], ids=["utf16", "random-bytes"])
def test_current_and_reference_readers_refuse_the_same_file_alike(tmp_path, make):
    from mlgov.governance.drift import DriftSpec
    from mlgov.governance.errors import BadInput
    from mlgov.monitoring.datasets import describe_dataset
    from mlgov.monitoring.fast_engine import FastDriftChecker

    bad = make(tmp_path / "data.csv")
    good = tmp_path / "good.csv"
    good.write_text(ROWS)
    with pytest.raises(BadInput) as as_reference:
        describe_dataset(bad)
    spec = DriftSpec(column_kinds={"income": "numerical", "age": "numerical"})
    with pytest.raises(BadInput) as as_current:
        FastDriftChecker().check(good, bad, spec)
    assert str(as_current.value) == str(as_reference.value)
