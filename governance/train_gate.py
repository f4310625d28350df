"""The train gate's checks: card complete, run with logged model, metrics met, reference set."""

from __future__ import annotations

from collections.abc import Iterator

from mlgov.governance.cards import card_fields, missing_fields
from mlgov.governance.errors import BadInput
from mlgov.governance.gates import Gates, MoveContext
from mlgov.governance.lifecycle import Stage
from mlgov.governance.references import current_reference


def _run_metrics(ctx: MoveContext) -> dict[str, float] | None:
    """The run's metrics, fetched once per move; None when there is no usable run."""
    if "_run_metrics" not in ctx.options:
        registry = ctx.ports.get("registry")
        metrics = None
        if registry is not None and ctx.version.run_id:
            try:
                metrics = registry.run_metrics(ctx.version.run_id)
            except BadInput:  # unknown or malformed run id: reported as unmet, not raised
                metrics = None
        ctx.options["_run_metrics"] = metrics
    metrics_once: dict[str, float] | None = ctx.options["_run_metrics"]
    return metrics_once


def check_card(ctx: MoveContext) -> Iterator[str]:
    missing = missing_fields(
        card_fields(ctx.session, ctx.version), ctx.tier_policy.required_card_fields
    )
    if missing:
        yield (
            f"model card incomplete: missing {', '.join(missing)} "
            f"(mlgov models card {ctx.version.label.replace('/', ' ')} --set FIELD=TEXT)"
        )


def check_run(ctx: MoveContext) -> Iterator[str]:
    v = ctx.version
    if not v.run_id:
        yield "no MLflow run is linked to this version: register it from a run"
        return
    if _run_metrics(ctx) is None:
        yield f"MLflow run {v.run_id} not found"
        return
    registry = ctx.ports.get("registry")
    if registry is None:
        return
    try:
        files = registry.fingerprint(v.model.name, v.version)
    except BadInput:
        files = {}
    if not files:
        yield f"MLflow version {v.label} has no logged model artifacts"


def check_metrics(ctx: MoveContext) -> Iterator[str]:
    required = ctx.tier_policy.required_metrics
    if not required:
        return
    metrics = _run_metrics(ctx)
    if metrics is None:
        yield f"required metric(s) {', '.join(required)} cannot be read: no MLflow run"
        return
    for name, threshold in required.items():
        if name not in metrics:
            yield f"metric {name} is not logged on run {ctx.version.run_id} (policy: {threshold})"
        elif not threshold.met_by(metrics[name]):
            yield f"metric {name} = {metrics[name]:.4g} does not meet the policy's {threshold}"


def check_reference(ctx: MoveContext) -> Iterator[str]:
    if current_reference(ctx.session, ctx.version) is None:
        yield (
            "no reference dataset recorded (the drift baseline): "
            f"mlgov models reference {ctx.version.label.replace('/', ' ')} FILE"
        )


def register(gates: Gates) -> None:
    gates.add_check(Stage.TRAIN, "card", check_card)
    gates.add_check(Stage.TRAIN, "run", check_run)
    gates.add_check(Stage.TRAIN, "metrics", check_metrics)
    gates.add_check(Stage.TRAIN, "reference", check_reference)
