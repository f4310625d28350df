"""The coverage matrix: which regulatory obligation each piece of a pack's evidence answers,
and whether this version has it.

The obligations live in a versioned data file (coverage_matrix.toml, shipped with mlgov; a
bank may supply its own with the same evidence items). Presence is never typed by anyone: each
evidence item below is a test over the evidence collected from the store, and the section of
the pack that holds it. A bank's file can regroup items and reword obligations, not invent a
test, so an unknown item is refused with the file and the obligation that names it.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from mlgov.governance.errors import BadInput

MATRIX_FORMAT = "mlgov-coverage-matrix/1"
BUILTIN = "coverage_matrix.toml"

Evidence = Mapping[str, Any]


def _drift(ev: Evidence, purpose: str) -> bool:
    return any(d.get("purpose") == purpose for d in ev.get("drift") or [])


def _approved(ev: Evidence) -> bool:
    return any(a.get("state") == "approved" for a in ev.get("approvals") or [])


def _grade(item: Any) -> bool:
    return isinstance(item, Mapping) and bool(item.get("grade"))


def _tier(ev: Evidence) -> Mapping[str, Any]:
    return (ev.get("policy") or {}).get("tier") or {}


def _stopped(ev: Evidence) -> bool:
    return any(
        e.get("action") in ("deployment.undeploy", "deployment.rollback", "health.suspend")
        for e in ev.get("audit_events") or []
    )


def _chain_kept(ev: Evidence) -> bool:
    events = ev.get("audit_events") or []
    chain = (ev.get("export") or {}).get("audit_chain") or {}
    return bool(chain.get("ok")) and bool(events) and events[0].get("action") == "version.register"


@dataclass(frozen=True)
class Item:
    section: str  # the pack's section (report_html's key) that holds the evidence
    present: Callable[[Evidence], bool]


ITEMS: dict[str, Item] = {
    "registration": Item(
        "summary",
        lambda ev: all(ev["version"].get(k) for k in ("owner", "purpose", "risk_tier")),
    ),
    "review_schedule": Item("summary", lambda ev: bool(_tier(ev).get("review_interval_days"))),
    "training_run": Item("lineage", lambda ev: bool((ev.get("lineage") or {}).get("run_id"))),
    "training_data": Item("lineage", lambda ev: bool((ev.get("lineage") or {}).get("datasets"))),
    "training_data_grade": Item(
        "lineage", lambda ev: _grade((ev.get("lineage") or {}).get("data_grade"))
    ),
    "code_version": Item("lineage", lambda ev: bool((ev.get("lineage") or {}).get("git_commit"))),
    "artifact_fingerprint": Item(
        "lineage", lambda ev: bool((ev.get("fingerprint") or {}).get("digest"))
    ),
    "parameters": Item("lineage", lambda ev: bool((ev.get("lineage") or {}).get("params"))),
    "reference_dataset": Item("lineage", lambda ev: bool(ev.get("references"))),
    "reference_data_grade": Item(
        "lineage", lambda ev: bool(ev.get("references")) and _grade(ev["references"][-1])
    ),
    "model_card": Item(
        "card",
        lambda ev: ev["card"]["revision"] > 0 and not ev["card"]["missing_required"],
    ),
    "metrics": Item(
        "metrics",
        lambda ev: bool(ev.get("metrics")) and all(m["met"] is not False for m in ev["metrics"]),
    ),
    "approval": Item("approvals", _approved),
    "predeploy_drift_check": Item("drift", lambda ev: _drift(ev, "check")),
    "deployment_record": Item("deployments", lambda ev: bool(ev.get("deployments"))),
    "monitoring_plan": Item(
        "health",
        lambda ev: bool(ev.get("references")) and _tier(ev).get("health_breach_share") is not None,
    ),
    "monitoring_data": Item("health", lambda ev: _drift(ev, "monitor")),
    "stop_mechanism": Item(
        "deployments", lambda ev: "suspend" in (_tier(ev).get("on_breach") or []) or _stopped(ev)
    ),
    "exit_mechanism": Item(
        "stages",
        lambda ev: (
            bool(_tier(ev).get("stale_after_days"))
            or any(s.get("to") == "retire" for s in ev.get("stage_history") or [])
        ),
    ),
    "audit_log": Item("audit", lambda ev: bool(ev.get("audit_events"))),
    "audit_retention": Item("audit", _chain_kept),
}


@dataclass(frozen=True)
class Obligation:
    id: str
    framework: str
    reference: str
    summary: Mapping[str, str]  # language -> one line
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class Matrix:
    source: str
    version: str
    sha256: str
    obligations: tuple[Obligation, ...]


def _text(doc: Mapping[str, Any], key: str, where: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"{where}: `{key}` must be a non-empty string")
    return value.strip()


def load_matrix(path: Path | None = None) -> Matrix:
    """The shipped matrix, or a bank's file at `path` (refused with file, obligation, key)."""
    if path is None:
        raw = (resources.files("mlgov.governance") / BUILTIN).read_bytes()
        source = f"mlgov:{BUILTIN}"
    else:
        try:
            raw = Path(path).read_bytes()
        except OSError as e:
            raise BadInput(f"coverage matrix {path} cannot be read: {e.strerror}") from None
        source = str(path)
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise BadInput(f"coverage matrix {source} is not valid TOML: {e}") from None
    if doc.get("format") != MATRIX_FORMAT:
        raise BadInput(f"coverage matrix {source}: `format` must be {MATRIX_FORMAT!r}")
    version = _text(doc, "version", f"coverage matrix {source}")
    entries = doc.get("obligations")
    if not isinstance(entries, list) or not entries:
        raise BadInput(f"coverage matrix {source}: no [[obligations]]")
    obligations, seen = [], set()
    for n, entry in enumerate(entries, 1):
        where = f"coverage matrix {source}, obligation {n}"
        if not isinstance(entry, Mapping):
            raise BadInput(f"{where}: must be a table")
        ident = _text(entry, "id", where)
        where = f"coverage matrix {source}, obligation {ident!r}"
        if ident in seen:
            raise BadInput(f"{where}: the id is used twice")
        seen.add(ident)
        items = entry.get("evidence")
        if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
            raise BadInput(f"{where}: `evidence` must be a non-empty list of evidence items")
        unknown = [i for i in items if i not in ITEMS]
        if unknown:
            raise BadInput(
                f"{where}: unknown evidence item(s) {', '.join(unknown)}; known: "
                + ", ".join(ITEMS)
            )
        obligations.append(
            Obligation(
                id=ident,
                framework=_text(entry, "framework", where),
                reference=_text(entry, "reference", where),
                summary={
                    "en": _text(entry, "summary_en", where),
                    "zh": _text(entry, "summary_zh", where),
                },
                evidence=tuple(items),
            )
        )
    return Matrix(source, version, hashlib.sha256(raw).hexdigest(), tuple(obligations))


def evaluate(matrix: Matrix, evidence: Evidence) -> dict[str, Any]:
    """Each obligation with each of its evidence items present or missing, from `evidence`."""
    rows = []
    for ob in matrix.obligations:
        items = [
            {"item": i, "present": bool(ITEMS[i].present(evidence)), "section": ITEMS[i].section}
            for i in ob.evidence
        ]
        rows.append(
            {
                "id": ob.id,
                "framework": ob.framework,
                "reference": ob.reference,
                "summary": dict(ob.summary),
                "evidence": items,
                "missing": [i["item"] for i in items if not i["present"]],
                "covered": all(i["present"] for i in items),
            }
        )
    return {
        "matrix": {"source": matrix.source, "version": matrix.version, "sha256": matrix.sha256},
        "obligations": rows,
        "covered": sum(1 for r in rows if r["covered"]),
        "total": len(rows),
    }
