"""`mlgov monitor drift` input and output, through the CLI with the real engines.

Issue 16, item 10: a `--current` file that is not UTF-8 text (UTF-16, random bytes) is
refused with exit 2 naming the file, as the reference reader refuses the same files, by both
engines; nothing is recorded. Also found: `--html OUT` replaced an existing file silently;
numpy RuntimeWarnings reached stderr.
"""

from __future__ import annotations

import os
import warnings
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
def reference(home: Path, tmp_path: Path) -> Path:
    """credit/1's recorded reference dataset."""
    path = tmp_path / "reference.csv"
    path.write_text(ROWS)
    args = ["--home", str(home), "--user", "owner", "models", "reference", "credit", "1"]
    recorded = CliRunner().invoke(cli, [*args, str(path)])
    assert recorded.exit_code == 0, recorded.output
    return path


def drift(home: Path, current: Path, engine: str, *more: str):
    args = ["monitor", "drift", "credit", "1", "--current", str(current), "--engine", engine]
    return CliRunner().invoke(cli, ["--home", str(home), "--user", "eng", *args, *more])


@pytest.mark.parametrize("engine", ["fast", "evidently"])
@pytest.mark.parametrize("make", [utf16_csv, random_bytes_csv], ids=["utf16", "random-bytes"])
def test_current_data_that_is_not_utf8_text_is_bad_input_naming_the_file(
    home, reference, tmp_path, engine, make
):
    current = make(tmp_path / "current.csv")
    result = drift(home, current, engine)
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


def test_html_report_never_replaces_a_file_silently(home, reference, tmp_path):
    current = tmp_path / "current.csv"
    current.write_text(ROWS)
    existing = tmp_path / "report.html"
    existing.write_text("the validator's notes")
    result = drift(home, current, "fast", "--html", str(existing))
    assert result.exit_code == 2, result.output
    assert f"--html {existing} already exists" in result.stderr and "--force" in result.stderr
    assert existing.read_text() == "the validator's notes"
    onto_data = drift(home, current, "fast", "--html", str(current), "--force")
    assert onto_data.exit_code == 2 and "is one of the data files" in onto_data.stderr
    assert current.read_text() == ROWS
    forced = drift(home, current, "fast", "--html", str(existing), "--force")
    assert forced.exit_code == 0, forced.output
    assert "<html" in existing.read_text()


def test_numeric_warnings_of_a_check_do_not_reach_stderr(home, reference, tmp_path):
    """Constant and infinite values make numpy warn inside Evidently's statistics."""
    lines = ROWS.splitlines()
    awkward = [lines[0]] + [
        ("inf" if i == 0 else line.split(",")[0]) + ",30" for i, line in enumerate(lines[1:])
    ]
    current = tmp_path / "current.csv"
    current.write_text("\n".join(awkward) + "\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = drift(home, current, "evidently", "--html", str(tmp_path / "r.html"))
    assert result.exit_code == 0, result.output
    assert "RuntimeWarning" not in result.stderr
    assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == []


CATEGORICAL_ROWS = "income,region\n" + "".join(
    f"{40_000 + 37 * i},{'nsew'[i % 4]}\n" for i in range(200)
)


@pytest.mark.parametrize("engine", ["fast", "evidently"])
def test_a_new_category_in_current_data_prints_no_numeric_warning(home, tmp_path, engine):
    """Issue 17, item 6: scipy's "divide by zero" was printed three times by monitor drift."""
    path = tmp_path / "reference.csv"
    path.write_text(CATEGORICAL_ROWS)
    args = ["--home", str(home), "--user", "owner", "models", "reference", "credit", "1"]
    assert CliRunner().invoke(cli, [*args, str(path)]).exit_code == 0
    current = tmp_path / "current.csv"
    current.write_text(CATEGORICAL_ROWS.replace(",w\n", ",x\n"))  # 'x' is new, 'w' is gone
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = drift(home, current, engine, "--html", str(tmp_path / "r.html"))
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.stderr
    assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == []
