"""The evidence pack's index.html: one self-contained page (inline CSS and SVG, no scripts,
nothing fetched) that a validator or examiner reads in any browser, without mlgov.

Plain string building with html.escape on every value: the content comes from users (card
text, comments, reasons) and must never become markup.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any

HEALTH_COLOURS = {"ok": "#2e7d32", "warning": "#ef8f00", "breach": "#c62828"}

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:72rem;
padding:0 1rem;color:#1b1b1b;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2.2rem;
border-bottom:2px solid #ddd;padding-bottom:.2rem}h3{font-size:1rem;margin-top:1.4rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #d5d5d5;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.k{width:14rem;font-weight:600;background:#fafafa}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.82rem}
pre{white-space:pre-wrap;word-break:break-word;background:#f7f7f7;padding:.6rem;margin:0}
.text{white-space:pre-wrap}.muted{color:#666}.bad{color:#c62828;font-weight:600}
.good{color:#2e7d32;font-weight:600}nav a{margin-right:.8rem}
.badge{display:inline-block;padding:.05rem .45rem;border-radius:.3rem;color:#fff;font-size:.85rem}
.note{background:#f4f8fd;border-left:4px solid #5b8fd8;padding:.6rem .8rem;margin:1rem 0}
"""

_SECTIONS = (
    ("summary", "Summary"),
    ("card", "Model card"),
    ("lineage", "Lineage"),
    ("metrics", "Metrics"),
    ("approvals", "Approvals"),
    ("drift", "Drift results"),
    ("health", "Health timeline"),
    ("deployments", "Deployment history"),
    ("stages", "Stage history"),
    ("model_risk", "Findings"),
    ("audit", "Audit events"),
)


def _e(value: Any) -> str:
    if value is None:
        return '<span class="muted">&mdash;</span>'
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return escape(f"{value:.4g}")
    if isinstance(value, list | tuple):
        return escape(", ".join(str(v) for v in value)) or '<span class="muted">none</span>'
    if isinstance(value, Mapping):
        return f"<code>{escape(json.dumps(value, sort_keys=True, ensure_ascii=False))}</code>"
    return escape(str(value))


def _kv(pairs: Iterable[tuple[str, Any]], *, raw: bool = False) -> str:
    rows = "".join(
        f'<tr><td class="k">{escape(k)}</td><td class="text">{v if raw else _e(v)}</td></tr>'
        for k, v in pairs
    )
    return f"<table>{rows}</table>"


def _table(rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    if not rows:
        return '<p class="muted">None recorded.</p>'
    head = "".join(f"<th>{escape(title)}</th>" for _, title in columns)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="text">{_e(row.get(key))}</td>' for key, _ in columns)
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _badge(health: str | None) -> str:
    colour = HEALTH_COLOURS.get(str(health), "#555")
    return f'<span class="badge" style="background:{colour}">{escape(str(health))}</span>'


def _link(path: str | None, label: str) -> str:
    if not path:
        return ""
    return f'<a href="{escape(path, quote=True)}">{escape(label)}</a>'


def _details(summary: str, data: Any) -> str:
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)
    return f"<details><summary>{escape(summary)}</summary><pre>{escape(text)}</pre></details>"


# --- the health chart ---------------------------------------------------------------------


def _time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def health_chart_svg(timeline: Mapping[str, Any], *, width: int = 760, height: int = 260) -> str:
    """Health over time as coloured bands, drift results as points (drifted share), and the
    policy's warning and breach levels as dashed lines. Drawn here: no charting library."""
    left, right, top, bottom = 48, 16, 28, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    start, end = _time(timeline["start"]), _time(timeline["end"])
    points = [p for p in timeline.get("points", []) if p.get("drifted_share") is not None]
    changes = list(timeline.get("changes", []))
    stamps = [_time(p["time"]) for p in points] + [_time(c["time"]) for c in changes]
    start = min([start, *stamps])
    end = max([end, *stamps])
    span = (end - start) or 1.0

    def x(t: float) -> float:
        return left + (t - start) / span * plot_w

    def y(share: float) -> float:
        return top + (1 - max(0.0, min(1.0, share))) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="health timeline">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fff" '
        'stroke="#999"/>',
    ]
    # Health bands: each level holds from its change until the next one.
    level, since = timeline.get("initial", "ok"), start
    for change in [*changes, None]:
        until = _time(change["time"]) if change else end
        colour = HEALTH_COLOURS.get(str(level), "#888")
        parts.append(
            f'<rect x="{x(since):.1f}" y="{top}" width="{max(x(until) - x(since), 0.5):.1f}" '
            f'height="{plot_h}" fill="{colour}" fill-opacity="0.12">'
            f"<title>{escape(str(level))}</title></rect>"
        )
        parts.append(
            f'<rect x="{x(since):.1f}" y="{top - 10}" width="{max(x(until) - x(since), 0.5):.1f}"'
            f' height="8" fill="{colour}"><title>health {escape(str(level))}</title></rect>'
        )
        if change:
            level, since = change.get("to"), until
    for share in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(
            f'<text x="{left - 6}" y="{y(share) + 4:.1f}" font-size="11" text-anchor="end">'
            f"{share:g}</text>"
        )
    thresholds = timeline.get("thresholds", {})
    for key, colour in (
        ("warning", HEALTH_COLOURS["warning"]),
        ("breach", HEALTH_COLOURS["breach"]),
    ):
        share = thresholds.get(key)
        if share is None:
            continue
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(share):.1f}" y2="{y(share):.1f}" '
            f'stroke="{colour}" stroke-dasharray="6 4"/>'
            f'<text x="{left + plot_w - 4}" y="{y(share) - 4:.1f}" font-size="11" '
            f'text-anchor="end" fill="{colour}">{escape(key)} {share:g}</text>'
        )
    for p in points:
        colour = HEALTH_COLOURS.get(str(p.get("health")), "#37474f")
        fill = colour if p.get("purpose") == "monitor" else "#fff"
        label = (
            f"{p['time']} {p.get('purpose')} result {p.get('result_id')}: "
            f"drifted share {p['drifted_share']:.3g}"
            + (f", health {p['health']}" if p.get("health") else "")
        )
        parts.append(
            f'<circle cx="{x(_time(p["time"])):.1f}" cy="{y(p["drifted_share"]):.1f}" r="4.5" '
            f'fill="{fill}" stroke="{colour}" stroke-width="2"><title>{escape(label)}</title>'
            "</circle>"
        )
    parts.append(
        f'<text x="{left}" y="{height - 12}" font-size="11">{escape(timeline["start"][:10])}'
        f'</text><text x="{left + plot_w}" y="{height - 12}" font-size="11" text-anchor="end">'
        f"{escape(timeline['end'][:10])}</text>"
        f'<text x="{left + plot_w / 2:.0f}" y="{height - 12}" font-size="11" '
        'text-anchor="middle">drifted share of columns (filled: monitoring, hollow: '
        "pre-deployment check)</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


# --- sections ------------------------------------------------------------------------------


def _summary(ev: Mapping[str, Any]) -> str:
    v, export = ev["version"], ev["export"]
    chain = export.get("audit_chain") or {}
    chain_text = (
        '<span class="good">verified</span>'
        if chain.get("ok")
        else f'<span class="bad">BROKEN at seq {_e(chain.get("first_bad_seq"))}: '
        f"{_e(chain.get('problem'))}</span>"
    )
    head = export["audit_head"]
    pairs = [
        ("Model", _e(v["model"])),
        ("Version", _e(v["version"])),
        ("Stage", f"{_e(v['stage'])} (since {_e(v['stage_changed_at'])})"),
        ("Health", _badge(v["health"]) + (" review required" if v["review_required"] else "")),
        ("Risk tier", _e(v["risk_tier"])),
        ("Owner", _e(v["owner"])),
        ("Registered by", f"{_e(v['registered_by'])} at {_e(v['created_at'])}"),
        ("Purpose", _e(v["purpose"])),
        ("Policy", f"{_e(ev['policy']['source'])} (digest <code>{_e(ev['policy']['digest'])}"
         "</code>)"),
        ("Exported", f"{_e(export['exported_at'])} by {_e(export['exported_by'])}"),
        ("Audit chain head", f"seq {_e(head['seq'])}, <code>{_e(head['hash'])}</code>"),
        ("Audit chain at export", chain_text),
    ]  # fmt: skip
    return _kv(pairs, raw=True)


def _card(ev: Mapping[str, Any]) -> str:
    card = ev["card"]
    out = [f"<p>Revision {_e(card['revision'])}."]
    if card["missing_required"]:
        out.append(
            f' <span class="bad">Missing required fields: {_e(card["missing_required"])}</span>'
        )
    out.append("</p>")
    out.append(_kv(sorted(card["fields"].items())) if card["fields"] else "<p>No card.</p>")
    history = [
        {"revision": h["revision"], "at": h["at"], "by": h["by"], "fields": sorted(h["fields"])}
        for h in card["history"]
    ]
    out.append("<h3>Revisions</h3>")
    out.append(
        _table(history, [("revision", "Revision"), ("at", "Time"), ("by", "By"),
                         ("fields", "Fields")])
    )  # fmt: skip
    return "".join(out)


def _lineage(ev: Mapping[str, Any]) -> str:
    lineage = dict(ev["lineage"])
    signature = lineage.pop("signature", None)
    datasets = lineage.pop("datasets", None) or []
    out = [_kv(sorted(lineage.items()))]
    out.append("<h3>Training datasets</h3>")
    out.append(
        _table(
            [d if isinstance(d, Mapping) else {"name": d} for d in datasets],
            [("name", "Name"), ("digest", "Digest"), ("source", "Source"),
             ("context", "Context")],
        )
    )  # fmt: skip
    inputs = (signature or {}).get("inputs") if isinstance(signature, Mapping) else None
    out.append("<h3>Input signature</h3>")
    out.append(_table(inputs or [], [("name", "Column"), ("type", "Type")]))
    files = [{"path": k, "sha256": v} for k, v in sorted(ev["fingerprint"]["files"].items())]
    out.append(f"<h3>Artifact files (digest <code>{_e(ev['fingerprint']['digest'])}</code>)</h3>")
    out.append(_table(files, [("path", "File"), ("sha256", "SHA-256")]))
    out.append("<h3>Reference datasets (drift baseline)</h3>")
    out.append(
        _table(
            ev["references"],
            [("file", "File"), ("sha256", "SHA-256"), ("rows", "Rows"),
             ("recorded_at", "Recorded"), ("recorded_by", "By")],
        )
    )  # fmt: skip
    return "".join(out)


def _metrics(ev: Mapping[str, Any]) -> str:
    rows = []
    for m in ev["metrics"]:
        met = m["met"]
        rows.append(m | {"met": None if met is None else ("met" if met else "NOT MET")})
    return _table(
        rows, [("name", "Metric"), ("value", "Logged value"), ("required", "Policy requires"),
               ("met", "Result")]
    )  # fmt: skip


def _approvals(ev: Mapping[str, Any]) -> str:
    if not ev["approvals"]:
        return '<p class="muted">No approval was requested.</p>'
    out = []
    for a in ev["approvals"]:
        out.append(f"<h3>Request {_e(a['id'])}: {_e(a['state'])}</h3>")
        out.append(
            _kv(
                [
                    ("Requested", f"{a['requested_at']} by {a['requested_by']}"),
                    ("Approvals", f"{a['approvals_count']} of {a['approvals_required']}"),
                    ("Valid until", a["expires_at"]),
                    ("Closed", a.get("closed_at")),
                    ("Close reason", a.get("closed_reason")),
                    ("Note", a.get("note")),
                    ("Snapshot SHA-256", a["snapshot_hash"]),
                ]
            )
        )
        out.append(
            _table(
                a["decisions"],
                [("at", "Time"), ("approver", "Approver"), ("decision", "Decision"),
                 ("comment", "Comment")],
            )
        )  # fmt: skip
        out.append(_details("Evidence snapshot the request is bound to", a["snapshot"]))
    return "".join(out)


def _drift(ev: Mapping[str, Any]) -> str:
    if not ev["drift"]:
        return '<p class="muted">No drift check was recorded.</p>'
    head = (
        "<tr><th>Result</th><th>Time</th><th>Purpose</th><th>Engine</th><th>Drifted share</th>"
        "<th>Detected</th><th>Drifted columns</th><th>Health</th><th>Data</th><th>Reports</th>"
        "</tr>"
    )
    rows = []
    for d in ev["drift"]:
        links = " ".join(
            filter(None, [_link(d.get("report_html"), "HTML"), _link(d.get("report_json"), "JSON")])
        )
        if d.get("reports_missing_at_export"):
            links += f' <span class="bad">missing at export: {_e(d["reports_missing_at_export"])}'
            links += "</span>"
        rows.append(
            f"<tr><td>{_e(d['result_id'])}</td><td>{_e(d['time'])}</td><td>{_e(d['purpose'])}"
            f"</td><td>{_e(d['engine'])}</td><td>{_e(d['drifted_share'])} (threshold "
            f"{_e(d['share_threshold'])})</td><td>{_e(d['drift_detected'])}</td>"
            f"<td>{_e(d['drifted_columns'])}</td><td>{_e(d['health'])}</td>"
            f"<td>{_e(d['current_source'])}, {_e(d['current_rows'])} rows</td>"
            f"<td>{links or _e(None)}</td></tr>"
        )
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _health(ev: Mapping[str, Any]) -> str:
    timeline = ev["health_timeline"]
    return health_chart_svg(timeline) + _table(
        timeline["changes"],
        [("time", "Time"), ("from", "From"), ("to", "To"), ("drifted_share", "Drifted share"),
         ("actions", "Policy actions"), ("result_id", "Result")],
    )  # fmt: skip


def _audit(ev: Mapping[str, Any]) -> str:
    rows = []
    for e in ev["audit_events"]:
        payload = json.dumps(e["payload"], sort_keys=True, ensure_ascii=False)
        rows.append(
            f"<tr><td>{_e(e['seq'])}</td><td>{_e(e['time'])}</td><td>{_e(e['actor'])}</td>"
            f"<td>{_e(e['action'])}</td><td><code>{escape(payload)}</code></td>"
            f'<td><code title="{escape(e["hash"], quote=True)}">{_e(e["hash"][:16])}</code>'
            "</td></tr>"
        )
    head = (
        "<tr><th>Seq</th><th>Time</th><th>Actor</th><th>Action</th><th>Payload</th>"
        "<th>Hash</th></tr>"
    )
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def render_index(evidence: Mapping[str, Any]) -> str:
    """The whole page for one evidence pack's content (as collected by mlgov.governance)."""
    v = evidence["version"]
    title = f"Evidence pack: {v['model']} version {v['version']}"
    bodies = {
        "summary": _summary(evidence),
        "card": _card(evidence),
        "lineage": _lineage(evidence),
        "metrics": _metrics(evidence),
        "approvals": _approvals(evidence),
        "drift": _drift(evidence),
        "health": _health(evidence),
        "deployments": _table(
            evidence["deployments"],
            [("time", "Time"), ("actor", "Actor"), ("action", "Event"), ("target", "Target"),
             ("detail", "Detail")],
        ),
        "stages": _table(
            evidence["stage_history"],
            [("at", "Time"), ("from", "From"), ("to", "To"), ("actor", "Actor"),
             ("reason", "Reason"), ("audit_seq", "Audit seq")],
        ),
        "model_risk": _table(
            (evidence.get("model_risk") or {}).get("findings", []),
            [("id", "Id"), ("severity", "Severity"), ("type", "Type"), ("title", "Title"),
             ("version", "Version (none: model-wide)"), ("state", "State"),
             ("owner", "Owner"), ("due_at", "Due"), ("source", "Source"),
             ("resolution", "Resolution")],
        ),
        "audit": _audit(evidence),
    }  # fmt: skip
    nav = "".join(f'<a href="#{key}">{escape(name)}</a>' for key, name in _SECTIONS)
    sections = "".join(
        f'<section id="{key}"><h2>{escape(name)}</h2>{bodies[key]}</section>'
        for key, name in _SECTIONS
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        f'<p class="muted">Exported by mlgov at {_e(evidence["export"]["exported_at"])}. '
        "The same content is in evidence.json; drift reports are under reports/.</p>"
        '<div class="note">Integrity: manifest.json lists the SHA-256 of every file in this '
        "pack and the audit chain's head at export. Check it with <code>mlgov report verify "
        "DIR</code>, or compare each file with <code>sha256sum</code>.</div>"
        f"<nav>{nav}</nav>{sections}</body></html>\n"
    )
