"""Crash safety, the issue's acceptance: promote, approve, deploy and retire (and rollback and
undeploy) SIGKILLed at every named crash point and at random moments, then `reconcile`:
0 half-applied moves, the chain valid, MLflow equal to governance, no target serving without
its deployment row. The suite runs 12 per transition (each named point twice, 4 random kills:
about 2 minutes on 2 cores); benchmarks/crash.py is the same drill, run with 200+ per
transition, where the random kills find what the named points miss.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

DRILL = Path(__file__).resolve().parents[2] / "benchmarks" / "crash.py"
PER_TRANSITION = 12


def _drill_module():
    spec = importlib.util.spec_from_file_location("mlgov_crash_drill", DRILL)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(1500)
def test_killed_moves_are_whole_after_reconcile(tmp_path):
    drill = _drill_module()
    report = drill.run_drill(
        tmp_path / "home",
        per_transition=PER_TRANSITION,
        seed=20261123,
        progress=lambda msg: print(msg, flush=True),
    )
    print(report.summary())
    assert report.problems == [], report.summary()
    kills = report.kills
    for kind in drill.KINDS:
        tried = sum(n for k, n in kills.items() if k.startswith(kind + "@"))
        tried += report.finished[kind]
        assert tried == PER_TRANSITION, report.summary()
        for point in ("after-side-effect", "before-commit", "mid-audit-append", "after-commit"):
            assert kills[f"{kind}@{point}"] == 2, report.summary()
        assert kills[f"{kind}@random"] > 0, report.summary()
    # Crashes before the commit leave operations only reconcile can settle.
    assert report.operations["completed"] + report.operations["aborted"] >= 4 * len(drill.KINDS)
    assert report.findings == 0
    assert report.inspection["serving_targets"] > 0
