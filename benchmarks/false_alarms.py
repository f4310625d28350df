"""Benchmark: how often monitoring raises a false alarm on windows of an unchanged population.

    python benchmarks/false_alarms.py                    # 1,000 windows of 200 and of 2,000 rows
    python benchmarks/false_alarms.py --windows 100      # a quick run

Every window is resampled (with replacement, seeded) from the reference itself, so every
warning or breach is a false alarm. Two references: the demo's German credit holdout (200
rows, 20 columns: Evidently's p-value tests, K-S and chi-square, apply at <= 1,000 reference
rows) and synthetic credit-like data (20,000 rows, 23 columns, from drift_fast.py: distance
tests, normed Wasserstein and Jensen-Shannon). The fast engine decides each window; the
windows are then judged in order, as `monitor run` judges them, under two policies:

- before: every window is judged alone (health_min_rows 1, health_windows_needed/of 1/1);
- after: the given minimum window size and "needed of the last N windows" rule.

"alarming windows" counts windows whose health is warning or breach; "health changes" counts
moves into warning or breach (each one fires the policy's actions: notify, review, suspend).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

SEED = 20261207
HERE = Path(__file__).resolve().parent


def _german_reference():
    import pandas as pd

    frame = pd.read_csv(HERE.parent / "examples" / "credit_scoring" / "data" / "germancredit.csv")
    # The demo's split (examples/credit_scoring/training.py): rows 600-800 are the reference.
    shuffled = frame.sample(frac=1.0, random_state=7).reset_index(drop=True)
    reference = shuffled.iloc[600:800].drop(columns=["creditability"]).reset_index(drop=True)
    kinds = {
        c: ("categorical" if reference[c].dtype == object else "numerical")
        for c in reference.columns
    }
    return reference, kinds


def _synthetic_reference(rows: int):
    import numpy as np

    sys.path.insert(0, str(HERE))
    from drift_fast import KINDS, _chunk

    table = _chunk(np.random.default_rng(SEED), rows, current=False)
    return table.to_pandas(), dict(KINDS)


def _window_shares(reference, kinds, size: int, windows: int, seed: int) -> list[float]:
    import numpy as np

    from mlgov.governance.drift import DriftSpec
    from mlgov.monitoring.fast_engine import compute_drift

    rng = np.random.default_rng(seed)
    spec = DriftSpec(column_kinds=kinds)
    ref_columns = {c: reference[c].to_numpy() for c in kinds}
    shares = []
    for _ in range(windows):
        take = rng.integers(0, len(reference), size)
        window = {c: values[take] for c, values in ref_columns.items()}
        shares.append(compute_drift(ref_columns, window, spec).drifted_share)
    return shares


def _judge(shares: list[float], size: int, *, min_rows: int, needed: int, of: int):
    from mlgov.governance.health import health_for, sustained_health
    from mlgov.governance.lifecycle import Health
    from mlgov.governance.policy import DEFAULT_POLICY

    tier = DEFAULT_POLICY.for_tier("high")  # the three tiers share their drift levels
    if size < min_rows:
        return {"insufficient": len(shares), "warning": 0, "breach": 0, "changes": 0}
    levels: list[Health] = []
    counts = {"insufficient": 0, "warning": 0, "breach": 0, "changes": 0}
    health = Health.OK
    for share in shares:
        levels.append(health_for(share, tier))
        now = sustained_health(levels, needed=needed, of=of)
        if now is not Health.OK:
            counts[now.value] += 1
            if now is not health:
                counts["changes"] += 1
        health = now
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--windows", type=int, default=1000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 2000])
    parser.add_argument("--min-rows", type=int, default=500, help="the 'after' policy's minimum")
    parser.add_argument("--needed", type=int, default=2)
    parser.add_argument("--of", type=int, default=3)
    parser.add_argument("--synthetic-rows", type=int, default=20_000)
    args = parser.parse_args()

    references = {
        "German credit (200 rows, p-value tests)": _german_reference(),
        f"synthetic ({args.synthetic_rows:,} rows, distance tests)": _synthetic_reference(
            args.synthetic_rows
        ),
    }
    after = f"min {args.min_rows} rows, {args.needed} of {args.of}"
    print(
        "| reference | window rows | policy | alarming windows (warning / breach) "
        "| health changes | insufficient data | mean share | s |\n|---|---|---|---|---|---|---|---|"
    )
    for r, (name, (reference, kinds)) in enumerate(references.items()):
        for s, size in enumerate(args.sizes):
            start = time.perf_counter()
            shares = _window_shares(reference, kinds, size, args.windows, SEED + 10 * r + s)
            took = time.perf_counter() - start
            mean = sum(shares) / len(shares)
            for label, rule in (
                ("before (each window alone)", {"min_rows": 1, "needed": 1, "of": 1}),
                (
                    f"after ({after})",
                    {"min_rows": args.min_rows, "needed": args.needed, "of": args.of},
                ),
                (
                    f"{args.needed} of {args.of} only",
                    {"min_rows": 1, "needed": args.needed, "of": args.of},
                ),
            ):
                c = _judge(shares, size, **rule)
                print(
                    f"| {name} | {size:,} | {label} | {c['warning'] + c['breach']} "
                    f"({c['warning']} / {c['breach']}) of {args.windows} | {c['changes']} "
                    f"| {c['insufficient']} | {mean:.3f} | {took:.1f} |"
                )


if __name__ == "__main__":
    main()
