"""Races on the governance core at full count: 16 processes x ROUNDS rounds on promote and on
approve (exactly one winner per round, clean refusals, no self-approval, chain valid), on
SQLite and, with MLGOV_TEST_PG_URL set, on PostgreSQL.

    [MLGOV_TEST_PG_URL=postgresql+psycopg://...] python benchmarks/core_races.py [--rounds 100]

It runs tests/governance/test_races.py (the suite runs it with 25 rounds) and prints the
pytest summary with the wall time."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    env = os.environ | {"MLGOV_RACE_ROUNDS": str(args.rounds)}
    env.pop("MLGOV_RACE_PG_ROUNDS", None)
    # The venv's pytest script, not `python -m pytest`: that would put the checkout's bare
    # mlgov/ folder ahead of the installed package.
    pytest = Path(sys.executable).with_name("pytest")
    started = time.monotonic()
    done = subprocess.run(
        [str(pytest), "-q", "-p", "no:cacheprovider", "--timeout", "0", "--durations", "0"]
        + ["tests/governance/test_races.py"],
        cwd=ROOT,
        env=env,
    )
    minutes = (time.monotonic() - started) / 60
    databases = "sqlite + postgresql" if os.environ.get("MLGOV_TEST_PG_URL") else "sqlite"
    print("\n| rounds | processes | databases | result | wall time (min) |\n|---|---|---|---|---|")
    result = "pass" if done.returncode == 0 else "FAIL"
    print(f"| {args.rounds} | 16 | {databases} | {result} | {minutes:.1f} |")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
