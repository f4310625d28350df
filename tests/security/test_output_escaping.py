"""Issue 16 item 11: stored free text cannot forge a row of the table or CSV output.

Single-line fields refuse control characters at the door (exit 2); multi-line card fields are
kept as written and printed escaped, one line per value; JSON is unchanged.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

FORGED = "x\napproval.state   approved"


@pytest.fixture
def run(tmp_path: Path, monkeypatch, fake_registry):
    """A CLI home with credit/1 (owner dana) in the fake registry."""
    from mlgov import app
    from mlgov.cli.main import cli
    from mlgov.governance.service import Governance
    from mlgov.governance.store import Store

    monkeypatch.delenv("MLGOV_POLICY", raising=False)
    monkeypatch.delenv("MLGOV_DB_URL", raising=False)
    monkeypatch.setattr(app, "build_registry", lambda settings: fake_registry)
    home = tmp_path / "home"

    def invoke(*args: str, user: str = "admin"):
        return CliRunner().invoke(cli, ["--home", str(home), "--user", user, *args])

    assert invoke("init").exit_code == 0
    assert invoke("users", "add", "dana", "--role", "data_scientist").exit_code == 0
    gov = Governance(Store(f"sqlite:///{home / 'governance.db'}"), registry=fake_registry)
    gov.register("dana", "credit", risk_tier="low", purpose="credit scoring", run_id="r1")
    gov.store.engine.dispose()
    return invoke


def test_cli_purpose_with_a_newline_is_refused_and_registers_nothing(run):
    result = run("register", "credit", "--run-id", "r1", "--purpose", FORGED,
                 "--risk-tier", "low", user="dana")  # fmt: skip
    assert result.exit_code == 2
    assert "--purpose" in result.output and "Traceback" not in result.output
    listed = json.loads(run("models", "list", "--format", "json").output)
    assert [v["version"] for v in listed] == ["1"]


def test_multi_line_card_field_cannot_forge_a_row_of_models_show(run):
    assert run("models", "card", "credit", "1", "--set", f"limitations={FORGED}",
               user="dana").exit_code == 0  # fmt: skip
    shown = run("models", "card", "credit", "1", "--show")
    assert shown.exit_code == 0
    lines = shown.output.splitlines()
    assert not any(line.startswith("approval.state") for line in lines)
    assert any("x\\napproval.state   approved" in line for line in lines)


def test_card_field_keeps_its_newline_in_json(run):
    run("models", "card", "credit", "1", "--set", f"limitations={FORGED}", user="dana")
    data = json.loads(run("models", "card", "credit", "1", "--show", "--format", "json").output)
    assert data["fields"]["limitations"] == FORGED


def test_csv_output_is_one_record_per_line_and_neutralises_formulas(run):
    run("models", "card", "credit", "1", "--set", f"limitations={FORGED}",
        "--set", "intended_use==HYPERLINK(\"http://x\")", user="dana")  # fmt: skip
    out = run("models", "card", "credit", "1", "--show", "--format", "csv").output
    rows = list(csv.reader(io.StringIO(out)))
    assert len(rows) == len(out.splitlines())  # no record spans two lines
    values = {r[0]: r[1] for r in rows[1:]}
    limitation = next(v for k, v in values.items() if k.endswith("limitations"))
    assert limitation == "x\\napproval.state   approved"
    use = next(v for k, v in values.items() if k.endswith("intended_use"))
    assert use.startswith("'=")


def test_escape_text_makes_every_control_visible():
    from mlgov.cli.output import escape_text

    assert escape_text("a\tb\r\n\x1b[2J\u202eZ") == "a\\tb\\r\\n\\x1b[2J\\u202eZ"
    assert escape_text("Kreditrisiko – €") == "Kreditrisiko – €"
