"""Issue 8 acceptance: `mlgov retire --stale --dry-run` changes nothing, in the governance
database or in the MLflow registry, and a real sweep never runs unconfirmed without a terminal.

`--days 0` makes every version that is not serving stale (the session home's versions are
minutes old), so the sweep has candidates whatever ran before.
"""

from __future__ import annotations

import hashlib
import json

import pytest

pytestmark = pytest.mark.slow


def _state(home) -> dict[str, str]:
    """Digests of the governance and MLflow databases' table dumps and of the registry as
    MLflow's client shows it (versions, tags, aliases, update times)."""

    def digest(lines: list[str]) -> str:
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()

    return {
        "governance.db": digest(home.table_dump("governance.db")),
        "mlflow.db": digest(home.table_dump("mlflow.db")),
        "registry": json.dumps(home.registry_snapshot(), sort_keys=True),
    }


@pytest.fixture(scope="module")
def stale(home) -> list[dict]:
    found = home.json("ada", "retire", "--stale", "--days", "0", "--dry-run")
    assert found, "no stale version: the sweep would have nothing to refuse"
    return found


def test_dry_run_lists_candidates_with_their_rule_and_changes_nothing(home, stale) -> None:
    before = _state(home)
    for fmt in ("table", "json", "csv"):
        result = home.cli("ada", "retire", "--stale", "--days", "0", "--dry-run", "--format", fmt)
        if fmt == "table":
            assert "dry run: nothing changed" in result.stderr
    again = home.json("ada", "retire", "--stale", "--days", "0", "--dry-run")
    assert again == stale
    assert all(row["rule"] == "no_activity" and row["serving"] is False for row in stale)
    assert _state(home) == before
    for row in stale:
        shown = home.json("aud", "models", "show", row["model"], row["version"])
        assert shown["stage"] == row["stage"] != "retire"


def test_without_a_terminal_and_without_yes_it_refuses_with_exit_2(home, stale) -> None:
    before = _state(home)
    result = home.cli("ada", "retire", "--stale", "--days", "0", expect=2)
    assert "--yes" in result.stderr
    assert "Traceback" not in result.output
    assert _state(home) == before
