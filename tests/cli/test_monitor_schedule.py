"""`mlgov monitor run --all` for schedulers (one line per target, JSON Lines, exit 0 / 1 / 3)
and `mlgov monitor performance`'s refusals, through the CLI. The outcomes of a run are the
core's (monkeypatched here: the checks themselves are tested in tests/api/)."""

from __future__ import annotations

import json

import pytest

OK = {"model": "credit", "version": "3", "status": "checked", "rows": 600, "health": "ok"}
BREACH = {**OK, "health": "breach", "previous_health": "ok", "actions": ["notify"]}
FEW = {"model": "credit", "version": "3", "status": "insufficient data", "rows": 40,
       "min_rows": 500, "health": "ok"}  # fmt: skip
DOWN = {"model": "credit", "version": "3", "error": "log share down", "unavailable": True}
BROKEN = {"model": "credit", "version": "3", "error": "no reference", "unavailable": False}


def _run(checked, failed):
    lines = [{"target": "scoring", **c} for c in checked]
    lines += [{"target": "scoring", **f, "status": "failed"} for f in failed]
    return {"checked": checked, "failed": failed, "targets": lines}


@pytest.mark.parametrize(
    "outcome, code",
    [
        (_run([OK], []), 0),
        (_run([FEW], []), 0),  # no verdict is not a failure
        (_run([BREACH], []), 1),
        (_run([], [DOWN]), 3),
        (_run([], [BROKEN]), 1),
    ],
)
def test_all_prints_one_json_line_per_target_and_exits_by_the_worst(
    mlgov, monkeypatch, outcome, code
):
    from mlgov.governance import health

    monkeypatch.setattr(health, "monitor_run", lambda gov, actor, model=None: outcome)
    result = mlgov("monitor", "run", "--all", "--format", "json", user="u_eng")
    assert result.exit_code == code, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert lines == outcome["targets"]
    table = mlgov("monitor", "run", "--all", user="u_eng")
    assert table.exit_code == code
    assert len(table.output.splitlines()) == 2 and "scoring" in table.output


def test_all_refuses_a_model(mlgov):
    result = mlgov("monitor", "run", "--all", "--model", "credit", user="u_eng")
    assert result.exit_code == 2 and "leave out --model" in result.output


def test_performance_bad_input_is_one_line(mlgov, tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("prediction_id,label\na:0,1\n")
    for args, code in [
        (["scoring", "--labels", str(tmp_path / "none.csv")], 2),
        (["scoring", "--labels", str(tmp_path / "labels.txt")], 2),
        (["nowhere", "--labels", str(labels)], None),
        (["scoring", "--labels", str(labels), "--task", "ranking"], 2),
    ]:
        result = mlgov("monitor", "performance", *args, user="u_eng")
        assert result.exit_code == (code or result.exit_code) and result.exit_code != 0
        assert "Traceback" not in result.output and "error" in result.output
    assert "--labels" in mlgov("monitor", "performance", "--help").output
