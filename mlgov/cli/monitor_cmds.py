"""Monitoring: drift checks, health runs, history, review acknowledgement."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mlgov.api.errors import ProblemsFound, SourcesUnavailable
from mlgov.cli.context import caller, platform, use_cases
from mlgov.cli.output import emit_object, emit_rows, format_option

HISTORY_COLUMNS = [
    "result_id",
    "time",
    "purpose",
    "engine",
    "drift_detected",
    "drifted_share",
    "health",
    "current_rows",
    "drifted_columns",
]
COLUMN_COLUMNS = ["column", "kind", "test", "score", "threshold", "drifted"]


@click.group()
def monitor() -> None:
    """Drift and data-quality checks, health in evaluation."""


@monitor.command("drift")
@click.argument("model")
@click.argument("version")
@click.option(
    "--current",
    required=True,
    type=click.Path(dir_okay=False),
    help="The data to check (CSV or Parquet).",
)
@click.option(
    "--reference",
    type=click.Path(dir_okay=False),
    help="Compare with this file instead of the recorded reference dataset.",
)
@click.option(
    "--html",
    "html_out",
    type=click.Path(dir_okay=False),
    help="Also write the Evidently HTML report here (a new file, unless --force).",
)
@click.option("--force", is_flag=True, help="Replace the --html file if it exists.")
@click.option(
    "--sample",
    type=int,
    help="Draw a reproducible sample of N rows per side (Evidently engine and the "
    "HTML report; the fast engine always decides on every row).",
)
@click.option("--seed", type=int, help="Seed of the sample (default: drawn and recorded).")
@click.option(
    "--engine",
    type=click.Choice(["fast", "evidently"]),
    help="Which engine decides (default: the policy's).",
)
@click.option(
    "--cross-check",
    is_flag=True,
    help="Also run the other engine; exit 1 on any disagreement (scores to 1e-9).",
)
@format_option()
def monitor_drift(
    model, version, current, reference, html_out, force, sample, seed, engine, cross_check, fmt
):
    """Check CURRENT data against VERSION's reference; record the result and its reports."""
    api = use_cases("monitoring")

    view = api.check_drift(
        platform(),
        caller(),
        model,
        version,
        Path(current),
        reference=Path(reference) if reference else None,
        html_out=Path(html_out) if html_out else None,
        overwrite_html=force,
        sample=sample,
        seed=seed,
        engine=engine,
        cross_check=cross_check,
        progress=lambda msg: click.echo(msg, err=True),
    )
    if fmt == "json":
        emit_object(view.to_json(), fmt)
        return
    columns = view.to_json()["columns"]
    emit_rows(columns, COLUMN_COLUMNS, fmt)
    if fmt == "csv":
        return
    verdict = "DRIFT DETECTED" if view.drift_detected else "no drift"
    click.echo(
        f"{verdict}: {len(view.drifted_columns)} of {len(view.columns)} columns "
        f"drifted (share {view.drifted_share:.2f}, threshold "
        f"{view.share_threshold:.2f}); result {view.result_id} recorded "
        f"(engine {view.engine})"
    )
    for q in view.quality:
        click.echo(f"quality: {q['column']}: {q['check']} {q['count']} rows ({q['share']:.1%})")


TARGET_COLUMNS = [
    "target",
    "model",
    "version",
    "status",
    "rows",
    "drifted_share",
    "previous_health",
    "health",
    "actions",
    "error",
]


@monitor.command("run")
@click.option("--model", help="Only this model's serving versions.")
@click.option(
    "--all",
    "all_targets",
    is_flag=True,
    help="For schedulers (cron, Airflow): every deployed target, one line each; exit 0 "
    "none in breach, 1 a breach (or a failed check), 3 a source unavailable (retry).",
)
@format_option()
def monitor_run(model, all_targets, fmt) -> None:
    """Check every deployed version on what it served since the last run; set health.
    A window with fewer rows than the policy's health_min_rows gets no verdict
    ("insufficient data", exit 0) and is judged with the next rows."""
    api = use_cases("monitoring")

    if all_targets and model:
        raise click.UsageError("--all checks every target: leave out --model")
    result = api.run_monitoring(platform(), caller(), model=model)
    shown = result.to_json()
    if all_targets:
        if fmt == "json":  # JSON Lines: one object per target, for a scheduler's log
            for line in shown["targets"]:
                click.echo(json.dumps(line, sort_keys=True, separators=(",", ":")))
        else:
            emit_rows(shown["targets"], TARGET_COLUMNS, fmt)
        if result.exit_code == 1:  # a breach or a failed check: the lines say which
            raise ProblemsFound()
        if result.exit_code == 3:
            raise SourcesUnavailable()
        return
    if fmt == "json":
        emit_object(shown, fmt)
    else:
        rows = shown["checked"] + [{**f, "status": "FAILED"} for f in shown["failed"]]
        emit_rows(
            rows,
            [
                "model",
                "version",
                "status",
                "rows",
                "drifted_share",
                "previous_health",
                "health",
                "actions",
                "error",
            ],
            fmt,
        )
    if not result.ok:
        raise ProblemsFound


@monitor.command("performance")
@click.argument("target")
@click.option(
    "--labels",
    required=True,
    type=click.Path(dir_okay=False),
    help="The outcomes (CSV or Parquet): an id column and a label column.",
)
@click.option(
    "--id-column",
    default="prediction_id",
    show_default=True,
    help="Joins labels to predictions: prediction_id is '<request_id>:<n>' (the request id "
    "/predict answered, n the record's index in that request, from 0); or name a key column "
    "the model receives and the log keeps.",
)
@click.option("--label-column", default="label", show_default=True, help="The outcome column.")
@click.option(
    "--task",
    type=click.Choice(["classification", "regression"]),
    help="AUC/KS/Gini on the probability of class 1, or MAE/RMSE (default: classification "
    "when the model logs that probability).",
)
@format_option()
def monitor_performance(target, labels, id_column, label_column, task, fmt) -> None:
    """Judge what TARGET served against outcomes now known; compare with training metrics,
    move health by the policy's tolerated decay. Exit 1 when health is breach."""
    api = use_cases("monitoring")

    view = api.check_performance(
        platform(),
        caller(),
        target,
        Path(labels),
        id_column=id_column,
        label_column=label_column,
        task=task,
    )
    shown = view.to_json()
    if fmt == "json":
        emit_object(shown, fmt)
    elif view.status != "checked":
        emit_object(shown, fmt)
    else:
        rows = [
            {
                "metric": name,
                "value": value,
                "training": (view.training_metrics or {}).get(name),
                "decay": (view.decay or {}).get(name),
                "level": (view.levels or {}).get(name, "not judged"),
            }
            for name, value in (view.metrics or {}).items()
        ]
        emit_rows(rows, ["metric", "value", "training", "decay", "level"], fmt)
        if fmt != "csv":
            click.echo(
                f"{view.rows} predictions joined to outcomes ({view.unmatched_labels} labels "
                f"matched none); health {view.previous_health} -> {view.health}"
                + (f"; actions: {', '.join(view.actions)}" if view.actions else "")
                + f"; result {view.result_id} recorded"
            )
    if view.health == "breach":
        raise ProblemsFound


@monitor.command("history")
@click.argument("model")
@click.argument("version")
@format_option()
def monitor_history(model, version, fmt) -> None:
    """List VERSION's drift results and their decisions."""
    api = use_cases("monitoring")

    rows = api.drift_history(platform(), caller(), model, version).to_json()
    emit_rows(rows, HISTORY_COLUMNS, fmt)


@monitor.command("ack")
@click.argument("model")
@click.argument("version")
@click.option("--comment", required=True, help="What was reviewed and decided.")
@format_option()
def monitor_ack(model, version, comment, fmt) -> None:
    """Acknowledge a required review (risk officer) so the version may be re-approved."""
    api = use_cases("monitoring")

    view = api.acknowledge_review(platform(), caller(), model, version, comment=comment)
    emit_object(view.to_json(), fmt)


COMMANDS = [monitor]
