"""Models and their lifecycle: register, list, show, promote, retire."""

from __future__ import annotations

from typing import Any

import click

from mlgov.api.errors import ProblemsFound
from mlgov.cli.context import caller, platform, use_cases
from mlgov.cli.output import emit_object, emit_rows, format_option


def data_grade_options(what: str) -> Any:
    """--data-grade and --sensitive/--not-sensitive, for the data `what` names."""

    def decorate(command: Any) -> Any:
        command = click.option(
            "--sensitive/--not-sensitive",
            default=None,
            help=f"Whether {what} holds sensitive personal information (needs --data-grade).",
        )(command)
        return click.option(
            "--data-grade",
            metavar="core|important|general",
            help=f"The data grade of {what} (data security rules: 核心/重要/一般); the "
            "evidence pack's data-security rows say 'missing' without it.",
        )(command)

    return decorate


VERSION_COLUMNS = ["model", "version", "stage", "health", "risk_tier", "owner", "last_activity_at"]


@click.command()
@click.argument("model")
@click.option("--run-id", help="MLflow run holding the logged model.")
@click.option("--model-uri", help="models:/m-<id>, models:/NAME/VERSION (adopt) or runs:/ URI.")
@click.option("--artifact-path", help="Which logged model of the run, when it has several.")
@click.option("--risk-tier", required=True, help="high, medium or low: picks the policy.")
@click.option("--purpose", required=True, help="What the model is for (business use).")
@click.option("--owner", help="Accountable owner (default: you); never an auditor.")
@click.option(
    "--reinstate",
    metavar="REASON",
    help="Register a retired version's artifact again on purpose, saying why (audited; "
    "it keeps the retired version's tier or stricter).",
)
@data_grade_options("the training data")
@format_option()
def register(
    model,
    run_id,
    model_uri,
    artifact_path,
    risk_tier,
    purpose,
    owner,
    reinstate,
    data_grade,
    sensitive,
    fmt,
) -> None:
    """Register MODEL's version from an MLflow run or URI; it starts in stage develop.

    A tier lower than an earlier version's (or than another version of the same artifact)
    is registered, and the train gate waits for a risk officer's `models confirm-tier`.
    """
    api = use_cases("models")

    result = api.register(
        platform(),
        caller(),
        model,
        run_id=run_id,
        model_uri=model_uri,
        artifact_path=artifact_path,
        risk_tier=risk_tier,
        purpose=purpose,
        owner=owner,
        reinstate=reinstate,
        data_grade=data_grade,
        sensitive=sensitive,
    )
    if fmt == "table":
        click.echo(
            f"registered {result['model']}/{result['version']} in stage develop "
            f"(tier {result['risk_tier']}, owner {result['owner']})"
        )
    else:
        emit_object(result.to_json(), fmt)


@click.group()
def models() -> None:
    """List and inspect governed models."""


@models.command("confirm-tier")
@click.argument("model")
@click.argument("version")
@click.option("--reason", required=True, help="Why the lower tier is right (audited).")
@format_option()
def models_confirm_tier(model: str, version: str, reason: str, fmt: str) -> None:
    """Sign off VERSION's risk tier where it is lower than an earlier version's (risk officer,
    not the version's registrant or owner); until then its train gate refuses."""
    api = use_cases("models")

    result = api.confirm_tier(platform(), caller(), model, version, reason=reason)
    if fmt != "table":
        emit_object(result.to_json(), fmt)
        return
    click.echo(
        f"{result.model}/{result.version}: tier {result.tier} confirmed by "
        f"{result.confirmed_by} (earlier {result.earlier_version} was "
        f"{result.earlier_tier})"
    )


@models.command("list")
@click.option("--stage", help="Only versions in this stage.")
@click.option("--tier", help="Only this risk tier.")
@click.option("--owner", help="Only versions owned by this user.")
@format_option()
def models_list(stage, tier, owner, fmt) -> None:
    """List governed model versions."""
    api = use_cases("models")

    rows = api.list_versions(platform(), caller(), stage=stage, tier=tier, owner=owner)
    emit_rows(rows.to_json(), VERSION_COLUMNS, fmt)


@models.command("show")
@click.argument("model")
@click.argument("version", required=False)
@format_option()
def models_show(model, version, fmt) -> None:
    """Show MODEL's versions, or one VERSION in detail (stage, lineage, evidence, history)."""
    api = use_cases("models")

    data = api.show(platform(), caller(), model, version).to_json()
    if version is None and fmt != "json":
        emit_rows(data["versions"], VERSION_COLUMNS, fmt)
        return
    emit_object(data, fmt)


@click.command()
@click.argument("model")
@click.argument("version")
@click.option("--to", "to", required=True, metavar="STAGE", help="Target stage.")
@click.option("--reason", help="Why (required when the target is retire).")
@click.option("--check", is_flag=True, help="Only run the gate and list unmet conditions.")
@format_option()
def promote(model, version, to, reason, check, fmt) -> None:
    """Move VERSION of MODEL to STAGE; the gate lists every unmet condition on refusal."""
    api = use_cases("models")

    result = api.promote(platform(), caller(), model, version, to=to, reason=reason, check=check)
    if check:
        unmet = result.to_json()
        emit_rows(unmet, ["check", "message"], fmt)
        if unmet:
            raise ProblemsFound
        return
    assert isinstance(result, api.Moved)  # not a check: the version moved
    if fmt == "table":
        click.echo(
            f"{model}/{version}: {result.from_stage} -> {result.stage} "
            f"(audit seq {result.audit_seq})"
        )
    else:
        emit_object(result.to_json(), fmt)


STALE_COLUMNS = ["model", "version", "stage", "rule", "detail", "last_activity", "serving"]


@click.command()
@click.argument("model", required=False)
@click.argument("version", required=False)
@click.option("--reason", help="Why the version is retired (kept on record).")
@click.option("--force", is_flag=True, help="Retire even if a rollback candidate exists.")
@click.option("--stale", is_flag=True, help="Find stale versions by the policy's rules instead.")
@click.option("--days", type=int, help="With --stale: days without activity (default: policy).")
@click.option("--model", "only_model", help="With --stale: only this model.")
@click.option("--dry-run", is_flag=True, help="With --stale: list what would be retired.")
@click.option("--yes", is_flag=True, help="With --stale: do not ask for confirmation.")
@click.option(
    "--include-serving", is_flag=True, help="With --stale: also retire versions that are serving."
)
@format_option()
def retire(
    model, version, reason, force, stale, days, only_model, dry_run, yes, include_serving, fmt
) -> None:
    """Retire VERSION of MODEL for good (it never serves again; evidence is kept), or with
    --stale every version matched by a staleness rule."""
    api = use_cases("retirement")
    from mlgov.api.models import Moved
    from mlgov.api.retirement import StaleList, StaleRetirement

    if not stale:
        if not (model and version):
            raise click.UsageError("give MODEL and VERSION, or --stale")
        if not reason:
            raise click.UsageError("retiring needs --reason saying why")
        if any((days, only_model, dry_run, yes, include_serving)):
            raise click.UsageError(
                "--days/--model/--dry-run/--yes/--include-serving go with --stale"
            )
    elif model or version or reason:
        raise click.UsageError("--stale takes no MODEL/VERSION/--reason: the rule is the reason")
    result = api.retire(
        platform(),
        caller(),
        model=model,
        version=version,
        reason=reason,
        force=force,
        stale=stale,
        days=days,
        stale_model=only_model,
        include_serving=include_serving,
        dry_run=dry_run,
        confirm=None if yes else _confirm_stale,
    )
    if not stale:
        assert isinstance(result, Moved)  # one version retired
        if fmt == "table":
            click.echo(f"{model}/{version}: {result.from_stage} -> retire")
        else:
            emit_object(result.to_json(), fmt)
        return
    if isinstance(result, StaleList):  # a dry run, or nothing stale: nothing was retired
        emit_rows(result.to_json(), STALE_COLUMNS, fmt)
        if fmt == "table":
            click.echo(
                f"{len(result)} stale version(s)"
                + (" (dry run: nothing changed)" if dry_run else ""),
                err=True,
            )
        return
    assert isinstance(result, StaleRetirement)
    _show_retirement(result.to_json(), fmt)
    if result.failed:
        raise ProblemsFound


def _confirm_stale(found) -> None:
    """Ask on the terminal before a sweep retires anything; abort unless confirmed."""
    import sys

    if not sys.stdin.isatty():
        raise click.UsageError(
            "refusing to retire without confirmation: add --yes (no terminal to ask on)"
        )
    emit_rows(found.to_json(), STALE_COLUMNS, "table")
    click.confirm(f"Retire these {len(found)} version(s)?", abort=True)


def _show_retirement(result: dict, fmt: str) -> None:
    if fmt == "json":
        emit_object(result, fmt)
        return
    rows = (
        [r | {"outcome": "retired"} for r in result["retired"]]
        + [r | {"outcome": "skipped: " + r["why"]} for r in result["skipped"]]
        + [r | {"outcome": "FAILED: " + r["error"]} for r in result["failed"]]
    )
    emit_rows(rows, ["model", "version", "rule", "outcome"], fmt)
    if fmt == "table":
        click.echo(
            f"{len(result['retired'])} retired, {len(result['skipped'])} skipped, "
            f"{len(result['failed'])} failed",
            err=True,
        )


@models.command("card")
@click.argument("model")
@click.argument("version")
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set one card field; repeat for several.",
)
@click.option(
    "--file",
    "card_file",
    type=click.Path(dir_okay=False),
    help='A TOML file of card fields (key = "text").',
)
@click.option("--replace", is_flag=True, help="Replace the whole card instead of merging.")
@click.option("--show", "show_only", is_flag=True, help="Show the current card and what it lacks.")
@format_option()
def models_card(model, version, assignments, card_file, replace, show_only, fmt) -> None:
    """Write or show the model card of VERSION; each change is a new audited revision."""
    api = use_cases("models")

    if show_only and (assignments or card_file):
        raise click.UsageError("--show cannot be combined with --set or --file")
    result = api.card(
        platform(),
        caller(),
        model,
        version,
        show=show_only,
        assignments=assignments,
        card_file=card_file,
        replace=replace,
    )
    if show_only:
        emit_object(result.to_json(), fmt)
    elif fmt == "table":
        missing = result.missing_required
        click.echo(
            f"{model}/{version}: card revision {result.revision} recorded"
            + (f"; still missing: {', '.join(missing)}" if missing else "; complete")
        )
    else:
        emit_object(result.to_json(), fmt)


@models.command("reference")
@click.argument("model")
@click.argument("version")
@click.argument("file", type=click.Path(dir_okay=False))
@data_grade_options("the reference (inference) data")
@format_option()
def models_reference(model, version, file, data_grade, sensitive, fmt) -> None:
    """Record FILE (CSV or Parquet) as VERSION's reference dataset: the drift baseline."""
    api = use_cases("models")

    result = api.record_reference(
        platform(), caller(), model, version, file, data_grade=data_grade, sensitive=sensitive
    )
    if fmt == "table":
        click.echo(
            f"{model}/{version}: reference {result.file} recorded "
            f"({result.rows} rows, {len(result.columns)} columns, "
            f"sha256 {result.sha256[:12]})"
        )
    else:
        emit_object(result.to_json(), fmt)


@click.command()
@click.option("--fix", is_flag=True, help="Restore mlgov's state into MLflow (never the reverse).")
@click.option("--skip-artifacts", is_flag=True, help="Do not re-hash artifact files (faster).")
@format_option()
def reconcile(fix, skip_artifacts, fmt) -> None:
    """Settle operations a crash left pending, then compare the MLflow registry with
    governance state; exit 1 if differences remain.

    A pending operation whose outside writes are visible is replayed (its gate is checked
    again) and completed; one with none visible, or whose replay is refused, is undone and
    aborted. Operations whose process still runs are left alone. Every outcome is audited.
    """
    api = use_cases("reconcile")

    result = api.reconcile(
        platform(),
        caller(),
        fix=fix,
        check_artifacts=not skip_artifacts,
        progress=lambda msg: click.echo(msg, err=True),
    ).to_json()
    if fmt == "json":
        emit_object(result, fmt)
    else:
        for op in result["operations"]:
            click.echo(
                f"operation {op['id']} ({op['kind']} of {op['subject']} by {op['by']}): "
                f"{op['outcome']}" + (f" ({op['reason']})" if op.get("reason") else ""),
                err=fmt != "table",
            )
        emit_rows(result["findings"], ["kind", "model", "version", "detail", "fixed"], fmt)
        if fmt == "table":
            click.echo(
                f"{len(result['findings'])} finding(s), {result['fixed']} fixed, "
                f"{result['remaining']} remaining"
            )
    if result["remaining"]:
        raise ProblemsFound


COMMANDS = [register, models, promote, retire, reconcile]
