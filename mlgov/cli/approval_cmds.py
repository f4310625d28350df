"""Approvals: request, decide, list, show, verify."""

from __future__ import annotations

import click

from mlgov.api.errors import ProblemsFound
from mlgov.cli.context import caller, platform, use_cases
from mlgov.cli.output import emit_object, emit_rows, format_option

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
    api = use_cases("approvals")

    view = api.request_approval(platform(), caller(), model, version, note=note)
    if fmt == "table":
        click.echo(
            f"{model}/{version}: approval request {view.id} opened, needs "
            f"{view.approvals_required} approval(s) by {view.expires_at} "
            f"(snapshot {view.snapshot_hash[:12]})"
        )
    else:
        emit_object(view.to_json(), fmt)


@approvals.command("list")
@click.option("--pending", is_flag=True, help="Only pending requests.")
@click.option("--mine", is_flag=True, help="Requests I made, or that await my decision.")
@format_option()
def approvals_list(pending, mine, fmt) -> None:
    """List approval requests with their counts and state."""
    api = use_cases("approvals")

    rows = api.list_requests(platform(), caller(), pending=pending, mine=mine).to_json()
    emit_rows(rows, REQUEST_COLUMNS, fmt)


@approvals.command("show")
@click.argument("model")
@click.argument("version")
@format_option()
def approvals_show(model, version, fmt) -> None:
    """Show VERSION's latest request: the frozen snapshot and every decision."""
    api = use_cases("approvals")

    emit_object(api.show_request(platform(), caller(), model, version).to_json(), fmt)


@approvals.command("verify")
@click.argument("model")
@click.argument("version")
@format_option()
def approvals_verify(model, version, fmt) -> None:
    """Check the approval is valid and still bound to the evidence; exit 1 if not."""
    api = use_cases("approvals")

    result = api.verify_binding(platform(), caller(), model, version)
    if fmt != "table":
        emit_object(result.to_json(), fmt)
    elif result.ok:
        click.echo(f"{model}/{version}: approval {result.request_id} valid and bound")
    else:
        for problem in result.problems:
            click.echo(f"{model}/{version}: {problem}", err=True)
    if not result.ok:
        raise ProblemsFound


def _show_decision(model, version, approve, by, view, fmt) -> None:
    if fmt == "table":
        verb = "approved" if approve else "rejected"
        click.echo(
            f"{model}/{version}: {verb} by {by}; request {view.id} is "
            f"{view.state} ({view.approvals_count}/{view.approvals_required})"
        )
    else:
        emit_object(view.to_json(), fmt)


@click.command()
@click.argument("model")
@click.argument("version")
@click.option("--comment", help="Why, or under which conditions.")
@format_option()
def approve(model, version, comment, fmt) -> None:
    """Approve VERSION's pending request (risk officer; never your own model)."""
    api = use_cases("approvals")

    who = caller()
    view = api.decide(platform(), who, model, version, approve=True, comment=comment)
    _show_decision(model, version, True, who.name, view, fmt)


@click.command()
@click.argument("model")
@click.argument("version")
@click.option("--reason", required=True, help="Why the request is rejected (kept on record).")
@format_option()
def reject(model, version, reason, fmt) -> None:
    """Reject VERSION's pending request; the version stays in train."""
    api = use_cases("approvals")

    who = caller()
    view = api.decide(platform(), who, model, version, approve=False, comment=reason)
    _show_decision(model, version, False, who.name, view, fmt)


COMMANDS = [approvals, approve, reject]
