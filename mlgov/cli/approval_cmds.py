"""Approvals: request, decide, list, show, verify."""

from __future__ import annotations

import click

from mlgov.cli.context import actor, gov
from mlgov.cli.output import emit_object, emit_rows, format_option
from mlgov.governance.errors import ProblemsFound

REQUEST_COLUMNS = [
    "id",
    "model",
    "version",
    "state",
    "approvals_count",
    "approvals_required",
    "requested_by",
    "expires_at",
]


@click.group()
def approvals() -> None:
    """Approval requests bound to a frozen snapshot of the evidence."""


@approvals.command("request")
@click.argument("model")
@click.argument("version")
@click.option("--note", help="A note for the approvers.")
@format_option()
def approvals_request(model, version, note, fmt) -> None:
    """Ask for approval of VERSION (in train, with the train gate's evidence present)."""
    from mlgov.governance.approvals import request_approval

    view = request_approval(gov(), actor(), model, version, note=note)
    if fmt == "table":
        click.echo(
            f"{model}/{version}: approval request {view['id']} opened, needs "
            f"{view['approvals_required']} approval(s) by {view['expires_at']} "
            f"(snapshot {view['snapshot_hash'][:12]})"
        )
    else:
        emit_object(view, fmt)


@approvals.command("list")
@click.option("--pending", is_flag=True, help="Only pending requests.")
@click.option("--mine", is_flag=True, help="Requests I made, or that await my decision.")
@format_option()
def approvals_list(pending, mine, fmt) -> None:
    """List approval requests with their counts and state."""
    from mlgov.governance.approvals import list_requests

    emit_rows(list_requests(gov(), actor(), pending=pending, mine=mine), REQUEST_COLUMNS, fmt)


@approvals.command("show")
@click.argument("model")
@click.argument("version")
@format_option()
def approvals_show(model, version, fmt) -> None:
    """Show VERSION's latest request: the frozen snapshot and every decision."""
    from mlgov.governance.approvals import show_request

    emit_object(show_request(gov(), actor(), model, version), fmt)


@approvals.command("verify")
@click.argument("model")
@click.argument("version")
@format_option()
def approvals_verify(model, version, fmt) -> None:
    """Check the approval is valid and still bound to the evidence; exit 1 if not."""
    from mlgov.governance.approvals import verify_binding

    result = verify_binding(gov(), actor(), model, version)
    if fmt != "table":
        emit_object(result, fmt)
    elif result["ok"]:
        click.echo(f"{model}/{version}: approval {result['request_id']} valid and bound")
    else:
        for problem in result["problems"]:
            click.echo(f"{model}/{version}: {problem}", err=True)
    if not result["ok"]:
        raise ProblemsFound


def _decide(model, version, approve, text, fmt) -> None:
    from mlgov.governance.approvals import decide

    view = decide(gov(), actor(), model, version, approve=approve, comment=text)
    if fmt == "table":
        verb = "approved" if approve else "rejected"
        click.echo(
            f"{model}/{version}: {verb} by {actor()}; request {view['id']} is "
            f"{view['state']} ({view['approvals_count']}/{view['approvals_required']})"
        )
    else:
        emit_object(view, fmt)


@click.command()
@click.argument("model")
@click.argument("version")
@click.option("--comment", help="Why, or under which conditions.")
@format_option()
def approve(model, version, comment, fmt) -> None:
    """Approve VERSION's pending request (risk officer; never your own model)."""
    _decide(model, version, True, comment, fmt)


@click.command()
@click.argument("model")
@click.argument("version")
@click.option("--reason", required=True, help="Why the request is rejected (kept on record).")
@format_option()
def reject(model, version, reason, fmt) -> None:
    """Reject VERSION's pending request; the version stays in train."""
    _decide(model, version, False, reason, fmt)


COMMANDS = [approvals, approve, reject]
