"""Drift benchmark: mlgov's drift engines against Evidently's Report run directly.

Synthetic, seeded data: 23 mixed columns (15 numerical, 8 categorical), reference and current
of N rows each, current shifted in a few columns. Every measurement runs in a fresh subprocess
of the same shape: import the libraries, then time one engine on the two files and read the
process's peak RSS. Runs of the engines are interleaved and repeated; the table shows the
median wall time and the largest peak.

    python benchmarks/drift.py                       # 10k and 100k rows, 3 repeats
    python benchmarks/drift.py --sizes 10000,100000,1000000 --repeat 1

To add an engine, add a function to ENGINES: (reference path, current path, column kinds) ->
(drift_detected, drifted column names). Every engine must reach the same decision.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

N_NUMERICAL = 15
N_CATEGORICAL = 8
SHIFTED = ("num_00", "num_07", "cat_02")

Decision = tuple[bool, list[str]]
EngineFn = Callable[[Path, Path, dict[str, str]], Decision]


def _evidently_report(reference: Path, current: Path, kinds: dict[str, str]) -> Decision:
    """Evidently alone: read the files, run the DataDriftPreset, read its verdicts."""
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(
        numerical_columns=[c for c, k in kinds.items() if k == "numerical"],
        categorical_columns=[c for c, k in kinds.items() if k == "categorical"],
    )
    ref = Dataset.from_pandas(pd.read_parquet(reference), data_definition=definition)
    cur = Dataset.from_pandas(pd.read_parquet(current), data_definition=definition)
    snapshot = Report([DataDriftPreset()], include_tests=True).run(cur, ref)
    report = snapshot.dict()
    status = {t["metric_config"]["metric_id"]: t["status"] for t in report["tests"]}
    drifted, detected = [], False
    for metric in report["metrics"]:
        if metric["config"]["type"].endswith("ValueDrift"):
            if status[metric["id"]] == "FAIL":
                drifted.append(metric["config"]["column"])
        elif metric["config"]["type"].endswith("DriftedColumnsCount"):
            detected = status[metric["id"]] == "FAIL"
    return detected, drifted


def _mlgov_evidently(reference: Path, current: Path, kinds: dict[str, str]) -> Decision:
    from mlgov.governance.drift import DriftSpec
    from mlgov.monitoring.evidently_engine import EvidentlyDriftChecker

    result = EvidentlyDriftChecker().check(reference, current, DriftSpec(column_kinds=kinds))
    return result.drift_detected, list(result.drifted_columns)


ENGINES: dict[str, EngineFn] = {
    "evidently Report": _evidently_report,
    "mlgov evidently": _mlgov_evidently,
}
# The libraries every run imports before the clock starts (same process shape for all).
PRELOAD = ("pandas", "pyarrow.parquet", "evidently", "evidently.presets")


def make_data(rows: int, folder: Path, seed: int = 42) -> tuple[Path, Path, dict[str, str]]:
    import numpy as np
    import pandas as pd

    def frame(rng: np.random.Generator, shifted: bool) -> pd.DataFrame:
        columns = {}
        for i in range(N_NUMERICAL):
            name = f"num_{i:02d}"
            shift = 0.5 if shifted and name in SHIFTED else 0.0
            if i % 3 == 0:
                columns[name] = rng.normal(shift, 1.0, rows)
            elif i % 3 == 1:
                columns[name] = rng.lognormal(shift, 0.6, rows)
            else:
                columns[name] = rng.integers(0, 200, rows) + int(shift * 40)
        labels = np.array([f"label_{j}" for j in range(12)])
        for i in range(N_CATEGORICAL):
            name = f"cat_{i:02d}"
            size = 3 + i
            weights = np.linspace(1.0, 2.0, size)
            if shifted and name in SHIFTED:
                weights = weights[::-1]
            columns[name] = rng.choice(labels[:size], rows, p=weights / weights.sum())
        return pd.DataFrame(columns)

    rng = np.random.default_rng(seed)
    reference, current = folder / f"ref_{rows}.parquet", folder / f"cur_{rows}.parquet"
    ref_frame, cur_frame = frame(rng, False), frame(rng, True)
    ref_frame.to_parquet(reference, index=False)
    cur_frame.to_parquet(current, index=False)
    kinds = {c: ("numerical" if c.startswith("num_") else "categorical") for c in ref_frame}
    return reference, current, kinds


def _peak_rss_kib() -> int:
    """This process's peak RSS. VmHWM starts afresh at exec; ru_maxrss would carry over the
    high-water mark of the parent that forked us (the data generator)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def _worker(engine: str, reference: str, current: str, kinds_json: str) -> None:
    """One measurement in this (fresh) process; prints one JSON line."""
    import importlib

    os.environ.setdefault("DO_NOT_TRACK", "true")
    for module in PRELOAD:
        importlib.import_module(module)
    before = _peak_rss_kib()
    start, cpu_start = time.perf_counter(), time.process_time()
    detected, drifted = ENGINES[engine](Path(reference), Path(current), json.loads(kinds_json))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    peak = _peak_rss_kib()
    print(
        json.dumps(
            {
                "wall_s": wall,
                "cpu_s": cpu,
                "peak_mib": peak / 1024,
                "extra_mib": (peak - before) / 1024,
                "drift_detected": detected,
                "drifted": sorted(drifted),
            }
        )
    )


def _measure(engine: str, reference: Path, current: Path, kinds: dict[str, str]) -> dict:
    command = [sys.executable, __file__, "--worker", engine, str(reference), str(current)]
    command.append(json.dumps(kinds))
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated row counts")
    parser.add_argument("--repeat", type=int, default=3, help="runs per engine and size")
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated names")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(*args.worker)
        return 0

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    baseline = engines[0]
    sizes = [int(s) for s in args.sizes.split(",")]
    lines = [
        f"23 columns ({N_NUMERICAL} numerical, {N_CATEGORICAL} categorical), Parquet, "
        f"{os.cpu_count()} cores; median (and min) of {args.repeat} run(s); "
        "peak = max RSS of the run's process, extra = peak minus RSS after imports; "
        "CPU = user+system time of the run "
        "(steadier than wall time when other work shares the machine)",
        "",
        "| rows | engine | wall s | wall vs first | min wall s | min vs first | CPU s "
        "| CPU vs first | peak MiB | extra MiB | drift | drifted columns |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    agree = True
    with tempfile.TemporaryDirectory(prefix="mlgov-drift-bench-") as tmp:
        for rows in sizes:
            reference, current, kinds = make_data(rows, Path(tmp))
            runs: dict[str, list[dict]] = {e: [] for e in engines}
            for _ in range(args.repeat):
                for engine in engines:  # interleaved: machine load hits every engine alike
                    runs[engine].append(_measure(engine, reference, current, kinds))
            base = statistics.median(r["wall_s"] for r in runs[baseline])
            base_cpu = statistics.median(r["cpu_s"] for r in runs[baseline])
            base_min = min(r["wall_s"] for r in runs[baseline])
            decisions = set()
            for engine in engines:
                wall = statistics.median(r["wall_s"] for r in runs[engine])
                cpu = statistics.median(r["cpu_s"] for r in runs[engine])
                fastest = min(r["wall_s"] for r in runs[engine])
                last = runs[engine][-1]
                decisions.add((last["drift_detected"], tuple(last["drifted"])))
                lines.append(
                    f"| {rows:,} | {engine} | {wall:.2f} | {wall / base:.3f} | "
                    f"{fastest:.2f} | {fastest / base_min:.3f} | "
                    f"{cpu:.2f} | {cpu / base_cpu:.3f} | "
                    f"{max(r['peak_mib'] for r in runs[engine]):.0f} | "
                    f"{max(r['extra_mib'] for r in runs[engine]):.0f} | "
                    f"{last['drift_detected']} | {', '.join(last['drifted'])} |"
                )
            agree = agree and len(decisions) == 1
            (Path(tmp) / reference.name).unlink()
            (Path(tmp) / current.name).unlink()
    lines += ["", f"decisions identical across engines: {agree}"]
    print("\n".join(lines))
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
