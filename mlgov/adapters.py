"""The core's ports implemented over mlgov.registry, mlgov.monitoring and mlgov.deploy.

Everything heavy is imported inside methods, so building these objects costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from mlgov.governance.drift import DriftResult, DriftSpec
from mlgov.governance.errors import BadInput, ExternalError, Unavailable
from mlgov.governance.ports import (
    DatasetInfo,
    PerformanceWindow,
    PredictionBatch,
    PreparedDeployment,
)

REPORT_SAMPLE_ROWS = 50_000


class MonitoringDatasets:
    """DatasetInspector over mlgov.monitoring.datasets."""

    def describe(self, path: Path) -> DatasetInfo:
        from mlgov.monitoring.datasets import describe_dataset

        info = describe_dataset(path)
        return DatasetInfo(path=info.path, sha256=info.sha256, rows=info.rows, columns=info.schema)


class FastWithReport:
    """The fast exact engine decides; Evidently draws the human-readable report on a
    reproducible sample (default 50,000 rows per side, seed recorded in the spec)."""

    engine = "fast"

    def __init__(self, ignore_extra_columns: bool) -> None:
        from mlgov.monitoring.evidently_engine import EvidentlyDriftChecker
        from mlgov.monitoring.fast_engine import FastDriftChecker

        self.fast = FastDriftChecker()
        self.report = EvidentlyDriftChecker(ignore_extra_columns=ignore_extra_columns)
        self.ignore_extra_columns = ignore_extra_columns

    def check(
        self,
        reference: Path,
        current: Path,
        spec: DriftSpec,
        *,
        html_out: Path | None = None,
        json_out: Path | None = None,
    ) -> DriftResult:
        from mlgov.monitoring.fast_engine import write_json

        result = self.fast.check(reference, current, spec)
        if html_out is not None:
            sample = spec.sample or REPORT_SAMPLE_ROWS
            report_spec = replace(
                spec, sample=sample, seed=spec.seed if spec.sample else spec.seed or 0
            )
            self.report.check(reference, current, report_spec, html_out=html_out)
        if json_out is not None:
            write_json(result, json_out)
        return result


def drift_checker(engine: str, ignore_extra_columns: bool) -> Any:
    if engine == "evidently":
        from mlgov.monitoring.evidently_engine import EvidentlyDriftChecker

        return EvidentlyDriftChecker(ignore_extra_columns=ignore_extra_columns)
    if engine == "fast":
        return FastWithReport(ignore_extra_columns)
    raise BadInput(f"unknown drift engine '{engine}': use fast or evidently")


class PredictionLogSource:
    """PredictionSource over the serving targets' prediction logs (mlgov.deploy)."""

    def __init__(self, serving_root: Path) -> None:
        self.serving_root = serving_root

    def export(
        self, model: str, version: str, *, since: datetime | None, out: Path, columns: list[str]
    ) -> PredictionBatch:
        import pandas as pd

        from mlgov.deploy.prediction_log import read_prediction_log

        frames = []
        try:
            for log_dir in sorted(self.serving_root.glob("*/predictions")):
                frame = read_prediction_log(log_dir, since=since, model=model, version=version)
                if len(frame):
                    frames.append(frame)
        except OSError as exc:  # a log on a share that is down, or not readable by us
            raise Unavailable(
                f"the prediction log of {model}/{version} cannot be read: {exc.strerror}"
            ) from exc
        if not frames:
            return PredictionBatch(rows=0, sha256="", first=None, last=None)
        frame = pd.concat(frames, ignore_index=True).sort_values("_time")
        if since is not None:
            frame = frame[frame["_time"] > since]
        if frame.empty:
            return PredictionBatch(rows=0, sha256="", first=None, last=None)
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ExternalError(
                f"the prediction log of {model}/{version} lacks column(s) {', '.join(missing)}"
            )
        frame[columns].to_parquet(out, index=False)
        digest = hashlib.sha256(out.read_bytes()).hexdigest()
        first, last = frame["_time"].iloc[0], frame["_time"].iloc[-1]
        return PredictionBatch(
            rows=len(frame),
            sha256=digest,
            first=pd.Timestamp(first).to_pydatetime(),
            last=pd.Timestamp(last).to_pydatetime(),
        )


class PredictionOutcomes:
    """OutcomeSource over a target's prediction log and a labels file (mlgov.monitoring)."""

    def __init__(self, serving_root: Path) -> None:
        self.serving_root = serving_root

    def evaluate(
        self,
        target: str,
        model: str,
        version: str,
        labels: Path,
        *,
        id_column: str,
        label_column: str,
        task: str | None,
    ) -> PerformanceWindow:
        from mlgov.deploy.prediction_log import read_prediction_log
        from mlgov.monitoring.performance import join_labels, metrics_of

        log_dir = self.serving_root / target / "predictions"
        if not log_dir.is_dir():
            raise BadInput(f"target '{target}' has logged no predictions yet")
        try:
            log = read_prediction_log(log_dir, model=model, version=version)
        except OSError as exc:
            raise Unavailable(
                f"the prediction log of target '{target}' cannot be read: {exc.strerror}"
            ) from exc
        joined = join_labels(log, labels, id_column=id_column, label_column=label_column, task=task)
        return PerformanceWindow(
            task=joined.task,
            rows=len(joined.scores),
            metrics=metrics_of(joined),
            unmatched_labels=joined.unmatched_labels,
            labels_sha256=hashlib.sha256(labels.read_bytes()).hexdigest(),
            first=joined.first.to_pydatetime(),
            last=joined.last.to_pydatetime(),
        )


class BentoDeployerPort:
    """Deployer over mlgov.deploy: BentoML model import, Bento build, manifests, status."""

    def __init__(self, serving_root: Path, tracking_uri: str | None = None) -> None:
        self.serving_root = serving_root
        # The MLflow store this home's models:/ URIs resolve in (never the process's global).
        self.tracking_uri = tracking_uri

    def prepare(
        self,
        *,
        target: str,
        model: str,
        version: str,
        model_uri: str,
        fingerprint_digest: str,
        features: Sequence[Mapping[str, str]],
        metadata: Mapping[str, Any],
    ) -> PreparedDeployment:
        from mlgov.deploy.deployer import prepare_deployment
        from mlgov.registry.mlflow_env import global_tracking_uri

        # BentoML's import downloads models:/ URIs through MLflow's process-wide tracking URI:
        # pointed at this home's store for the import only (two homes share the server).
        scope = global_tracking_uri(self.tracking_uri) if self.tracking_uri else nullcontext()
        with scope:
            prepared = prepare_deployment(
                self.serving_root,
                target=target,
                model=model,
                version=version,
                model_uri=model_uri,
                fingerprint_digest=fingerprint_digest,
                signature={"inputs": list(features)},
                approvals=metadata.get("approvals"),
            )
        return PreparedDeployment(
            target=target,
            bento_model_tag=prepared.manifest.bento_model_tag,
            bento_tag=prepared.manifest.bento_tag,
            manifest_path=prepared.manifest_path,
        )

    def discard(self, prepared: PreparedDeployment) -> None:
        from mlgov.deploy.bento import delete_model

        delete_model(prepared.bento_model_tag)

    def set_status(
        self,
        target: str,
        *,
        state: str,
        reason: str,
        model: str,
        version: str,
        manifest_path: Path,
        stage: str | None = None,
        op_id: str | None = None,
    ) -> None:
        from mlgov.deploy.deployer import activate, set_state

        if state == "serving":
            activate(self.serving_root, target, version, stage=stage or "deploy", op_id=op_id)
        else:
            set_state(self.serving_root, target, state, reason=reason, stage=stage, op_id=op_id)

    def status_operation(self, target: str) -> str | None:
        from mlgov.deploy.deployer import status_operation

        return status_operation(self.serving_root, target)

    def restore_status(self, target: str, op_id: str) -> bool:
        from mlgov.deploy.deployer import restore_status

        return restore_status(self.serving_root, target, op_id)


# --- serving ------------------------------------------------------------------------------


def _probe(url: str, record: Mapping[str, Any], token: str) -> str:
    # Marked with the server's probe token: logged as a probe, never counted by monitoring
    # (one reference row in a small window was enough to tip its verdict).
    body = json.dumps({"records": [dict(record)], "probe": token}).encode()
    request = urllib.request.Request(
        url + "/predict", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            answer = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ExternalError(
            f"probe prediction to {url}/predict failed: {type(exc).__name__}"
        ) from exc
    if not answer.get("predictions"):
        raise ExternalError(f"probe prediction to {url}/predict returned no prediction")
    return f"1 reference record scored ({answer.get('model')}/{answer.get('version')})"


def _reference_record(path: Path) -> dict[str, Any]:
    import math

    from mlgov.monitoring.datasets import read_table

    row = read_table(path).head(1).to_dict(orient="records")[0]
    return {
        k: (
            None
            if isinstance(v, float) and math.isnan(v)
            else v.item()
            if hasattr(v, "item")
            else v
        )
        for k, v in row.items()
    }


def serve_target(
    gov: Any,
    settings: Any,
    actor: str,
    target: str,
    *,
    host: str,
    port: int,
    workers: int,
    verify: bool,
    announce: Callable[[str], None],
) -> int:
    """Run TARGET's server until interrupted; once ready, probe it and record verification."""
    from mlgov.deploy.deployer import target_paths
    from mlgov.deploy.server import start_server, wait_ready
    from mlgov.governance.deployments import current_manifest, record_verification
    from mlgov.governance.references import current_reference

    current = current_manifest(gov, actor, target)
    paths = target_paths(settings.targets_dir, target)
    probe_token = secrets.token_urlsafe(32)
    server = start_server(
        paths.manifest,
        host=host,
        port=port,
        workers=workers,
        log_file=paths.server_log,
        bentoml_home=settings.bentoml_home,
        probe_token=probe_token,
    )
    stop = {"now": False}

    def on_signal(signum: int, _frame: Any) -> None:
        stop["now"] = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        wait_ready(server.url, timeout=120, server=server)
        announce(
            f"target '{target}' serves {current['model']}/{current['version']} at "
            f"{server.url} (log: {paths.server_log})"
        )
        if verify:
            with gov.store.read() as s:
                ref = current_reference(s, gov.version(s, current["model"], current["version"]))
                ref_path = Path(ref.path) if ref else None
            if ref_path is not None:
                probe = _probe(server.url, _reference_record(ref_path), probe_token)
                moved = record_verification(gov, actor, target, probe=probe)
                announce(
                    f"verified: {probe}; {current['model']}/{current['version']} is in "
                    f"stage {moved['stage']}"
                )
        while not stop["now"]:
            try:
                return server.process.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                continue
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.stop(timeout=15)
