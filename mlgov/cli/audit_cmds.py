"""The audit trail: log, verify, export."""

from __future__ import annotations

from pathlib import Path

import click

from mlgov.cli.context import actor, gov
from mlgov.cli.output import emit_object, emit_rows, format_option

EVENT_COLUMNS = ["seq", "time", "actor", "action", "subject", "payload"]


@click.group()
def audit() -> None:
    """Read and verify the hash-chained audit trail."""


@audit.command("log")
@click.option("--model", help="Only events about this model and its versions.")
@click.option("--since", metavar="TIME", help="Only events at or after this ISO 8601 time.")
@click.option("--action", help="Only events of this action (e.g. stage.change).")
@format_option()
def audit_log(model, since, action, fmt) -> None:
    """List audit events in sequence order."""
    from mlgov.governance.clock import parse_time

    when = parse_time(since) if since else None
    rows = gov().audit_log(actor(), model=model, since=when, action=action)
    emit_rows(rows, EVENT_COLUMNS + (["prev_hash", "hash"] if fmt != "table" else []), fmt)


@audit.command("verify")
@click.option("--head", metavar="HASH", help="Head hash kept elsewhere: detects a cut tail.")
@format_option()
def audit_verify(head, fmt) -> None:
    """Recompute the chain; exit 1 and name the first broken link if it was tampered with."""
    report = gov().audit_verify(actor(), head=head)
    if fmt != "table":
        emit_object(report.to_dict(), fmt)
    elif report.ok:
        click.echo(f"audit chain OK: {report.events} events, head {report.head_hash}")
    else:
        click.echo(f"audit chain BROKEN at seq {report.first_bad_seq}: {report.problem}", err=True)
    if not report.ok:
        raise click.exceptions.Exit(1)


@audit.command("export")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="JSON Lines file.")
@format_option()
def audit_export(out, fmt) -> None:
    """Write every event as JSON Lines and print the head hash to keep elsewhere."""
    result = gov().audit_export(actor(), Path(out))
    if fmt == "table":
        click.echo(f"exported {result['events']} events to {result['file']}")
        click.echo(f"head hash: {result['head_hash']}")
    else:
        emit_object(result, fmt)


COMMANDS = [audit]
