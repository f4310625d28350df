"""Findings: problems found in validation or production, tracked to closure."""

from __future__ import annotations

import click

from mlgov.cli.context import caller, platform, use_cases
from mlgov.cli.output import emit_object, emit_rows, format_option

FINDING_COLUMNS = [
    "id",
    "model",
    "version",
    "severity",
    "type",
    "state",
    "overdue",
    "owner",
    "due_at",
    "source",
    "title",
]
SEVERITIES = ["critical", "high", "medium", "low"]


def _scope(view) -> str:
    return f"{view.model}/{view.version}" if view.version else f"{view.model} (model-wide)"


def _done(view, what: str, fmt: str) -> None:
    if fmt == "table":
        click.echo(f"finding {view.id} on {_scope(view)}: {what}; now {view.state}")
    else:
        emit_object(view.to_json(), fmt)


@click.group()
def findings() -> None:
    """Findings on a version or a whole model; open high and critical ones block promote to
    train, approval and deploy (the policy's finding_blocking_severity)."""


@findings.command("open")
@click.argument("model")
@click.argument("version", required=False)
@click.option(
    "--severity", required=True, help="critical, high, medium or low (checked by the core)."
)
@click.option("--title", required=True, help="One line saying what is wrong.")
@click.option(
    "--type",
    "type_",
    default="validation_issue",
    show_default=True,
    help="validation_issue, policy_exception or limitation.",
)
@click.option("--owner", help="Who must resolve it (default: the model's owner).")
@click.option("--due", help="Due date, ISO 8601 (default: the policy's days for the severity).")
@click.option("--description", help="More detail, kept with the finding.")
@format_option()
def findings_open(model, version, severity, title, type_, owner, due, description, fmt) -> None:
    """Open a finding on MODEL's VERSION, or on the whole MODEL without VERSION."""
    api = use_cases("findings")

    view = api.open_finding(
        platform(),
        caller(),
        model,
        version,
        severity=severity,
        title=title,
        type=type_,
        owner=owner,
        due=due,
        description=description,
    )
    _done(view, f"opened ({view.severity}, owner {view.owner}, due {view.due_at})", fmt)


@findings.command("list")
@click.option("--open", "open_only", is_flag=True, help="Only open findings.")
@click.option("--mine", is_flag=True, help="Only findings I own.")
@click.option("--overdue", is_flag=True, help="Only open findings past their due date.")
@click.option("--model", help="Only this model's findings.")
@format_option()
def findings_list(open_only, mine, overdue, model, fmt) -> None:
    """List findings with their severity, state, owner and due date."""
    api = use_cases("findings")

    rows = api.list_findings(
        platform(), caller(), open_only=open_only, mine=mine, overdue=overdue, model=model
    ).to_json()
    emit_rows(rows, FINDING_COLUMNS, fmt)


@findings.command("show")
@click.argument("finding_id", metavar="ID", type=int)
@format_option()
def findings_show(finding_id, fmt) -> None:
    """Show finding ID: its evidence, comments, acceptance votes and resolution."""
    api = use_cases("findings")

    emit_object(api.show_finding(platform(), caller(), finding_id).to_json(), fmt)


@findings.command("assign")
@click.argument("finding_id", metavar="ID", type=int)
@click.argument("owner", metavar="USER")
@format_option()
def findings_assign(finding_id, owner, fmt) -> None:
    """Give finding ID to USER (its owner, the model's owner or a risk officer may)."""
    api = use_cases("findings")

    view = api.assign_finding(platform(), caller(), finding_id, owner)
    _done(view, f"assigned to {view.owner}", fmt)


@findings.command("comment")
@click.argument("finding_id", metavar="ID", type=int)
@click.argument("text")
@format_option()
def findings_comment(finding_id, text, fmt) -> None:
    """Add a comment TEXT to finding ID (kept on record)."""
    api = use_cases("findings")

    view = api.comment_finding(platform(), caller(), finding_id, text)
    _done(view, "comment added", fmt)


@findings.command("close")
@click.argument("finding_id", metavar="ID", type=int)
@click.option("--resolution", required=True, help="How it was resolved (kept on record).")
@format_option()
def findings_close(finding_id, resolution, fmt) -> None:
    """Close finding ID; a high or critical one only by a risk officer who neither owns nor
    registered the model."""
    api = use_cases("findings")

    view = api.close_finding(platform(), caller(), finding_id, resolution=resolution)
    _done(view, f"closed by {view.closed_by}", fmt)


@findings.command("accept")
@click.argument("finding_id", metavar="ID", type=int)
@click.option("--reason", required=True, help="Why the risk is accepted (kept on record).")
@click.option("--until", required=True, help="When the acceptance ends, ISO 8601.")
@format_option()
def findings_accept(finding_id, reason, until, fmt) -> None:
    """Vote to accept finding ID's risk until a date: the tier's quorum of risk officers
    accepts it; after the date it is open again."""
    api = use_cases("findings")

    view = api.accept_finding(platform(), caller(), finding_id, reason=reason, until=until)
    _done(
        view,
        f"acceptance vote recorded ({view.acceptance_votes}/{view.acceptance_required})"
        if view.state != "accepted"
        else f"risk accepted until {view.accepted_until}",
        fmt,
    )


COMMANDS = [findings]
