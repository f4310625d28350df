"""Per-operation cost of the MLflow registry adapter on the embedded SQLite store.

Registers N versions (default 500) of one model through MlflowRegistry.register and N through
plain MlflowClient.create_model_version, then times mirror / fingerprint / state on the full
model. Prints one table of medians (ms) and the number of MLflow calls each operation makes.

    python benchmarks/registry_adapter.py [--versions 500] [--samples 50]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

# The toy-model helpers are test code, kept out of the shipped package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def _timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def _count_calls(client: Any) -> Counter:
    """Count the public calls on an MlflowClient and on the registry client it caches (which
    the adapter uses for tag/alias writes). A client call that delegates counts once."""
    counts: Counter = Counter()
    depth = [0]

    def wrap(target: Any) -> None:
        for name in dir(type(target)):
            if name.startswith("_") or not callable(getattr(target, name)):
                continue

            def wrapper(*args: Any, __m: Any = getattr(target, name), __n: str = name, **kw: Any):
                if depth[0] == 0:
                    counts[__n] += 1
                depth[0] += 1
                try:
                    return __m(*args, **kw)
                finally:
                    depth[0] -= 1

            setattr(target, name, wrapper)

    wrap(client._get_registry_client())
    wrap(client)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=500)
    parser.add_argument("--samples", type=int, default=50)
    args = parser.parse_args()

    from support.toy_models import log_toy_model

    from mlgov.registry.mlflow_registry import MlflowRegistry

    with tempfile.TemporaryDirectory(prefix="mlgov-bench-") as tmp:
        uri = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        run_id, model_uri = log_toy_model(uri, artifact_location=str(Path(tmp) / "artifacts"))
        registry = MlflowRegistry(uri, artifact_location=str(Path(tmp) / "artifacts"))
        client = registry.client
        folder = client.get_logged_model(model_uri.removeprefix("models:/")).artifact_location

        rows: dict[str, list[float]] = {}
        calls: dict[str, float] = {}

        client.create_registered_model("plain")
        rows["plain create_model_version"] = [
            _timed(lambda: client.create_model_version("plain", folder, run_id=run_id))
            for _ in range(args.versions)
        ]

        rows["register (run id)"] = [
            _timed(lambda: registry.register("bench", run_id=run_id)) for _ in range(args.versions)
        ]
        n = args.versions
        versions = [str(v) for v in range(1, n + 1)]
        picks = [versions[(i * 7919) % n] for i in range(args.samples)]

        def move(v: str, stage: str) -> Callable[[], Any]:
            tags = {"mlgov.stage": stage, "mlgov.health": "ok", "mlgov.risk_tier": "high"}
            return lambda: registry.mirror("bench", v, tags=tags, set_aliases=["challenger"])

        rows["mirror (3 tags + 1 alias)"] = [_timed(move(v, "train")) for v in picks]
        rows["mirror (already set: 0 writes)"] = [_timed(move(v, "train")) for v in picks]
        rows["plain set_model_version_tag"] = [
            _timed(lambda v=v: client.set_model_version_tag("plain", v, "k", "x")) for v in picks
        ]
        rows["plain set_registered_model_alias"] = [
            _timed(lambda v=v: client.set_registered_model_alias("plain", "a", v)) for v in picks
        ]
        registry_client = client._get_registry_client()
        rows["store set_model_version_tag (no prompt check)"] = [
            _timed(lambda v=v: registry_client.set_model_version_tag("plain", v, "k", "y"))
            for v in picks
        ]
        rows["fingerprint"] = [_timed(lambda v=v: registry.fingerprint("bench", v)) for v in picks]
        rows[f"state ({args.versions} versions)"] = [
            _timed(lambda: registry.state("bench")) for _ in range(max(5, args.samples // 5))
        ]

        counted = MlflowRegistry(uri)
        counts = _count_calls(counted.client)
        counted.register("bench", run_id=run_id)
        calls["register (run id)"] = sum(counts.values())
        fresh = {"mlgov.stage": "deploy", "mlgov.health": "warning", "mlgov.approved_by": "rita"}
        counts.clear()
        counted.mirror("bench", "3", tags=fresh, set_aliases=["champion"])
        calls["mirror (3 tags + 1 alias)"] = sum(counts.values())
        counts.clear()
        counted.mirror("bench", "3", tags=fresh, set_aliases=["champion"])
        calls["mirror (already set: 0 writes)"] = sum(counts.values())
        counts.clear()
        counted.fingerprint("bench", "3")
        calls["fingerprint"] = sum(counts.values())
        counts.clear()
        counted.state("bench")
        calls[f"state ({args.versions} versions)"] = sum(counts.values())

    print(f"MLflow SQLite store, {args.versions} versions per model; medians over samples")
    print(f"{'operation':<48} {'median ms':>10} {'p90 ms':>8} {'n':>5} {'calls':>6}")
    for name, values in rows.items():
        p90 = statistics.quantiles(values, n=10)[-1] if len(values) >= 10 else max(values)
        shown = f"{calls[name]:.0f}" if name in calls else ("1" if "plain" in name else "")
        median = statistics.median(values)
        print(f"{name:<48} {median:>10.1f} {p90:>8.1f} {len(values):>5} {shown:>6}")


if __name__ == "__main__":
    main()
