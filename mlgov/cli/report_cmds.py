"""The examiner's outputs: the model inventory (now or at a past moment) and evidence packs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mlgov.api.errors import ProblemsFound
from mlgov.cli.context import caller, platform, use_cases
from mlgov.cli.output import emit_object, emit_rows, format_option

TABLE_COLUMNS = [
    "model",
    "version",
    "stage",
    "health",
    "risk_tier",
    "owner",
    "approval",
    "targets",
    "last_review",
    "next_review_due",
    "findings",
]


def _for_table(row: dict[str, Any]) -> dict[str, Any]:
    approval = row["approval_state"]
    if approval is not None:
        approval = f"{approval} {row['approvals_count']}/{row['approvals_required']}"
    shown = dict(row, approval=approval)
    for key in ("last_review", "next_review_due"):
        shown[key] = row[key][:10] if row[key] else None  # the day is what a reader needs
    if row["open_findings"]:
        overdue = row["overdue_findings"]
        shown["findings"] = f"{row['open_findings']}" + (f" ({overdue} overdue)" if overdue else "")
    if row["review_required"]:
        shown["health"] = f"{row['health']} (review)"
    return shown


@click.command()
@click.option(
    "--at",
    "at",
    metavar="DATETIME",
    help="Rebuild the inventory as it stood then, from the audit trail alone "
    "(ISO 8601, e.g. 2026-06-30 or 2026-06-30T17:00:00Z; a date means its midnight UTC).",
)
@click.option("--stage", help="Only versions in this stage (develop, train, deploy, ...).")
@format_option()
def inventory(at: str | None, stage: str | None, fmt: str) -> None:
    """Every model version: tier, owner, stage, health, approval, targets and review dates."""
    api = use_cases("reports")

    found = api.inventory(platform(), caller(), at=at, stage=stage)
    rows = found.to_json()
    if fmt != "table":
        emit_rows(rows, list(api.INVENTORY_FIELDS), fmt)
        return
    if found.at is not None:
        click.echo(f"inventory as at {found.at}, rebuilt from the audit trail")
    emit_rows([_for_table(r) for r in rows], TABLE_COLUMNS, fmt)


class _DefaultCreate(click.Group):
    """`mlgov report MODEL VERSION --out DIR` means `mlgov report create ...`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["create", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultCreate)
def report() -> None:
    """Evidence packs: `mlgov report MODEL VERSION --out DIR`, `mlgov report verify DIR`.

    A pack is a directory readable without mlgov: index.html, evidence.json, the drift
    reports, and manifest.json with every file's SHA-256 and the audit chain's head.
    (For a model named `create` or `verify`, write `mlgov report create MODEL VERSION`.)
    """


@report.command("create")
@click.argument("model")
@click.argument("version")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory to write the pack into; it must not exist or be empty.",
)
@click.option(
    "--lang",
    default="en",
    show_default=True,
    metavar="LANGS",
    help="Language(s) of the pages: en, zh, or both separated by a comma (zh,en); the first "
    "is index.html, each further one index.LANG.html.",
)
@click.option(
    "--pdf",
    is_flag=True,
    help="Also print each language to evidence-pack.LANG.pdf (WeasyPrint; CJK font "
    "embedded; drift reports attached once each, compressed).",
)
@click.option(
    "--matrix",
    type=click.Path(dir_okay=False),
    help="A coverage matrix file of your own (TOML, the shipped file's format) instead of "
    "mlgov's (default: $MLGOV_COVERAGE_MATRIX, else the shipped one).",
)
@format_option()
def report_create(
    model: str, version: str, out: str, lang: str, pdf: bool, matrix: str | None, fmt: str
) -> None:
    """Write VERSION's evidence pack (coverage matrix, card, lineage, approvals, drift,
    health, deployments, audit events) and record the export in the audit trail."""
    api = use_cases("reports")

    view = api.create_report(
        platform(),
        caller(),
        model,
        version,
        Path(out),
        lang=lang,
        pdf=pdf,
        matrix=Path(matrix) if matrix else None,
    )
    if fmt != "table":
        emit_object(view.to_json(), fmt)
        return
    result = view.to_json()
    click.echo(
        f"evidence pack of {model}/{result['version']} written to {result['directory']} "
        f"({result['files']} files: {result['listed_files']} listed in manifest.json, the "
        + ("manifest and its signature)" if result["signed_by_key"] else "manifest)")
    )
    click.echo(
        f"languages {', '.join(result['languages'])}"
        + (f"; PDF: {', '.join(f'evidence-pack.{x}.pdf' for x in result['languages'])}"
           if result["pdf"] else "")
    )  # fmt: skip
    click.echo(
        f"manifest sha256 {result['manifest_sha256']}; audit head seq "
        f"{result['audit_head']['seq']} {result['audit_head']['hash']}"
    )
    if result["signed_by_key"]:
        click.echo(f"manifest signed by key {result['signed_by_key']} (manifest.sig)")
    else:
        click.echo(
            "manifest NOT signed: no audit signing key (`mlgov init --keys`), so "
            "`report verify` can prove only the pack's internal consistency"
        )


@report.command("verify")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option(
    "--with-audit",
    is_flag=True,
    help="Also check the pack against this MLGOV_HOME's audit trail: its export event "
    "and the audit head it names.",
)
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="A trusted public key PEM to check manifest.sig with; repeat for old keys "
    "(default: $MLGOV_VERIFY_KEY, else MLGOV_HOME/keys/*.pub).",
)
@format_option()
def report_verify(directory: str, with_audit: bool, public_keys: tuple[str, ...], fmt: str) -> None:
    """Recompute the pack's manifest and check its signature; exit 1 naming every changed,
    missing or added file and any signature problem.

    With a public key (the installation's audit signing key, or --public-key), the manifest
    must be signed by it. Without one only internal consistency can be checked, and the
    output says so (exit 0 when consistent): whoever can write the pack could have
    rewritten its manifest too; --with-audit then checks it against the audit trail.
    """
    api = use_cases("reports")

    view = api.verify_report(
        platform(),
        caller(),
        Path(directory),
        with_audit=with_audit,
        public_keys=[Path(p) for p in public_keys],
    )
    result = view.to_json()
    binding = view.audit
    if fmt != "table":
        emit_object(result, fmt)
    elif result["ok"]:
        head = result["audit_head"] or {}
        if result["assurance"] == api.INTERNAL_ONLY:
            unsigned = (
                f"its signature (key {result['signed_by_key']}) was not checked: no public key"
                if result["signed_by_key"]
                else "the manifest is not signed"
            )
            click.echo(
                f"verified ({api.INTERNAL_ONLY}): {result['checked']} files match manifest.json "
                f"(audit head seq {head.get('seq')}); {unsigned}, so anyone able to write the "
                "pack could have rewritten the manifest too"
            )
        else:
            click.echo(
                f"verified: {result['checked']} files match manifest.json, signed by key "
                f"{result['signed_by_key']} (audit head seq {head.get('seq')})"
            )
        if binding is not None:
            click.echo(
                f"audit trail: report.export event seq {binding.export_event_seq} records "
                f"this manifest's SHA-256, and the audit head it names (seq {binding.head_seq}) "
                "is on this store's chain (`mlgov audit verify` checks the chain itself)"
            )
        elif result["assurance"] == api.INTERNAL_ONLY:
            click.echo("run with --with-audit to check it against this store's audit trail")
    else:
        for kind in ("changed", "missing", "added"):
            for path in result[kind]:
                click.echo(f"{kind}: {path}")
        for problem in result["problems"]:
            click.echo(f"problem: {problem}")
        counts = ", ".join(f"{len(result[k])} {k}" for k in ("changed", "missing", "added"))
        click.echo(f"evidence pack {directory} NOT verified: {counts}", err=True)
    if not view.ok:
        raise ProblemsFound


COMMANDS = [inventory, report]
