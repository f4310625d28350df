"""Performance monitoring: once outcomes are known, a target's served predictions are joined
to them (through the OutcomeSource port), the window's metrics are compared with the version's
training metrics, and a decay beyond the policy's tolerance moves health exactly as drift does
(same levels, same actions: notify, require_review, suspend)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgov.governance import operations
from mlgov.governance.clock import isoformat
from mlgov.governance.deployments import active_on, validate_target
from mlgov.governance.drift_checks import check_data_file
from mlgov.governance.errors import BadInput, ExternalError, NotFound
from mlgov.governance.health import (
    INSUFFICIENT_DATA,
    actions_for,
    apply_health,
    latest_drift_health,
    suspension_operation,
    worst,
)
from mlgov.governance.lifecycle import Health
from mlgov.governance.policy import TierPolicy
from mlgov.governance.roles import Action
from mlgov.governance.tables import ModelVersion, PerformanceRecord
from mlgov.governance.validate import free_text

if TYPE_CHECKING:
    from mlgov.governance.service import Governance

TASKS = ("classification", "regression")
LOWER_IS_BETTER = ("mae", "rmse")
MAX_COLUMN_NAME = 256


def decay_of(metric: str, observed: float, training: float) -> float:
    """How much worse than at training, in the metric's units (negative: better)."""
    return observed - training if metric in LOWER_IS_BETTER else training - observed


def judge(
    observed: dict[str, float], training: dict[str, float], tier: TierPolicy
) -> tuple[Health, dict[str, float], dict[str, str]]:
    """The window's level: the worst over the metrics that have a training value and a
    tolerance; a decay beyond the tolerance (strictly) reaches that level."""
    decays, levels = {}, {}
    for metric, value in observed.items():
        if metric not in training:
            continue
        decay = decay_of(metric, value, training[metric])
        decays[metric] = decay
        level = Health.OK
        if decay > tier.performance_breach_decay.get(metric, float("inf")):
            level = Health.BREACH
        elif decay > tier.performance_warning_decay.get(metric, float("inf")):
            level = Health.WARNING
        levels[metric] = level.value
    return worst(*(Health(x) for x in levels.values())), decays, levels


def _column_name(value: str, what: str) -> str:
    checked = free_text(value, what, required=True)
    assert checked is not None  # required
    if len(checked) > MAX_COLUMN_NAME:
        raise BadInput(f"{what} is longer than {MAX_COLUMN_NAME} characters")
    return checked


def _training_metrics(gov: Governance, v: ModelVersion) -> dict[str, float]:
    registry = gov.ports.get("registry")
    if registry is None or not v.run_id:
        return {}
    try:
        return dict(registry.run_metrics(v.run_id))
    except NotFound:
        return {}


def record_view(r: PerformanceRecord, v: ModelVersion) -> dict[str, Any]:
    return {
        "result_id": r.id,
        "target": r.target,
        "model": v.model.name,
        "version": v.version,
        "time": isoformat(r.created_at),
        "by": r.created_by,
        "task": r.task,
        "rows": r.rows,
        "unmatched_labels": r.unmatched_labels,
        "id_column": r.id_column,
        "labels_sha256": r.labels_sha256,
        "metrics": r.metrics["observed"],
        "training_metrics": r.metrics["training"],
        "decay": r.metrics["decay"],
        "levels": r.metrics["levels"],
        "window_health": r.window_health,
        "health": r.health,
        "window_start": isoformat(r.window_start) if r.window_start else None,
        "window_end": isoformat(r.window_end) if r.window_end else None,
    }


def check_performance(
    gov: Governance,
    actor: str,
    target: str,
    labels: Path,
    *,
    id_column: str,
    label_column: str,
    task: str | None = None,
) -> dict[str, Any]:
    """`mlgov monitor performance`: judge what `target` served against the outcomes in
    `labels`; record the window and move the version's health by the policy."""
    validate_target(target)
    check_data_file(labels, "labels file")
    id_column = _column_name(id_column, "--id-column")
    label_column = _column_name(label_column, "--label-column")
    if task is not None and task not in TASKS:
        raise BadInput(f"unknown task '{task}': use classification or regression")
    with gov.store.read() as s:
        gov.authorize(s, actor, Action.MONITOR)
        d = active_on(s, target)
        if d is None:
            raise NotFound(f"target '{target}' serves no version")
        v = s.get(ModelVersion, d.version_id)
        assert v is not None  # a deployment's version exists
        model, version, old_health = v.model.name, v.version, v.health
        training = _training_metrics(gov, v)
        tier = gov.policy.for_tier(v.risk_tier)
    # Outside any transaction: reading the log and the labels can take a while.
    window = gov.ports["outcomes"].evaluate(
        target, model, version, labels, id_column=id_column, label_column=label_column, task=task
    )
    base = {
        "target": target,
        "model": model,
        "version": version,
        "task": window.task,
        "rows": window.rows,
        "unmatched_labels": window.unmatched_labels,
        "id_column": id_column,
    }
    if window.metrics is None or window.rows < tier.health_min_rows:
        reason = (
            "the outcomes are all of one class"
            if window.metrics is None
            else f"{window.rows} joined rows, the policy needs {tier.health_min_rows}"
        )
        return {**base, "status": INSUFFICIENT_DATA, "reason": reason, "health": old_health}
    observed = dict(window.metrics)
    if not training:
        raise ExternalError(
            f"{model}/{version} has no training metrics to compare with (its MLflow run logs none)"
        )
    window_health, decays, levels = judge(observed, training, tier)
    guard = suspension_operation(gov, actor, model, version, tier)
    with guard as run, gov.store.transaction() as s:
        gov.authorize(s, actor, Action.MONITOR)
        v = gov.version(s, model, version, lock=True)
        health = worst(window_health, latest_drift_health(s, v))
        actions = actions_for(health, tier) if health.value != v.health else ()
        record = PerformanceRecord(
            version_id=v.id,
            target=target,
            created_at=gov.now(),
            created_by=actor,
            task=window.task,
            rows=window.rows,
            unmatched_labels=window.unmatched_labels,
            labels_sha256=window.labels_sha256,
            id_column=id_column,
            metrics={
                "observed": observed,
                "training": {k: training[k] for k in observed if k in training},
                "decay": decays,
                "levels": levels,
            },
            window_health=window_health.value,
            health=health.value,
            window_start=window.first,
            window_end=window.last,
        )
        s.add(record)
        s.flush()
        gov.touch(v)
        gov.audit(
            s,
            actor,
            "performance.monitor",
            f"model:{v.label}",
            {
                "result_id": record.id,
                "target": target,
                "rows": window.rows,
                "labels_sha256": window.labels_sha256,
                "metrics": observed,
                "decay": decays,
                "window_health": window_health.value,
            },
        )
        worst_metric = max(decays, key=lambda k: decays[k], default=None)
        apply_health(
            gov,
            s,
            actor,
            v,
            health,
            actions,
            {"performance_result_id": record.id, "decay": decays},
            f"{worst_metric} fell {decays.get(worst_metric or '', 0.0):.3f} below training"
            if worst_metric
            else "performance fell",
            run,
        )
        view = record_view(record, v)
    if run is not None:
        operations.forget(gov, run)  # kept when a suspension completed it
    if "notify" in actions:
        gov.notify(
            f"health.{health.value}",
            {
                "model": model,
                "version": version,
                "target": target,
                "performance_result_id": view["result_id"],
                "decay": decays,
                "actions": list(actions),
            },
        )
    return {**view, "status": "checked", "previous_health": old_health, "actions": list(actions)}
