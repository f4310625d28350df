"""Governed registry operations at scale: N versions through mlgov's service API.

Embedded mode (SQLite governance database and SQLite MLflow store in a temporary MLGOV_HOME).
Each version comes from its own MLflow run with its own logged model (a copy of one toy
scikit-learn model), as in real use. Times, per operation:

- register (run id)          Governance.register: MLflow version + lineage + fingerprint + mirror
- plain create_model_version MlflowClient.create_model_version on the same store, same sources
- card / reference           the evidence the train gate needs, recorded once per version
- promote develop -> train   the train gate (card, run, metrics, reference) and the mirror
- reconcile                  one run over every version, with and without re-hashing artifacts

and counts the MLflow client calls of one governed operation of each kind (by wrapping the
registry's MlflowClient; calls MLflow makes internally are not counted). Prints a markdown table.

    python benchmarks/registry.py [--versions 500] [--promote N]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# The toy-model helpers are test code, kept out of the shipped package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

# run as a script: benchmarks/ is on sys.path, so the sibling's call counter is shared
from registry_adapter import _count_calls

CARD = {
    "intended_use": "benchmark",
    "limitations": "none measured",
    "training_data": "breast cancer (sklearn)",
    "evaluation_data": "holdout",
    "owner_contact": "ds@bank.example",
}
POLICY = '[tiers.medium.required_metrics]\nroc_auc = ">= 0.7"\n'
RECONCILE_RUNS = (
    ("reconcile (all versions), re-hashing artifacts", True),
    ("reconcile (all versions), tags and aliases only", False),
)


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return (time.perf_counter() - started) * 1000, result


def _runs_with_logged_models(client: Any, tracking_uri: str, artifacts: Path, n: int) -> list:
    """n finished runs, each with roc_auc logged and its own READY logged model (toy files)."""
    from mlflow.artifacts import download_artifacts
    from support.toy_models import log_toy_model

    run_id, model_uri = log_toy_model(tracking_uri, artifact_location=str(artifacts))
    experiment_id = client.get_run(run_id).info.experiment_id
    source = client.get_logged_model(model_uri.removeprefix("models:/")).artifact_location
    files = download_artifacts(
        artifact_uri=source, dst_path=str(artifacts.parent / "toy"), tracking_uri=tracking_uri
    )
    runs = []
    for _ in range(n):
        run = client.create_run(experiment_id).info.run_id
        client.log_metric(run, "roc_auc", 0.93)
        logged = client.create_logged_model(experiment_id, name="model", source_run_id=run)
        client.log_model_artifacts(logged.model_id, files)
        client.finalize_logged_model(logged.model_id, "READY")
        client.set_terminated(run)
        runs.append((run, client.get_logged_model(logged.model_id).artifact_location))
    return runs


def _row(name: str, values: list[float], calls: Any = "") -> str:
    median = statistics.median(values)
    p90 = statistics.quantiles(values, n=10)[-1] if len(values) >= 10 else max(values)
    return f"| {name} | {len(values)} | {median:.1f} | {p90:.1f} | {calls} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=500)
    parser.add_argument("--promote", type=int, help="versions to promote (default: all)")
    args = parser.parse_args()
    n = args.versions
    n_promote = min(args.promote or n, n)

    from support.toy_models import breast_cancer_frames

    from mlgov.app import open_governance
    from mlgov.config import load_settings
    from mlgov.governance.cards import set_card
    from mlgov.governance.reconcile import reconcile
    from mlgov.governance.references import record_reference

    with tempfile.TemporaryDirectory(prefix="mlgov-bench-") as tmp:
        root = Path(tmp)
        policy = root / "policy.toml"
        policy.write_text(POLICY)
        for var in ("MLGOV_DB_URL", "MLFLOW_TRACKING_URI"):
            os.environ.pop(var, None)
        settings = load_settings(user="admin", home=str(root / "home"))
        gov = open_governance(settings, initializing=True)
        gov.init("admin")
        gov.set_policy("admin", policy.read_text(), source=str(policy))
        gov.add_user("admin", "ds", ["data_scientist"])
        reference = root / "reference.csv"
        holdout = breast_cancer_frames()[1]
        holdout.to_csv(reference, index=False)
        ref_label = f"reference ({len(holdout)} rows x {holdout.shape[1]} columns)"

        registry = gov.registry
        client = registry.client
        t0 = time.perf_counter()
        runs = _runs_with_logged_models(client, settings.tracking_uri, settings.artifact_root, n)
        prepare_s = time.perf_counter() - t0

        rows: dict[str, list[float]] = {}
        calls: dict[str, int] = {}

        def timed(name: str, action: Callable[[], Any]) -> Any:
            ms, result = _timed(action)
            rows.setdefault(name, []).append(ms)
            return result

        client.create_registered_model("plain")
        for run_id, location in runs:
            timed(
                "plain MLflow create_model_version",
                lambda r=run_id, loc=location: client.create_model_version("plain", loc, run_id=r),
            )
        versions = []
        for run_id, _ in runs:
            result = timed(
                "register (run id)",
                lambda r=run_id: gov.register(
                    "ds", "bench", run_id=r, risk_tier="medium", purpose="benchmark"
                ),
            )
            versions.append(result["version"])
        for v in versions[:n_promote]:
            timed("card (5 fields)", lambda v=v: set_card(gov, "ds", "bench", v, CARD))
            timed(ref_label, lambda v=v: record_reference(gov, "ds", "bench", v, reference))
        for v in versions[:n_promote]:
            timed("promote develop -> train", lambda v=v: gov.promote("ds", "bench", v, "train"))
        # Reconcile compares the whole registry: the plain model would be 500 findings.
        client.delete_registered_model("plain")
        for label, rehash in RECONCILE_RUNS:
            report = timed(label, lambda h=rehash: reconcile(gov, "admin", check_artifacts=h))
            assert report["findings"] == [], report["findings"][:3]

        # MLflow calls of one more governed operation of each kind (counting adds overhead,
        # so it is kept out of the timings above).
        counts = _count_calls(client)
        extra_run, _ = _runs_with_logged_models(
            client, settings.tracking_uri, settings.artifact_root, 1
        )[0]
        counts.clear()
        v = gov.register("ds", "bench", run_id=extra_run, risk_tier="medium", purpose="benchmark")[
            "version"
        ]
        calls["register (run id)"] = sum(counts.values())
        for name, action in (
            ("card (5 fields)", lambda: set_card(gov, "ds", "bench", v, CARD)),
            (ref_label, lambda: record_reference(gov, "ds", "bench", v, reference)),
            ("promote develop -> train", lambda: gov.promote("ds", "bench", v, "train")),
            *(
                (label, lambda h=rehash: reconcile(gov, "admin", check_artifacts=h))
                for label, rehash in RECONCILE_RUNS
            ),
        ):
            counts.clear()
            action()
            calls[name] = sum(counts.values())
        calls["plain MLflow create_model_version"] = 1
        gov.store.engine.dispose()

    print(
        f"mlgov governed registry, embedded SQLite stores, {n} versions of one model "
        f"({n_promote} promoted); Python {platform.python_version()}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
        f"preparing {n} runs with logged models took {prepare_s:.0f} s"
    )
    print()
    print("| operation | n | median ms | p90 ms | MLflow calls |")
    print("|---|---:|---:|---:|---:|")
    for name, values in rows.items():
        print(_row(name, values, calls.get(name, "")))


if __name__ == "__main__":
    main()
