"""Use cases of the examiner's outputs: the model inventory (now or as it stood at a past
moment) and evidence packs (build one, verify one)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgov.api.actor import Actor
from mlgov.api.platform import Platform
from mlgov.api.results import Record, Result
from mlgov.governance import evidence_pack
from mlgov.governance import inventory as _inventory

# So a surface names the inventory's columns and a pack's assurance level without the core.
INVENTORY_FIELDS: tuple[str, ...] = _inventory.FIELDS
INTERNAL_ONLY: str = evidence_pack.INTERNAL_ONLY


@dataclass(frozen=True)
class Inventory(Result):
    """Every governed version's row; `at` (ISO 8601, UTC) is the moment it was rebuilt for
    from the audit trail, None for the live inventory."""

    rows: tuple[Record, ...]
    at: str | None = None

    def to_json(self) -> Any:
        return [r.to_json() for r in self.rows]


@dataclass(frozen=True)
class EvidencePack(Result):
    """A pack written and its export audited. `files` counts every file written,
    `listed_files` those in manifest.json (what `report verify` checks)."""

    directory: str
    model: str
    version: str
    files: int
    listed_files: int
    manifest_sha256: str
    signed_by_key: str | None
    audit_head: Mapping[str, Any]
    export_event_seq: int
    languages: tuple[str, ...] = ("en",)
    pdf: bool = False


@dataclass(frozen=True)
class AuditCheck(Result):
    """With `with_audit`: the export event recording the manifest and the audit head it
    names, found on this store's chain (None when not)."""

    export_event_seq: int | None
    head_seq: int | None


@dataclass(frozen=True)
class PackVerification(Result):
    """The manifest recomputed: every changed, missing and added file and any signature
    problem. `assurance` says what a clean result proves."""

    directory: str
    ok: bool
    checked: int
    changed: tuple[str, ...]
    missing: tuple[str, ...]
    added: tuple[str, ...]
    problems: tuple[str, ...]
    manifest_sha256: str | None
    audit_head: Mapping[str, Any] | None
    assurance: str
    signed_by_key: str | None
    audit: AuditCheck | None = None

    def to_json(self) -> Any:
        data = super().to_json()
        if self.audit is None:  # the key exists only when the audit trail was consulted
            del data["audit"]
        return data


def inventory(
    platform: Platform, actor: Actor, *, at: str | None = None, stage: str | None = None
) -> Inventory:
    """Every version: tier, owner, stage, health, approval, targets and review dates. `at`
    (ISO 8601; a date means its midnight UTC) rebuilds it as it stood then from the audit
    trail alone; `stage` keeps only versions in that stage."""
    from mlgov.governance.clock import isoformat, parse_time

    when = parse_time(at) if at else None
    rows = _inventory.inventory(platform.governance(), actor.name, at=when, stage=stage)
    return Inventory(tuple(Record(r) for r in rows), isoformat(when) if when else None)


def pack_pages(languages: Sequence[str], pdf: bool) -> dict[str, str]:
    """Which file holds which language: index.html the first language, index.LANG.html each
    further one, evidence-pack.LANG.pdf each PDF (page name -> language)."""
    pages = {"index.html" if n == 0 else f"index.{lang}.html": lang
             for n, lang in enumerate(languages)}  # fmt: skip
    if pdf:
        pages |= {f"evidence-pack.{lang}.pdf": lang for lang in languages}
    return pages


def pack_renderers(
    languages: Sequence[str], pdf: bool
) -> tuple[evidence_pack.RenderHtml, evidence_pack.RenderMore]:
    """index.html's renderer, and the one writing the further pages (`pack_pages`)."""
    from mlgov.report_html import render_index, translator

    def first(evidence: Mapping[str, Any]) -> str:
        return render_index(evidence, languages[0])

    def more(evidence: Mapping[str, Any], staging: Path) -> None:
        reports = sorted(
            d[key] for d in evidence["drift"] for key in ("report_html",) if d.get(key)
        )
        for name, lang in pack_pages(languages, pdf).items():
            if name == "index.html":
                continue
            html = render_index(evidence, lang)
            if name.endswith(".pdf"):
                from mlgov.report_pdf import render_pdf

                (staging / name).write_bytes(render_pdf(html, translator(lang), staging, reports))
            else:
                (staging / name).write_text(html, encoding="utf-8")

    return first, more


def create_report(
    platform: Platform,
    actor: Actor,
    model: str,
    version: str,
    out: Path,
    *,
    lang: str | Sequence[str] = "en",
    pdf: bool = False,
    matrix: Path | None = None,
) -> EvidencePack:
    """Write the version's evidence pack into `out` (new or empty) and audit the export.

    `lang`: en, zh or both (`zh,en`; the first is index.html); `pdf` also prints each
    language to evidence-pack.LANG.pdf; `matrix` is a bank's coverage matrix file (default:
    $MLGOV_COVERAGE_MATRIX, else the one shipped with mlgov)."""
    import os

    from mlgov.api.errors import BadInput
    from mlgov.i18n import parse_languages

    try:
        languages = parse_languages(lang)
    except ValueError as e:
        raise BadInput(f"--lang: {e}") from None
    if matrix is None and os.environ.get("MLGOV_COVERAGE_MATRIX"):
        matrix = Path(os.environ["MLGOV_COVERAGE_MATRIX"])
    if pdf:
        _check_pdf_engine()
    first, more = pack_renderers(languages, pdf)
    result = evidence_pack.export_pack(
        platform.governance(),
        actor.name,
        model,
        version,
        out,
        render_html=first,
        render_more=more,
        matrix=matrix,
    )
    return EvidencePack.from_mapping(result | {"languages": languages, "pdf": pdf})


def _check_pdf_engine() -> None:
    """Refuse --pdf before anything is written when WeasyPrint cannot load (exit 3)."""
    from mlgov.api.errors import Unavailable

    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as e:
        raise Unavailable(
            f"--pdf needs WeasyPrint and its system libraries (pango, harfbuzz): {e}"
        ) from None


def _verify_files(directory: Path, key_files: Sequence[Path]) -> dict[str, Any]:
    from mlgov.governance.checkpoints import load_verify_keys

    return evidence_pack.verify_pack(
        directory, load_verify_keys(list(key_files)) if key_files else None
    )


def verify_pack_files(directory: Path, public_keys: Sequence[Path] = ()) -> PackVerification:
    """The pack's manifest recomputed and its signature checked with `public_keys` only
    (none: internal consistency only); needs no store, so it runs anywhere."""
    result = _verify_files(directory, public_keys)
    return PackVerification.from_mapping(
        result
        | {
            "changed": tuple(result["changed"]),
            "missing": tuple(result["missing"]),
            "added": tuple(result["added"]),
            "problems": tuple(result["problems"]),
        }
    )


def verify_report(
    platform: Platform,
    actor: Actor,
    directory: Path,
    *,
    with_audit: bool = False,
    public_keys: Sequence[Path] = (),
) -> PackVerification:
    """Recompute the pack's manifest and check its signature with `public_keys` (default:
    the installation's). Without any key only internal consistency can be proven.
    `with_audit` also binds the pack to this store's audit trail (and needs the store; the
    rest does not open it)."""
    key_files = list(public_keys) or list(platform.settings.verify_key_files())
    result = _verify_files(directory, key_files)
    problems = list(result["problems"])
    audit = None
    if with_audit:
        binding = evidence_pack.audit_binding(platform.governance(), actor.name, directory)
        problems += [p for p in binding.problems if p not in problems]
        result["ok"] = result["ok"] and not binding.problems
        audit = AuditCheck(binding.export_seq, binding.head_seq)
    return PackVerification.from_mapping(
        result
        | {
            "changed": tuple(result["changed"]),
            "missing": tuple(result["missing"]),
            "added": tuple(result["added"]),
            "problems": tuple(problems),
            "audit": audit,
        }
    )
