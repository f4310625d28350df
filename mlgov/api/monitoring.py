"""Use cases of monitoring: a drift check, the monitoring run over serving versions, a
version's drift history and the acknowledgement of a required review."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgov.api.actor import Actor
from mlgov.api.platform import Platform
from mlgov.api.results import Record, Result


@dataclass(frozen=True)
class DriftCheck(Result):
    """One recorded drift result: the decision, every column's test, quality findings, the
    data's fingerprints and where its reports are kept."""

    result_id: int
    model: str
    version: str
    purpose: str
    time: str
    by: str
    engine: str
    drift_detected: bool
    drifted_share: float
    share_threshold: float
    drifted_columns: tuple[str, ...]
    health: str | None
    columns: tuple[Mapping[str, Any], ...]
    quality: tuple[Mapping[str, Any], ...]
    rows_shared_with_reference: Mapping[str, Any] | None
    reference_sha256: str
    reference_rows: int
    current_sha256: str
    current_rows: int
    current_source: str | None
    sample: int | None
    seed: int | None
    report_html: str | None
    report_json: str | None
    window_start: str | None
    window_end: str | None

    @classmethod
    def of(cls, view: Mapping[str, Any]) -> DriftCheck:
        return cls.from_mapping(
            dict(view)
            | {
                "drifted_columns": tuple(view["drifted_columns"]),
                "columns": tuple(view["columns"]),
                "quality": tuple(view["quality"]),
            }
        )


@dataclass(frozen=True)
class DriftHistory(Result):
    results: tuple[DriftCheck, ...]

    def to_json(self) -> Any:
        return [r.to_json() for r in self.results]


@dataclass(frozen=True)
class MonitorFailure(Result):
    model: str
    version: str
    error: str
    unavailable: bool = False  # its data source could not be reached: retry later


@dataclass(frozen=True)
class MonitorRun(Result):
    """Each serving version checked on its own: `checked` holds what happened to each (a
    check, "no new predictions" or "insufficient data": too few rows for a verdict, kept
    for the next run), `failed` those whose check could not be made, and `targets` one line
    per deployed target with its version's outcome."""

    checked: tuple[Record, ...]
    failed: tuple[MonitorFailure, ...]
    targets: tuple[Record, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def problems(self) -> tuple[str, ...]:
        return tuple(f"{f.model}/{f.version}: {f.error}" for f in self.failed)

    @property
    def exit_code(self) -> int:
        """For schedulers: 1 a target's version is in breach (or its check failed other
        than for an unreachable source), else 3 a source was unavailable (retry), else 0.
        "insufficient data" is no verdict, so never a failure."""
        if any(t["health"] == "breach" for t in self.targets if "health" in t.data) or any(
            not f.unavailable for f in self.failed
        ):
            return 1
        return 3 if self.failed else 0


@dataclass(frozen=True)
class PerformanceCheck(Result):
    """A target's served predictions judged against their outcomes. `status` "checked"
    (recorded: the metrics, training's, their decay and each one's level) or "insufficient
    data" (too few joined rows, or outcomes of one class: no verdict, nothing recorded)."""

    target: str
    model: str
    version: str
    status: str
    task: str
    rows: int
    unmatched_labels: int
    id_column: str
    health: str | None
    reason: str | None = None
    result_id: int | None = None
    time: str | None = None
    by: str | None = None
    labels_sha256: str | None = None
    metrics: Mapping[str, float] | None = None
    training_metrics: Mapping[str, float] | None = None
    decay: Mapping[str, float] | None = None
    levels: Mapping[str, str] | None = None
    window_health: str | None = None
    previous_health: str | None = None
    actions: tuple[str, ...] = ()
    window_start: str | None = None
    window_end: str | None = None

    @classmethod
    def of(cls, view: Mapping[str, Any]) -> PerformanceCheck:
        return cls.from_mapping(dict(view) | {"actions": tuple(view.get("actions", ()))})


@dataclass(frozen=True)
class ReviewAck(Result):
    model: str
    version: str
    health: str
    review_required: bool


def check_drift(
    platform: Platform,
    actor: Actor,
    model: str,
    version: str,
    current: Path,
    *,
    reference: Path | None = None,
    html_out: Path | None = None,
    overwrite_html: bool = False,
    sample: int | None = None,
    seed: int | None = None,
    engine: str | None = None,
    cross_check: bool = False,
    progress: Callable[[str], None] | None = None,
) -> DriftCheck:
    """Check `current` against the version's recorded reference (or `reference`) and record
    the result. `html_out` also gets the Evidently report; an existing file is replaced only
    with `overwrite_html`. With `cross_check` the other engine runs too and any disagreement
    refuses."""
    from mlgov.governance.drift_checks import record_drift

    view = record_drift(
        platform.governance(),
        actor.name,
        model,
        version,
        current,
        reference=reference,
        html_out=html_out,
        sample=sample,
        seed=seed,
        engine=engine,
        cross_check=cross_check,
        overwrite_html=overwrite_html,
        progress=progress,
    )
    return DriftCheck.of(view)


def check_html_out(html_out: Path, overwrite: bool, *inputs: Path | None) -> None:
    """Refused before any work, as `check_drift` does: a report never silently replaces a
    file, nor ever the data. Touches only the files: a server's client uses it too."""
    from mlgov.governance.drift_checks import check_html_out as check

    check(html_out, overwrite, *inputs)


def run_monitoring(platform: Platform, actor: Actor, *, model: str | None = None) -> MonitorRun:
    """Check every serving version (or `model`'s) on what it served since the last run and
    set its health; one version's failure does not stop the others."""
    from mlgov.governance.health import monitor_run

    result = monitor_run(platform.governance(), actor.name, model=model)
    return MonitorRun(
        tuple(Record(c) for c in result["checked"]),
        tuple(MonitorFailure.from_mapping(f) for f in result["failed"]),
        tuple(Record(t) for t in result["targets"]),
    )


def check_performance(
    platform: Platform,
    actor: Actor,
    target: str,
    labels: Path,
    *,
    id_column: str = "prediction_id",
    label_column: str = "label",
    task: str | None = None,
) -> PerformanceCheck:
    """Join the outcomes in `labels` to what `target` served (by `id_column`: the
    prediction id "<request_id>:<record index>", or a key column the log keeps), compare
    the metrics with the version's training metrics and move health by the policy."""
    from mlgov.governance.performance import check_performance as check

    view = check(
        platform.governance(),
        actor.name,
        target,
        labels,
        id_column=id_column,
        label_column=label_column,
        task=task,
    )
    return PerformanceCheck.of(view)


def drift_history(platform: Platform, actor: Actor, model: str, version: str) -> DriftHistory:
    """The version's drift results, oldest first."""
    from mlgov.governance.drift_checks import history

    rows = history(platform.governance(), actor.name, model, version)
    return DriftHistory(tuple(DriftCheck.of(r) for r in rows))


def acknowledge_review(
    platform: Platform, actor: Actor, model: str, version: str, *, comment: str
) -> ReviewAck:
    """A risk officer's acknowledgement of a required review, so the version may be
    re-approved; `comment` says what was reviewed and decided."""
    from mlgov.governance.health import acknowledge

    view = acknowledge(platform.governance(), actor.name, model, version, comment)
    return ReviewAck.from_mapping(view)
