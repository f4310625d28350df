"""Benchmark: the fast exact drift engine against Evidently's Report, same data, same decision.

    python benchmarks/drift_fast.py                       # 10k, 100k, 1M (both) and 10M (fast)
    python benchmarks/drift_fast.py --sizes 10000 --big 0 # a quick run

Synthetic credit-like data, 23 mixed columns (15 numerical, 8 categorical), seeded; the current
side shifts a few columns. Each side is written once to Parquet in a temporary directory, in
1M-row row groups. Every measurement runs in a fresh subprocess of the same shape: import the
engine, then time reading both files and deciding; peak memory is the child's peak RSS, and
"extra" is that peak minus the RSS right after the imports. The table compares each column's
test, score (max absolute difference) and verdict, the drifted share and `drift_detected`.
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

SEED = 20240601
CHUNK_ROWS = 1_000_000

NUMERICAL = [
    "income", "age", "balance", "score", "utilisation", "rate", "days_past_due", "has_default",
    "tenure_months", "credit_limit", "transactions", "debt_ratio", "feature_a", "feature_b",
    "feature_c",
]  # fmt: skip
CATEGORICAL = [
    "grade", "state", "purpose", "home", "term", "channel", "segment", "employment",
]  # fmt: skip
KINDS = {**{c: "numerical" for c in NUMERICAL}, **{c: "categorical" for c in CATEGORICAL}}


def _chunk(rng, n: int, current: bool):
    """One block of rows as a pyarrow Table."""
    import numpy as np
    import pyarrow as pa

    shift = 1.0 if current else 0.0
    balance = rng.normal(5000 + 400 * shift, 2000, n)
    balance[rng.random(n) < 0.05] = np.nan
    purpose = rng.choice([f"p{i}" for i in range(10)], n).astype(object)
    purpose[rng.random(n) < 0.02] = None
    grades = list("ABCDEFG")
    grade_p = np.array([0.1, 0.2, 0.25, 0.2, 0.12, 0.08, 0.05])
    if current:
        grade_p = np.array([0.06, 0.16, 0.25, 0.22, 0.15, 0.1, 0.06])
    columns = {
        "income": rng.lognormal(10.5 + 0.15 * shift, 0.6, n),
        "age": rng.integers(18, 90, n),
        "balance": balance,
        "score": np.round(rng.normal(650, 80, n), 1),
        "utilisation": rng.uniform(0, 1, n),
        "rate": np.round(rng.uniform(0.03, 0.3, n), 2),
        "days_past_due": rng.choice(5, n, p=[0.8, 0.1, 0.05, 0.03, 0.02]),
        "has_default": (rng.random(n) < 0.05 + 0.02 * shift).astype(np.int64),
        "tenure_months": rng.integers(0, 361, n),
        "credit_limit": np.round(rng.lognormal(9, 0.5, n), -2),
        "transactions": rng.poisson(30, n),
        "debt_ratio": rng.beta(2, 5, n),
        "feature_a": rng.normal(0, 1, n),
        "feature_b": rng.normal(0.02 * shift, 1, n),
        "feature_c": rng.standard_t(5, n),
        "grade": rng.choice(grades, n, p=grade_p),
        "state": rng.choice([f"S{i:02d}" for i in range(50)], n),
        "purpose": purpose,
        "home": rng.choice(["rent", "own", "mortgage", "other"], n, p=[0.4, 0.2, 0.35, 0.05]),
        "term": rng.choice([36, 60], n, p=[0.7, 0.3]),
        "channel": rng.choice(["web", "branch", "partner"], n),
        "segment": rng.choice([f"seg{i}" for i in range(20)], n),
        "employment": rng.choice([f"{i} years" for i in range(11)], n),
    }
    return pa.table(columns)


def write_side(path: Path, rows: int, current: bool) -> None:
    import numpy as np
    import pyarrow.parquet as pq

    writer = None
    try:
        for index, start in enumerate(range(0, rows, CHUNK_ROWS)):
            rng = np.random.default_rng([SEED, rows, int(current), index])
            table = _chunk(rng, min(CHUNK_ROWS, rows - start), current)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table, row_group_size=CHUNK_ROWS)
    finally:
        if writer is not None:
            writer.close()


# ------------------------------------------------------------------------------ children


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _rss_mib() -> float:
    return _status_mib("VmRSS")


def _peak_mib() -> float:
    # VmHWM belongs to this process image; ru_maxrss would carry the parent's peak across
    # fork+exec and report the data generator's memory instead of the engine's.
    return _status_mib("VmHWM")


def child_fast(reference: Path, current: Path) -> dict:
    # what the engine itself pulls in, so "extra" measures the work, not the imports
    import numpy  # noqa: F401
    import pyarrow.parquet  # noqa: F401
    import scipy.spatial.distance  # noqa: F401
    import scipy.stats  # noqa: F401

    from mlgov.governance.drift import DriftSpec
    from mlgov.monitoring.fast_engine import FastDriftChecker

    baseline = _rss_mib()
    start = time.perf_counter()
    result = FastDriftChecker().check(reference, current, DriftSpec(column_kinds=KINDS))
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "baseline_mib": baseline,
        "peak_mib": _peak_mib(),
        "share": result.drifted_share,
        "drift_detected": result.drift_detected,
        "columns": {c.column: [c.test, c.score, c.drifted] for c in result.columns},
    }


def child_evidently(reference: Path, current: Path) -> dict:
    import warnings

    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    from mlgov.monitoring.stattests import DISPLAY_NAMES

    baseline = _rss_mib()
    start = time.perf_counter()
    ref = pd.read_parquet(reference)
    cur = pd.read_parquet(current)
    definition = DataDefinition(numerical_columns=NUMERICAL, categorical_columns=CATEGORICAL)
    report = Report([DataDriftPreset(columns=list(KINDS))], include_tests=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snapshot = report.run(
            Dataset.from_pandas(cur, data_definition=definition),
            Dataset.from_pandas(ref, data_definition=definition),
        )
    data = snapshot.dict()
    seconds = time.perf_counter() - start
    status = {t["metric_config"]["metric_id"]: t["status"] for t in data["tests"]}
    columns, share, detected = {}, None, None
    for metric in data["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            test = DISPLAY_NAMES.get(config["method"], config["method"])
            drifted = status[metric["id"]] == "FAIL"
            columns[config["column"]] = [test, float(metric["value"]), drifted]
        elif config["type"].endswith("DriftedColumnsCount"):
            share = float(metric["value"]["share"])
            detected = status[metric["id"]] == "FAIL"
    return {
        "seconds": seconds,
        "baseline_mib": baseline,
        "peak_mib": _peak_mib(),
        "share": share,
        "drift_detected": detected,
        "columns": columns,
    }


def run_child(engine: str, reference: Path, current: Path) -> dict:
    env = {
        **os.environ,
        "DO_NOT_TRACK": "true",
        "ITERATIVE_DO_NOT_TRACK": "true",
        "PYTHONWARNINGS": "ignore",
    }
    out = subprocess.run(
        [sys.executable, __file__, "--child", engine, str(reference), str(current)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{engine} child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------ table


def compare(fast: dict, evidently: dict) -> str:
    same_tests = all(fast["columns"][c][0] == evidently["columns"][c][0] for c in KINDS)
    same_flags = all(fast["columns"][c][2] == evidently["columns"][c][2] for c in KINDS)
    diff = max(abs(fast["columns"][c][1] - evidently["columns"][c][1]) for c in KINDS)
    same = (
        same_tests
        and same_flags
        and fast["share"] == evidently["share"]
        and fast["drift_detected"] == evidently["drift_detected"]
    )
    return f"{'yes' if same else 'NO'} (max score diff {diff:.1e})"


def row(rows: int, engine: str, result: dict, identical: str) -> str:
    data_mib = rows * len(KINDS) * 8 / 2**20
    extra = result["peak_mib"] - result["baseline_mib"]
    return (
        f"| {rows:,} | {engine} | {result['seconds']:.2f} | {result['peak_mib']:.0f} | "
        f"{extra:.0f} | {data_mib:.0f} | {result['share']:.3f} / "
        f"{'drift' if result['drift_detected'] else 'no drift'} | {identical} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--big", type=int, default=10_000_000, help="fast engine only; 0 skips")
    parser.add_argument("--child", nargs=3, metavar=("ENGINE", "REF", "CUR"))
    args = parser.parse_args()
    if args.child:
        engine, reference, current = args.child
        runner = child_fast if engine == "fast" else child_evidently
        print(json.dumps(runner(Path(reference), Path(current))))
        return

    lines = [
        f"{len(KINDS)} columns ({len(NUMERICAL)} numerical, {len(CATEGORICAL)} categorical), "
        f"seed {SEED}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs",
        "",
        "| rows per side | engine | wall s | peak RSS MiB | extra MiB | data as float64 MiB "
        "| share / decision | identical to Evidently |",
        "|---:|---|---:|---:|---:|---:|---|---|",
    ]
    with tempfile.TemporaryDirectory(prefix="mlgov-drift-bench-") as tmp:
        sizes = [int(s) for s in args.sizes.split(",") if s]
        for rows in sizes + ([args.big] if args.big else []):
            reference, current = Path(tmp, f"ref_{rows}.parquet"), Path(tmp, f"cur_{rows}.parquet")
            write_side(reference, rows, current=False)
            write_side(current, rows, current=True)
            fast = run_child("fast", reference, current)
            if rows in sizes:
                evidently = run_child("evidently", reference, current)
                identical = compare(fast, evidently)
                lines.append(row(rows, "fast", fast, identical))
                lines.append(row(rows, "evidently", evidently, "(reference)"))
                speedup = evidently["seconds"] / fast["seconds"]
                lines.append(f"| | | **{speedup:.0f}x** faster | | | | | |")
            else:
                lines.append(row(rows, "fast", fast, "(not run: Evidently alone)"))
            reference.unlink()
            current.unlink()
            print(lines[-1], file=sys.stderr, flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
