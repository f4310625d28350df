"""Models and their lifecycle: register, list, show, promote, retire."""

from __future__ import annotations

import click

from mlgov.cli.context import actor, gov
from mlgov.cli.output import emit_object, emit_rows, format_option

VERSION_COLUMNS = ["model", "version", "stage", "health", "risk_tier", "owner", "last_activity_at"]


@click.command()
@click.argument("model")
@click.option("--run-id", help="MLflow run holding the logged model.")
@click.option("--model-uri", help="models:/m-<id>, models:/NAME/VERSION (adopt) or runs:/ URI.")
@click.option("--artifact-path", help="Which logged model of the run, when it has several.")
@click.option("--risk-tier", required=True, help="high, medium or low: picks the policy.")
@click.option("--purpose", required=True, help="What the model is for (business use).")
@click.option("--owner", help="Accountable owner (default: you).")
@format_option()
def register(model, run_id, model_uri, artifact_path, risk_tier, purpose, owner, fmt) -> None:
    """Register MODEL's version from an MLflow run or URI; it starts in stage develop."""
    result = gov().register(
        actor(),
        model,
        run_id=run_id,
        model_uri=model_uri,
        artifact_path=artifact_path,
        risk_tier=risk_tier,
        purpose=purpose,
        owner=owner,
    )
    if fmt == "table":
        click.echo(
            f"registered {result['model']}/{result['version']} in stage develop "
            f"(tier {result['risk_tier']}, owner {result['owner']})"
        )
    else:
        emit_object(result, fmt)


@click.group()
def models() -> None:
    """List and inspect governed models."""


@models.command("list")
@click.option("--stage", help="Only versions in this stage.")
@click.option("--tier", help="Only this risk tier.")
@click.option("--owner", help="Only versions owned by this user.")
@format_option()
def models_list(stage, tier, owner, fmt) -> None:
    """List governed model versions."""
    rows = gov().list_versions(actor(), stage=stage, tier=tier, owner=owner)
    emit_rows(rows, VERSION_COLUMNS, fmt)


@models.command("show")
@click.argument("model")
@click.argument("version", required=False)
@format_option()
def models_show(model, version, fmt) -> None:
    """Show MODEL's versions, or one VERSION in detail (stage, lineage, evidence, history)."""
    data = gov().show(actor(), model, version)
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
    g = gov()
    if check:
        unmet = g.gate_preview(actor(), model, version, to)
        emit_rows(unmet, ["check", "message"], fmt)
        if unmet:
            raise click.exceptions.Exit(1)
        return
    result = g.promote(actor(), model, version, to, reason=reason)
    if fmt == "table":
        click.echo(
            f"{model}/{version}: {result['from']} -> {result['stage']} "
            f"(audit seq {result['audit_seq']})"
        )
    else:
        emit_object(result, fmt)


@click.command()
@click.argument("model")
@click.argument("version")
@click.option("--reason", required=True, help="Why the version is retired (kept on record).")
@click.option("--force", is_flag=True, help="Retire even if a rollback candidate exists.")
@format_option()
def retire(model, version, reason, force, fmt) -> None:
    """Retire VERSION of MODEL for good: it never serves again; evidence is kept."""
    result = gov().retire(actor(), model, version, reason=reason, force=force)
    if fmt == "table":
        click.echo(f"{model}/{version}: {result['from']} -> retire")
    else:
        emit_object(result, fmt)


COMMANDS = [register, models, promote, retire]
