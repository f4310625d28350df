"""Many users at once over HTTP, at full count: `mlgov server --workers 4` on PostgreSQL,
16 clients x ROUNDS approval races (exactly one quorum each, no duplicate decision, no
self-approval), then two operators deploying to one target at once (one wins, one 409).

    MLGOV_TEST_PG_URL=postgresql+psycopg://... python benchmarks/api_races.py [--rounds 100]

It runs tests/integration/test_rest_races.py (the suite runs it with 4 rounds) and prints the
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
    if not os.environ.get("MLGOV_TEST_PG_URL"):
        print("set MLGOV_TEST_PG_URL (e.g. what .ci/postgres.sh prints)", file=sys.stderr)
        return 2
    code, minutes = run_at_count(
        "tests/integration/test_rest_races.py", {"MLGOV_HTTP_RACE_ROUNDS": str(args.rounds)}
    )
    print("\n| rounds | clients | result | wall time (min) |\n|---|---|---|---|")
    print(f"| {args.rounds} | 16 | {'pass' if code == 0 else 'FAIL'} | {minutes:.1f} |")
    return code


if __name__ == "__main__":
    sys.exit(main())
