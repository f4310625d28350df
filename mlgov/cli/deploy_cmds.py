"""Deployment: deploy, serve, rollback, undeploy, deployments list."""

from __future__ import annotations

import click

from mlgov.cli.context import caller, platform, use_cases
from mlgov.cli.output import emit_object, emit_rows, format_option

DEPLOYMENT_COLUMNS = [
    "target",
    "model",
    "version",
    "state",
    "since",
    "verified_at",
    "health",
    "stage",
]


@click.command()
@click.argument("model")
@click.argument("version")
@click.option("--target", help="Serving target name (default: the model name).")
@format_option()
def deploy(model, version, target, fmt) -> None:
    """Deploy an approved VERSION of MODEL: runs the deploy gate, builds the service."""
    api = use_cases("deployments")

    result = api.deploy(
        platform(),
        caller(),
        model,
        version,
        target=target,
        progress=lambda msg: click.echo(msg, err=True),
    )
    if fmt == "table":
        click.echo(
            f"{model}/{version} deployed to target '{result.target}' "
            f"(BentoML model {result.bento_model_tag}); start it with "
            f"`mlgov serve {result.target}`"
        )
    else:
        emit_object(result.to_json(), fmt)


@click.command()
@click.argument("target")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=3000,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port to listen on.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server worker processes.",
)
@click.option(
    "--no-verify", is_flag=True, help="Do not probe the service and move the version into evaluate."
)
def serve(target, host, port, workers, no_verify) -> None:
    """Run the HTTP service of TARGET's current version until interrupted.

    Once it answers ready and a probe prediction succeeds, the version moves deploy -> evaluate.
    """
    api = use_cases("deployments")

    api.serve(
        platform(),
        caller(),
        target,
        host=host,
        port=port,
        workers=workers,
        verify=not no_verify,
        announce=lambda msg: click.echo(msg, err=True),
    )


@click.command()
@click.argument("target")
@format_option()
def rollback(target, fmt) -> None:
    """Switch TARGET back to its previous version (still approved and bound)."""
    api = use_cases("deployments")

    result = api.rollback(platform(), caller(), target)
    if fmt == "table":
        click.echo(
            f"target '{target}' now serves {result.model}/{result.version}; a "
            "running server switches within seconds (or says a restart is needed)"
        )
    else:
        emit_object(result.to_json(), fmt)


@click.command()
@click.argument("target")
@click.option("--reason", help="Why it stops serving (kept on record).")
@format_option()
def undeploy(target, reason, fmt) -> None:
    """Stop TARGET serving: its server answers 503 within seconds."""
    api = use_cases("deployments")

    result = api.undeploy(platform(), caller(), target, reason=reason)
    if fmt == "table":
        click.echo(f"target '{target}' undeployed ({result.model}/{result.version})")
    else:
        emit_object(result.to_json(), fmt)


@click.group()
def deployments() -> None:
    """Serving targets and their history."""


@deployments.command("list")
@click.option("--all", "all_states", is_flag=True, help="Include ended deployments.")
@format_option()
def deployments_list(all_states, fmt) -> None:
    """Show targets, the version each serves, since when, and its health."""
    api = use_cases("deployments")

    rows = api.list_deployments(platform(), caller(), all_states=all_states).to_json()
    emit_rows(rows, DEPLOYMENT_COLUMNS + (["end_reason"] if all_states else []), fmt)


COMMANDS = [deploy, serve, rollback, undeploy, deployments]
