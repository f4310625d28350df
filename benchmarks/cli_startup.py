"""How long `mlgov --help` takes, against a bare `python -c pass` (median of N runs).

Run: python benchmarks/cli_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time


def _median_ms(cmd: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    mlgov = shutil.which("mlgov") or sys.exit("mlgov is not on PATH: install the project first")
    baseline = _median_ms([sys.executable, "-c", "pass"], args.runs)
    help_ms = _median_ms([mlgov, "--help"], args.runs)
    print(f"| command | median wall time (ms), {args.runs} runs |")
    print("|---|---|")
    print(f"| python -c pass | {baseline:.0f} |")
    print(f"| mlgov --help | {help_ms:.0f} |")
    print(f"| mlgov's own cost | {help_ms - baseline:.0f} |")


if __name__ == "__main__":
    main()
