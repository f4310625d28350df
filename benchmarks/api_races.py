"""Many users at once over HTTP, at full count: `mlgov server --workers 4` on PostgreSQL,
16 clients x ROUNDS approval races (exactly one quorum each, no duplicate decision, no
self-approval), then two operators deploying to one target at once (one wins, one 409).

    MLGOV_TEST_PG_URL=postgresql+psycopg://... python benchmarks/api_races.py [--rounds 100]

It runs tests/integration/test_rest_races.py (the suite runs it with 4 rounds) and prints the
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
    if not os.environ.get("MLGOV_TEST_PG_URL"):
        print("set MLGOV_TEST_PG_URL (e.g. what .ci/postgres.sh prints)", file=sys.stderr)
        return 2
    env = os.environ | {"MLGOV_HTTP_RACE_ROUNDS": str(args.rounds)}
    started = time.monotonic()
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("pytest")),
            "-q",
            "-p",
            "no:cacheprovider",
            "--timeout",
            "0",
        ]
        + ["tests/integration/test_rest_races.py"],
        cwd=ROOT,
        env=env,
    )
    minutes = (time.monotonic() - started) / 60
    print("\n| rounds | clients | result | wall time (min) |\n|---|---|---|---|")
    print(f"| {args.rounds} | 16 | {'pass' if done.returncode == 0 else 'FAIL'} | {minutes:.1f} |")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
