"""A long schemathesis run against the governance server's authenticated API.

    python benchmarks/api_fuzz.py [--examples 300] [--out FILE]

Runs the CI suite tests/server/test_schema_fuzz.py (every operation of /api/v1/openapi.json,
an admin's and a risk officer's token in turn, in-process over a real SQLite home, checks: no
5xx, documented status and content type, body and headers as the document says) with
`--examples` per operation and generation mode instead of CI's 14, then prints a markdown
table of what was generated and answered. Exit 1 if the suite failed or generated fewer
than 20,000 cases. Run it from the repository root, against the installed package
(`make install` first).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "tests" / "server" / "test_schema_fuzz.py"
GOAL = 20_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=300, help="per operation and mode")
    parser.add_argument("--out", type=Path, help="also write the summary as JSON here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlgov-api-fuzz-") as work:
        report = Path(work) / "summary.json"
        env = os.environ | {
            "MLGOV_FUZZ_EXAMPLES": str(args.examples),
            "MLGOV_FUZZ_REPORT": str(report),
        }
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", str(SUITE)],
            cwd=work,  # outside the source tree: `mlgov` is the installed package
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.monotonic() - started
        if not report.exists():
            print(done.stdout[-4000:] + done.stderr[-4000:])
            return 1
        summary = json.loads(report.read_text()) | {
            "wall_seconds": round(wall, 1),
            "suite_exit_code": done.returncode,
        }
    statuses = ", ".join(f"{k}: {v:,}" for k, v in summary["statuses"].items())
    server_errors = sum(v for k, v in summary["statuses"].items() if int(k) >= 500)
    print(
        "| examples per mode | operations | cases | seconds (requests / wall) | answers | 5xx "
        "| suite |"
    )
    print("|---:|---:|---:|---|---|---:|---|")
    print(
        f"| {summary['examples_per_mode']} | {summary['operations']} | {summary['cases']:,} "
        f"| {summary['request_seconds']} / {summary['wall_seconds']} | {statuses} "
        f"| {server_errors} | {'passed' if done.returncode == 0 else 'FAILED'} |"
    )
    if done.returncode != 0:
        print(done.stdout[-6000:])
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2))
    return 0 if done.returncode == 0 and summary["cases"] >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
