"""Races on the governance core at full count: 16 processes x ROUNDS rounds on promote and on
approve (exactly one winner per round, clean refusals, no self-approval, chain valid), on
SQLite and, with MLGOV_TEST_PG_URL set, on PostgreSQL.

    [MLGOV_TEST_PG_URL=postgresql+psycopg://...] python benchmarks/core_races.py [--rounds 100]

It runs tests/governance/test_races.py (the suite runs it with 25 rounds) and prints the
pytest summary with the wall time."""

from __future__ import annotations

import argparse
import os
import sys

from pytest_rounds import run_at_count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    rounds = str(args.rounds)
    code, minutes = run_at_count(
        "tests/governance/test_races.py",
        {"MLGOV_RACE_ROUNDS": rounds, "MLGOV_RACE_PG_ROUNDS": rounds},
    )
    databases = "sqlite + postgresql" if os.environ.get("MLGOV_TEST_PG_URL") else "sqlite"
    print("\n| rounds | processes | databases | result | wall time (min) |\n|---|---|---|---|---|")
    print(
        f"| {args.rounds} | 16 | {databases} | {'pass' if code == 0 else 'FAIL'} | {minutes:.1f} |"
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
