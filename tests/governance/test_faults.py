"""Fault points are armed only by a test harness, never by the environment (issue 17, item 4)."""

from __future__ import annotations

import pytest

from mlgov.governance import faults


def test_the_environment_cannot_arm_a_fault_point(monkeypatch):
    monkeypatch.setenv("MLGOV_FAULT", "before-commit")
    monkeypatch.setenv("MLGOV_FAULT_MODE", "kill")
    faults.fault_point("before-commit")  # returns: a production process is never failed


def test_an_armed_point_raises_there_and_only_there():
    faults.arm("before-commit")
    faults.fault_point("after-side-effect")
    with pytest.raises(faults.InjectedFault, match="before-commit"):
        faults.fault_point("before-commit")
    faults.disarm()
    faults.fault_point("before-commit")


def test_an_unknown_point_is_refused():
    with pytest.raises(ValueError, match="unknown fault point"):
        faults.arm("after-lunch")
