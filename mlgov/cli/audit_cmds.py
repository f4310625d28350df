"""The audit trail: log, verify, export, signed checkpoints."""

from __future__ import annotations

from pathlib import Path

import click

from mlgov.api.errors import ProblemsFound
from mlgov.cli.context import caller, platform, use_cases
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
    api = use_cases("audit")

    rows = api.audit_log(platform(), caller(), model=model, since=since, action=action).to_json()
    emit_rows(rows, EVENT_COLUMNS + (["prev_hash", "hash"] if fmt != "table" else []), fmt)


@audit.command("verify")
@click.option("--head", metavar="HASH", help="Head hash kept elsewhere: detects a cut tail.")
@click.option(
    "--checkpoints",
    "checkpoint_file",
    type=click.Path(dir_okay=False),
    help="Signed checkpoints (JSON Lines): detects a rehashed chain and a cut tail.",
)
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="With --checkpoints: a trusted public key PEM; repeat for old keys "
    "(default: $MLGOV_VERIFY_KEY, else MLGOV_HOME/keys/*.pub).",
)
@format_option()
def audit_verify(head, checkpoint_file, public_keys, fmt) -> None:
    """Recompute the chain; exit 1 and name the first broken link if it was tampered with.

    With --checkpoints, also check every checkpoint's signature and that its seq and head hash
    are still on the chain.
    """
    api = use_cases("audit")

    report = api.verify(
        platform(),
        caller(),
        head=head,
        checkpoint_file=Path(checkpoint_file) if checkpoint_file else None,
        public_keys=[Path(p) for p in public_keys],
    )
    if isinstance(report, api.CheckpointVerification):
        _show_checkpoints(report, fmt)
        if not report.passed:
            raise ProblemsFound
        return
    if fmt != "table":
        emit_object(report.to_json(), fmt)
    else:
        if report.chain_ok:
            click.echo(f"audit chain OK: {report.events} events, head {report.head_hash}")
        else:
            click.echo(
                f"audit chain BROKEN at seq {report.first_bad_seq}: {report.problem}", err=True
            )
        _echo_disagreements(report.state_disagreements)
    if not report.ok:
        raise ProblemsFound


def _echo_disagreements(found) -> None:
    """Every state table value the audit trail does not support, one line each."""
    if not found:
        click.echo("state tables agree with the audit trail")
        return
    click.echo(f"state tables DISAGREE with the audit trail: {len(found)} value(s)", err=True)
    for d in found:
        click.echo(f"  {d.describe()}", err=True)


def _show_checkpoints(report, fmt: str) -> None:
    if fmt != "table":
        emit_object(report.to_json(), fmt)
        return
    if report.ok:
        click.echo(
            f"audit chain OK: {report.chain['events']} events, head "
            f"{report.chain['head_hash']}; {report.verified} signed checkpoint(s) verified, "
            f"the newest at seq {report.covered_seq}"
        )
        if report.uncovered_events:
            click.echo(
                f"note: {report.uncovered_events} event(s) after seq {report.covered_seq} are "
                "not covered by a checkpoint yet (run `mlgov audit checkpoint`)"
            )
    else:
        where = f"at seq {report.first_bad_seq}" if report.first_bad_seq else "in checkpoints"
        click.echo(f"audit chain BROKEN {where}: {report.problem}", err=True)
        shown = report.problem or ""
        others = [
            p
            for p in report.problems
            if shown not in (p["problem"], f"checkpoint on line {p['line']}: {p['problem']}")
        ]
        for p in others[:20]:
            line = f"line {p['line']}: " if p["line"] else ""
            click.echo(f"  {line}{p['problem']}", err=True)
        if len(others) > 20:
            click.echo(f"  ... and {len(others) - 20} more", err=True)
    _echo_disagreements(report.state_disagreements)


@audit.command("checkpoint")
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    help="Also append the checkpoint to this JSON Lines file (e.g. an auditor's own copy).",
)
@format_option()
def audit_checkpoint(out, fmt) -> None:
    """Sign the current head of the chain and append it to the checkpoint files.

    Writes to MLGOV_HOME/audit-checkpoints.jsonl, every $MLGOV_CHECKPOINT_SINKS file and
    --out. Refuses to sign a chain that contradicts the last checkpoint. Needs the signing
    key (`mlgov init --keys`); any role that may verify the audit trail may run it.
    """
    api = use_cases("audit")

    result = api.write_checkpoint(platform(), caller(), out=Path(out) if out else None)
    if fmt != "table":
        emit_object(result.to_json(), fmt)
        return
    cp = result.checkpoint
    click.echo(f"checkpoint: seq {cp['seq']}, head {cp['head_hash']}, key {cp['key_id']}")
    for f in result.files:
        click.echo(f"written to {f}")


@audit.command("export")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="JSON Lines file.")
@format_option()
def audit_export(out, fmt) -> None:
    """Write every event as JSON Lines and print the head hash to keep elsewhere."""
    api = use_cases("audit")

    result = api.export(platform(), caller(), Path(out))
    if fmt == "table":
        click.echo(f"exported {result.events} events to {result.file}")
        click.echo(f"head hash: {result.head_hash}")
    else:
        emit_object(result.to_json(), fmt)


COMMANDS = [audit]
