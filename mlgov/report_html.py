"""The evidence pack's pages: one self-contained HTML page per language (inline CSS and SVG,
no scripts, nothing fetched) that a validator or examiner reads in any browser without mlgov,
and the same page printed to PDF (mlgov.report_pdf).

Every heading, label and sentence comes from the `reports` message catalog (mlgov.i18n, the
console's mechanism; the console's own catalog supplies stage, state and health names), and
times and numbers are formatted for the language. Plain string building with html.escape on
every value: the content comes from users (card text, comments, reasons) and must never
become markup.

Sections are the SECTIONS list: to add one, write `def _mine(ev, _) -> str`, append
`Section("mine", "Title", _mine)` where it belongs, and put "Title" (and any new sentence) in
both locale/*/LC_MESSAGES/reports.po; tests/test_report_catalogs.py fails until they are.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

from mlgov.i18n import CONSOLE, DEFAULT, REPORTS, Translator

HEALTH_COLOURS = {"ok": "#2e7d32", "warning": "#ef8f00", "breach": "#c62828"}
HTML_LANG = {"en": "en", "zh": "zh-Hans"}

_CSS = """
body{font-family:"Noto Sans CJK SC","Noto Sans SC","Noto Sans",system-ui,-apple-system,
"Segoe UI",sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1b1b1b;
line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2.2rem;
border-bottom:2px solid #ddd;padding-bottom:.2rem}h3{font-size:1rem;margin-top:1.4rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #d5d5d5;padding:.3rem .5rem;text-align:left;vertical-align:top;
overflow-wrap:anywhere}
th{background:#f3f3f3}td.k{width:14rem;font-weight:600;background:#fafafa}
code,pre{font-family:ui-monospace,Menlo,Consolas,"Noto Sans Mono CJK SC",monospace;
font-size:.82rem;overflow-wrap:anywhere}
pre{white-space:pre-wrap;word-break:break-word;background:#f7f7f7;padding:.6rem;margin:0}
.text{white-space:pre-wrap}.muted{color:#666}.bad{color:#c62828;font-weight:600}
.good{color:#2e7d32;font-weight:600}nav a{margin-right:.8rem}
.badge{display:inline-block;padding:.05rem .45rem;border-radius:.3rem;color:#fff;font-size:.85rem}
.note{background:#f4f8fd;border-left:4px solid #5b8fd8;padding:.6rem .8rem;margin:1rem 0}
@page{size:A4;margin:14mm 12mm 16mm;@bottom-right{content:counter(page) " / " counter(pages);
font-size:8pt;color:#666}}
@media print{body{margin:0;max-width:none;padding:0;font-size:9pt}nav{display:none}
table{font-size:7.5pt}code,pre{font-size:7pt}h2{break-after:avoid;margin-top:1.4rem}
tr{break-inside:avoid}details>pre{display:none}svg{max-width:100%;height:auto}
table{table-layout:fixed}td.k{width:30%}}
table.coverage col.ob{width:24%}table.coverage col.sum{width:34%}
table.coverage col.ev{width:28%}table.audit col.seq{width:5%}table.audit col.time{width:13%}
table.audit col.who{width:8%}table.audit col.act{width:13%}table.audit col.hash{width:10%}
"""

Render = Callable[[Mapping[str, Any], Translator], str]


@dataclass(frozen=True)
class Section:
    key: str  # the anchor; the coverage matrix names sections by it
    title: str  # msgid in the reports catalog
    render: Render


def translator(lang: str = DEFAULT) -> Translator:
    return Translator(lang, (REPORTS, CONSOLE))


def _e(value: Any, t: Translator | None = None) -> str:
    if value is None:
        return '<span class="muted">&mdash;</span>'
    if isinstance(value, bool):
        text = ("yes" if value else "no") if t is None else t("yes" if value else "no")
        return escape(text)
    if isinstance(value, int | float) and t is not None:
        return escape(t.number(value))
    if isinstance(value, float):
        return escape(f"{value:.4g}")
    if isinstance(value, list | tuple):
        none = "none" if t is None else t("none")
        return escape(", ".join(str(v) for v in value)) or f'<span class="muted">{none}</span>'
    if isinstance(value, Mapping):
        return f"<code>{escape(json.dumps(value, sort_keys=True, ensure_ascii=False))}</code>"
    return escape(str(value))


def _word(t: Translator, prefix: str, value: Any) -> str:
    """A value the core names (stage, state, health, ...) in the language, if catalogued."""
    key = f"{prefix}:{value}"
    return escape(t(key)) if t.has(key) else _e(value)


def _kv(pairs: Iterable[tuple[str, Any]], t: Translator, *, raw: bool = False) -> str:
    rows = "".join(
        f'<tr><td class="k">{escape(k)}</td><td class="text">{v if raw else _e(v, t)}</td></tr>'
        for k, v in pairs
    )
    return f"<table>{rows}</table>"


Cell = Callable[[Any], str]


def _table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[tuple[str, str] | tuple[str, str, Cell]],
    t: Translator,
) -> str:
    """`columns`: (key, title msgid[, how to show the value]); times are localised."""
    if not rows:
        return f'<p class="muted">{escape(t("None recorded."))}</p>'
    head = "".join(f"<th>{escape(t(c[1]))}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for c in columns:
            show: Cell = c[2] if len(c) == 3 else (lambda v: _e(v, t))
            cells.append(f'<td class="text">{show(row.get(c[0]))}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _when(t: Translator) -> Cell:
    return lambda v: escape(t.time(v)) if v else _e(None)


def _badge(health: str | None, t: Translator) -> str:
    colour = HEALTH_COLOURS.get(str(health), "#555")
    return f'<span class="badge" style="background:{colour}">{_word(t, "health", health)}</span>'


def _link(path: str | None, label: str) -> str:
    if not path:
        return ""
    return f'<a href="{escape(path, quote=True)}">{escape(label)}</a>'


def _details(summary: str, data: Any) -> str:
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)
    return f"<details><summary>{escape(summary)}</summary><pre>{escape(text)}</pre></details>"


def _grade(t: Translator, grade: Any) -> str:
    if not isinstance(grade, Mapping) or not grade.get("grade"):
        return f'<span class="bad">{escape(t("not recorded"))}</span>'
    text = t(f"grade:{grade['grade']}")
    sensitive = grade.get("sensitive")
    if sensitive is not None:
        text += "; " + t("sensitive" if sensitive else "not sensitive")
    return escape(text)


# --- the health chart ---------------------------------------------------------------------


def _time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def health_chart_svg(
    timeline: Mapping[str, Any],
    *,
    width: int = 760,
    height: int = 260,
    t: Translator | None = None,
) -> str:
    """Health over time as coloured bands, drift results as points (drifted share), and the
    policy's warning and breach levels as dashed lines. Drawn here: no charting library."""
    t = t or translator()
    left, right, top, bottom = 48, 16, 28, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    start, end = _time(timeline["start"]), _time(timeline["end"])
    points = [p for p in timeline.get("points", []) if p.get("drifted_share") is not None]
    changes = list(timeline.get("changes", []))
    stamps = [_time(p["time"]) for p in points] + [_time(c["time"]) for c in changes]
    start = min([start, *stamps])
    end = max([end, *stamps])
    span = (end - start) or 1.0

    def x(when: float) -> float:
        return left + (when - start) / span * plot_w

    def y(share: float) -> float:
        return top + (1 - max(0.0, min(1.0, share))) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(t("Health timeline"))}" '
        'font-family="Noto Sans CJK SC, Noto Sans, sans-serif">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fff" '
        'stroke="#999"/>',
    ]
    # Health bands: each level holds from its change until the next one.
    level, since = timeline.get("initial", "ok"), start
    for change in [*changes, None]:
        until = _time(change["time"]) if change else end
        colour = HEALTH_COLOURS.get(str(level), "#888")
        name = _word(t, "health", level)
        parts.append(
            f'<rect x="{x(since):.1f}" y="{top}" width="{max(x(until) - x(since), 0.5):.1f}" '
            f'height="{plot_h}" fill="{colour}" fill-opacity="0.12">'
            f"<title>{name}</title></rect>"
        )
        parts.append(
            f'<rect x="{x(since):.1f}" y="{top - 10}" width="{max(x(until) - x(since), 0.5):.1f}"'
            f' height="8" fill="{colour}"><title>{name}</title></rect>'
        )
        if change:
            level, since = change.get("to"), until
    for share in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(
            f'<text x="{left - 6}" y="{y(share) + 4:.1f}" font-size="11" text-anchor="end">'
            f"{escape(t.number(share))}</text>"
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
            f'text-anchor="end" fill="{colour}">{_word(t, "health", key)} '
            f"{escape(t.number(share))}</text>"
        )
    for p in points:
        colour = HEALTH_COLOURS.get(str(p.get("health")), "#37474f")
        fill = colour if p.get("purpose") == "monitor" else "#fff"
        label = t(
            "{time} {purpose}, result {result}: drifted share {share}",
            time=t.time(p["time"]),
            purpose=t(f"purpose:{p.get('purpose')}"),
            result=p.get("result_id"),
            share=t.number(float(p["drifted_share"])),
        )
        parts.append(
            f'<circle cx="{x(_time(p["time"])):.1f}" cy="{y(p["drifted_share"]):.1f}" r="4.5" '
            f'fill="{fill}" stroke="{colour}" stroke-width="2"><title>{escape(label)}</title>'
            "</circle>"
        )
    parts.append(
        f'<text x="{left}" y="{height - 12}" font-size="11">{escape(t.date(timeline["start"]))}'
        f'</text><text x="{left + plot_w}" y="{height - 12}" font-size="11" text-anchor="end">'
        f"{escape(t.date(timeline['end']))}</text>"
        f'<text x="{left + plot_w / 2:.0f}" y="{height - 12}" font-size="11" '
        'text-anchor="middle">'
        + escape(t("drifted share of columns (filled: monitoring, hollow: pre-deployment check)"))
        + "</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


# --- sections ------------------------------------------------------------------------------


def _summary(ev: Mapping[str, Any], t: Translator) -> str:
    v, export = ev["version"], ev["export"]
    chain = export.get("audit_chain") or {}
    chain_text = (
        f'<span class="good">{escape(t("verified"))}</span>'
        if chain.get("ok")
        else '<span class="bad">'
        + escape(t("BROKEN at seq {seq}: {problem}", seq=chain.get("first_bad_seq"),
                   problem=chain.get("problem")))
        + "</span>"
    )  # fmt: skip
    head = export["audit_head"]
    review = f" {escape(t('review required'))}" if v["review_required"] else ""
    tier = ev["policy"]["tier"]
    pairs = [
        (t("Model"), _e(v["model"])),
        (t("Version"), _e(v["version"])),
        (t("Stage"), escape(t("{stage} (since {time})", stage=t(f"stage:{v['stage']}"),
                              time=t.time(v["stage_changed_at"])))),
        (t("Health"), _badge(v["health"], t) + review),
        (t("Risk tier"), _word(t, "tier", v["risk_tier"])),
        (t("Owner"), _e(v["owner"])),
        (t("Registered"), escape(t("{time} by {user}", time=t.time(v["created_at"]),
                                   user=v["registered_by"]))),
        (t("Purpose"), _e(v["purpose"])),
        (t("Policy"), escape(t("{source} (digest {digest})", source=ev["policy"]["source"],
                               digest=ev["policy"]["digest"]))),
        (t("Periodic review"), escape(t("every {days} days",
                                        days=t.number(tier["review_interval_days"])))),
        (t("Exported"), escape(t("{time} by {user}", time=t.time(export["exported_at"]),
                                 user=export["exported_by"]))),
        (t("Audit chain head"), escape(t("seq {seq}", seq=head["seq"]))
         + f", <code>{_e(head['hash'])}</code>"),
        (t("Audit chain at export"), chain_text),
    ]  # fmt: skip
    return _kv(pairs, t, raw=True)


def _coverage(ev: Mapping[str, Any], t: Translator) -> str:
    cov = ev["coverage"]
    other = "en" if t.lang == "zh" else "zh"
    out = [
        '<p class="muted">'
        + escape(t("Matrix {version} ({source}, sha256 {digest}). Present or missing is "
                   "computed from the governance store at export, never entered by hand.",
                   version=cov["matrix"]["version"], source=cov["matrix"]["source"],
                   digest=cov["matrix"]["sha256"][:16]))
        + "</p>",
        "<p>" + escape(t("{covered} of {total} obligations have all their evidence.",
                         covered=t.number(cov["covered"]), total=t.number(cov["total"])))
        + "</p>",
    ]  # fmt: skip
    head = "".join(
        f"<th>{escape(t(h))}</th>" for h in ("Obligation", "Summary", "Evidence", "Status")
    )
    cols = '<colgroup><col class="ob"><col class="sum"><col class="ev"><col></colgroup>'
    rows = []
    for ob in cov["obligations"]:
        items = "<br>".join(
            (f'<span class="good">✓ {escape(t("present"))}</span>' if i["present"]
             else f'<span class="bad">✗ {escape(t("missing"))}</span>')
            + f" {escape(t('evidence:' + i['item']))} "
            + f'(<a href="#{escape(i["section"], quote=True)}">'
            + f"{escape(t(_TITLES.get(i['section'], i['section'])))}</a>)"
            for i in ob["evidence"]
        )  # fmt: skip
        status = (
            f'<span class="good">{escape(t("covered"))}</span>'
            if ob["covered"]
            else '<span class="bad">'
            + escape(t("MISSING: {items}", items=", ".join(t("evidence:" + m)
                                                            for m in ob["missing"])))
            + "</span>"
        )  # fmt: skip
        rows.append(
            f"<tr><td><b>{escape(ob['framework'])}</b><br>{escape(ob['reference'])}</td>"
            f"<td>{escape(ob['summary'][t.lang])}<br>"
            f'<span class="muted">{escape(ob["summary"][other])}</span></td>'
            f"<td>{items}</td><td>{status}</td></tr>"
        )
    out.append(
        f'<table class="coverage">{cols}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    return "".join(out)


def _card(ev: Mapping[str, Any], t: Translator) -> str:
    card = ev["card"]
    out = [f"<p>{escape(t('Revision {n}.', n=card['revision']))}"]
    if card["missing_required"]:
        out.append(
            f' <span class="bad">{escape(t("Missing required fields:"))} '
            f"{_e(card['missing_required'])}</span>"
        )
    out.append("</p>")
    out.append(
        _kv(sorted(card["fields"].items()), t)
        if card["fields"]
        else f"<p>{escape(t('No card.'))}</p>"
    )
    history = [
        {"revision": h["revision"], "at": h["at"], "by": h["by"], "fields": sorted(h["fields"])}
        for h in card["history"]
    ]
    out.append(f"<h3>{escape(t('Revisions'))}</h3>")
    out.append(
        _table(history, [("revision", "Revision"), ("at", "Time", _when(t)), ("by", "By"),
                         ("fields", "Fields")], t)
    )  # fmt: skip
    return "".join(out)


def _lineage(ev: Mapping[str, Any], t: Translator) -> str:
    lineage = dict(ev["lineage"])
    signature = lineage.pop("signature", None)
    datasets = lineage.pop("datasets", None) or []
    grade = lineage.pop("data_grade", None)
    out = [_kv(sorted(lineage.items()), t)]
    out.append(f"<h3>{escape(t('Training datasets'))}</h3>")
    out.append(_kv([(t("Data grade of the training data"), _grade(t, grade))], t, raw=True))
    out.append(
        _table(
            [d if isinstance(d, Mapping) else {"name": d} for d in datasets],
            [("name", "Name"), ("digest", "Digest"), ("source", "Source"),
             ("context", "Context")],
            t,
        )
    )  # fmt: skip
    inputs = (signature or {}).get("inputs") if isinstance(signature, Mapping) else None
    out.append(f"<h3>{escape(t('Input signature'))}</h3>")
    out.append(_table(inputs or [], [("name", "Column"), ("type", "Type")], t))
    files = [{"path": k, "sha256": v} for k, v in sorted(ev["fingerprint"]["files"].items())]
    out.append(
        f"<h3>{escape(t('Artifact files'))} ({escape(t('digest'))} "
        f"<code>{_e(ev['fingerprint']['digest'])}</code>)</h3>"
    )
    out.append(_table(files, [("path", "File"), ("sha256", "SHA-256")], t))
    out.append(f"<h3>{escape(t('Reference datasets (drift baseline)'))}</h3>")
    out.append(
        _table(
            # A reference row carries its grade and sensitivity as its own fields.
            [r | {"data_grade": r} for r in ev["references"]],
            [("file", "File"), ("sha256", "SHA-256"), ("rows", "Rows"),
             ("data_grade", "Data grade", lambda r: _grade(t, r)),
             ("recorded_at", "Recorded", _when(t)), ("recorded_by", "By")],
            t,
        )
    )  # fmt: skip
    return "".join(out)


def _metrics(ev: Mapping[str, Any], t: Translator) -> str:
    def result(met: Any) -> str:
        if met is None:
            return _e(None)
        return escape(t("met")) if met else f'<span class="bad">{escape(t("NOT MET"))}</span>'

    return _table(
        ev["metrics"],
        [("name", "Metric"), ("value", "Logged value"), ("required", "Policy requires"),
         ("met", "Result", result)],
        t,
    )  # fmt: skip


def _approvals(ev: Mapping[str, Any], t: Translator) -> str:
    if not ev["approvals"]:
        return f'<p class="muted">{escape(t("No approval was requested."))}</p>'
    out = []
    for a in ev["approvals"]:
        out.append(
            f"<h3>{escape(t('Request {id}: {state}', id=a['id'], state=t('state:' + a['state'])))}"
            "</h3>"
        )
        out.append(
            _kv(
                [
                    (t("Requested"), t("{time} by {user}", time=t.time(a["requested_at"]),
                                       user=a["requested_by"])),
                    (t("Approvals"), t("{count} of {required}", count=a["approvals_count"],
                                       required=a["approvals_required"])),
                    (t("Valid until"), t.time(a["expires_at"])),
                    (t("Closed"), t.time(a["closed_at"]) if a.get("closed_at") else None),
                    (t("Close reason"), a.get("closed_reason")),
                    (t("Note"), a.get("note")),
                    (t("Snapshot SHA-256"), a["snapshot_hash"]),
                ],
                t,
            )
        )  # fmt: skip
        out.append(
            _table(
                a["decisions"],
                [("at", "Time", _when(t)), ("approver", "Approver"),
                 ("decision", "Decision", lambda d: _word(t, "decision", d)),
                 ("comment", "Comment")],
                t,
            )
        )  # fmt: skip
        out.append(_details(t("Evidence snapshot the request is bound to"), a["snapshot"]))
    return "".join(out)


def _drift(ev: Mapping[str, Any], t: Translator) -> str:
    if not ev["drift"]:
        return f'<p class="muted">{escape(t("No drift check was recorded."))}</p>'
    titles = ("Result", "Time", "Purpose", "Engine", "Drifted share", "Detected",
              "Drifted columns", "Health", "Data", "Reports")  # fmt: skip
    head = "<tr>" + "".join(f"<th>{escape(t(h))}</th>" for h in titles) + "</tr>"
    rows = []
    for d in ev["drift"]:
        links = " ".join(
            filter(None, [_link(d.get("report_html"), "HTML"), _link(d.get("report_json"), "JSON")])
        )
        if d.get("reports_missing_at_export"):
            links += (
                f' <span class="bad">{escape(t("missing at export:"))} '
                f"{_e(d['reports_missing_at_export'])}</span>"
            )
        share = escape(t("{share} (threshold {threshold})", share=t.number(d["drifted_share"]),
                         threshold=t.number(d["share_threshold"])))  # fmt: skip
        data = escape(t("{source}, {rows} rows", source=d["current_source"],
                        rows=t.number(d["current_rows"])))  # fmt: skip
        rows.append(
            f"<tr><td>{_e(d['result_id'])}</td><td>{escape(t.time(d['time']))}</td>"
            f"<td>{escape(t('purpose:' + str(d['purpose'])))}</td><td>{_e(d['engine'])}</td>"
            f"<td>{share}</td><td>{_e(d['drift_detected'], t)}</td>"
            f"<td>{_e(d['drifted_columns'], t)}</td><td>{_word(t, 'health', d['health'])}</td>"
            f"<td>{data}</td><td>{links or _e(None)}</td></tr>"
        )
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _health(ev: Mapping[str, Any], t: Translator) -> str:
    timeline = ev["health_timeline"]
    health = lambda h: _word(t, "health", h)  # noqa: E731
    return health_chart_svg(timeline, t=t) + _table(
        timeline["changes"],
        [("time", "Time", _when(t)), ("from", "From", health), ("to", "To", health),
         ("drifted_share", "Drifted share"), ("actions", "Policy actions"),
         ("result_id", "Result")],
        t,
    )  # fmt: skip


def _deployments(ev: Mapping[str, Any], t: Translator) -> str:
    return _table(
        ev["deployments"],
        [("time", "Time", _when(t)), ("actor", "Actor"), ("action", "Event"),
         ("target", "Target"), ("detail", "Detail")],
        t,
    )  # fmt: skip


def _stages(ev: Mapping[str, Any], t: Translator) -> str:
    stage = lambda s: _word(t, "stage", s)  # noqa: E731
    return _table(
        ev["stage_history"],
        [("at", "Time", _when(t)), ("from", "From", stage), ("to", "To", stage),
         ("actor", "Actor"), ("reason", "Reason"), ("audit_seq", "Audit seq")],
        t,
    )  # fmt: skip


def _findings(ev: Mapping[str, Any], t: Translator) -> str:
    return _table(
        (ev.get("model_risk") or {}).get("findings", []),
        [("id", "Id"), ("severity", "Severity"), ("type", "Type"), ("title", "Title"),
         ("version", "Version (none: model-wide)"), ("state", "State"), ("owner", "Owner"),
         ("due_at", "Due", _when(t)), ("source", "Source"), ("resolution", "Resolution")],
        t,
    )  # fmt: skip


def _audit(ev: Mapping[str, Any], t: Translator) -> str:
    rows = []
    for e in ev["audit_events"]:
        payload = json.dumps(e["payload"], sort_keys=True, ensure_ascii=False)
        rows.append(
            f"<tr><td>{_e(e['seq'])}</td><td>{escape(t.time(e['time']))}</td>"
            f"<td>{_e(e['actor'])}</td><td>{_e(e['action'])}</td>"
            f"<td><code>{escape(payload)}</code></td>"
            f'<td><code title="{escape(e["hash"], quote=True)}">{_e(e["hash"][:16])}</code>'
            "</td></tr>"
        )
    titles = ("Seq", "Time", "Actor", "Action", "Payload", "Hash")
    head = "<tr>" + "".join(f"<th>{escape(t(h))}</th>" for h in titles) + "</tr>"
    cols = (
        '<colgroup><col class="seq"><col class="time"><col class="who"><col class="act"><col>'
        '<col class="hash"></colgroup>'
    )
    return f'<table class="audit">{cols}<thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


SECTIONS: list[Section] = [
    Section("summary", "Summary", _summary),
    Section("coverage", "Regulatory coverage", _coverage),
    Section("card", "Model card", _card),
    Section("lineage", "Lineage", _lineage),
    Section("metrics", "Metrics", _metrics),
    Section("approvals", "Approvals", _approvals),
    Section("drift", "Drift results", _drift),
    Section("health", "Health timeline", _health),
    Section("deployments", "Deployment history", _deployments),
    Section("stages", "Stage history", _stages),
    Section("model_risk", "Findings", _findings),
    Section("audit", "Audit events", _audit),
]
_TITLES = {s.key: s.title for s in SECTIONS}


def render_index(evidence: Mapping[str, Any], lang: str = DEFAULT) -> str:
    """The whole page for one evidence pack's content (as collected by mlgov.governance),
    in `lang` (en, zh)."""
    t = translator(lang)
    v = evidence["version"]
    title = t("Evidence pack: {model} version {version}", model=v["model"], version=v["version"])
    nav = "".join(f'<a href="#{s.key}">{escape(t(s.title))}</a>' for s in SECTIONS)
    sections = "".join(
        f'<section id="{s.key}"><h2>{escape(t(s.title))}</h2>{s.render(evidence, t)}</section>'
        for s in SECTIONS
    )
    exported = t.time(evidence["export"]["exported_at"])
    return (
        f'<!DOCTYPE html>\n<html lang="{HTML_LANG[t.lang]}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        '<p class="muted">'
        + escape(t("Exported by mlgov at {time}. The same content is in evidence.json; drift "
                   "reports are under reports/.", time=exported))
        + '</p><div class="note">'
        + escape(t("Integrity: manifest.json lists the SHA-256 of every file in this pack and "
                   "the audit chain's head at export. Check it with `mlgov report verify DIR`, "
                   "or compare each file with sha256sum."))
        + f"</div><nav>{nav}</nav>{sections}</body></html>\n"
    )  # fmt: skip
