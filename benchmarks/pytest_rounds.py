"""Run one test file of the suite at a benchmark's count (the suite runs it smaller)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_at_count(test_file: str, env: dict[str, str]) -> tuple[int, float]:
    """(pytest's exit code, wall time in minutes) of `test_file` with `env` added."""
    # The venv's pytest script, not `python -m pytest`: that would put the checkout's bare
    # mlgov/ folder ahead of the installed package.
    pytest = Path(sys.executable).with_name("pytest")
    started = time.monotonic()
    done = subprocess.run(
        [str(pytest), "-q", "-p", "no:cacheprovider", "--timeout", "0", "--durations", "0"]
        + [test_file],
        cwd=ROOT,
        env=os.environ | env,
    )
    return done.returncode, (time.monotonic() - started) / 60
