"""How many times one `deploy` reads (hashes) a large model's artifacts, and what it costs.

    python benchmarks/deploy_hashing.py [--megabytes 500] [--home DIR] [--format json]

Real parts: the embedded governance database (SQLite), a real MLflow store with a logged
sklearn model whose folder also holds one file of `--megabytes` random bytes (a large model),
the real gates (approval binding re-hashes the artifacts to prove they are the approved ones).
The deployer is the crash drill's (real manifests and status files, no BentoML import or
build): the BentoML copy is a separate cost, the same before and after.

Counts the calls that reach MlflowRegistry.fingerprint during one deploy and times the deploy.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crash import ADMIN, CARD, FOREIGN_ENV, TEAM, _drill_deployer  # noqa: E402


def _large_model(home: Path, tracking_uri: str, megabytes: int) -> tuple[str, Path]:
    import mlflow
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True, as_frame=True)
    x.columns = [c.replace(" (cm)", "").replace(" ", "_") for c in x.columns]
    reference = home / "reference.csv"
    x.to_csv(reference, index=False)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("deploy-hashing")
    with mlflow.start_run() as run:
        fitted = LogisticRegression(max_iter=300).fit(x, y)
        signature = mlflow.models.infer_signature(x, fitted.predict(x))
        info = mlflow.sklearn.log_model(
            fitted, name="model", signature=signature, pip_requirements=["scikit-learn"]
        )
    logged = mlflow.MlflowClient(tracking_uri).get_logged_model(info.model_id)
    folder = Path(logged.artifact_location.removeprefix("file://"))
    with (folder / "weights.bin").open("wb") as out:
        for _ in range(megabytes):
            out.write(os.urandom(1024 * 1024))
    return run.info.run_id, reference


def run(megabytes: int, home: Path) -> dict[str, Any]:
    for key in FOREIGN_ENV:
        os.environ.pop(key, None)
    from mlgov.app import open_governance
    from mlgov.config import load_settings
    from mlgov.governance import approvals, cards, deployments
    from mlgov.governance.references import record_reference
    from mlgov.registry.mlflow_registry import MlflowRegistry

    settings = load_settings(home=str(home), user=ADMIN)
    gov = open_governance(settings, initializing=True)
    gov.init(ADMIN)
    gov.ports["deployer"] = _drill_deployer(settings.targets_dir)
    for name, role in TEAM.items():
        gov.add_user(ADMIN, name, [role])
    run_id, reference = _large_model(home, settings.tracking_uri, megabytes)
    model = "large"
    gov.register("ds", model, risk_tier="low", purpose="hashing benchmark", run_id=run_id)
    cards.set_card(gov, "ds", model, "1", CARD)
    record_reference(gov, "ds", model, "1", reference)
    gov.promote("ds", model, "1", "train")
    approvals.request_approval(gov, "ds", model, "1")
    approvals.decide(gov, "ro", model, "1", approve=True)

    calls: list[float] = []
    real = MlflowRegistry.fingerprint

    def counted(self: Any, name: str, version: str) -> dict[str, str]:
        start = time.perf_counter()
        try:
            return real(self, name, version)
        finally:
            calls.append(time.perf_counter() - start)

    MlflowRegistry.fingerprint = counted  # type: ignore[method-assign]
    start = time.perf_counter()
    deployments.deploy(gov, "eng", model, "1", target=model)
    total = time.perf_counter() - start
    return {
        "megabytes": megabytes,
        "hashings": len(calls),
        "hashing_s": round(sum(calls), 2),
        "deploy_s": round(total, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=500)
    parser.add_argument("--home", type=Path)
    parser.add_argument("--format", choices=("table", "json"), default="table")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mlgov-hashing-") as tmp:
        result = run(args.megabytes, (args.home or Path(tmp)) / "home")
    if args.format == "json":
        print(json.dumps(result))
    else:
        print("| artifact MB | hashings in one deploy | time hashing (s) | deploy (s) |")
        print("|---|---|---|---|")
        print(
            f"| {result['megabytes']} | {result['hashings']} | {result['hashing_s']} | "
            f"{result['deploy_s']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
