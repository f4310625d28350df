"""Evidence packs: what they contain, where they may be written, and tamper detection."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from mlgov.governance import approvals, cards
from mlgov.governance.drift import ColumnDrift, DriftResult, DriftSpec
from mlgov.governance.drift_checks import CHECK, MONITOR, store_result
from mlgov.governance.errors import BadInput, NotFound, UnknownUser
from mlgov.governance.evidence_pack import (
    MANIFEST,
    export_pack,
    verify_against_audit,
    verify_pack,
)
from mlgov.governance.lifecycle import Stage
from mlgov.report_html import render_index

HOSTILE = "<script>alert('x')</script> & co"


def _drift(gov, purpose: str, share: float, health: str | None, tag: str) -> int:
    staging = gov.home / "staging" / tag
    staging.mkdir(parents=True)
    (staging / "report.html").write_text(f"<html>evidently report {tag}</html>")
    (staging / "report.json").write_text(json.dumps({"tag": tag}))
    result = DriftResult(
        columns=(
            ColumnDrift("income", "numerical", "ks", 0.01, 0.05, share >= 0.5),
            ColumnDrift("age", "numerical", "ks", 0.40, 0.05, False),
        ),
        drifted_share=share,
        share_threshold=0.5,
        drift_detected=share >= 0.5,
        reference_rows=100,
        current_rows=80,
        engine="evidently",
    )
    with gov.store.transaction() as s:
        v = gov.version(s, "credit", "1", lock=True)
        record = store_result(
            gov, s, "eng", v, result, DriftSpec(), purpose=purpose,
            reference_sha256="a" * 64, current_sha256=hashlib.sha256(tag.encode()).hexdigest(),
            current_source=f"{tag}.csv", report_dir=staging, health=health,
        )  # fmt: skip
        if health and health != v.health:
            gov.audit(
                s, "eng", "health.change", f"model:{v.label}",
                {"from": v.health, "to": health, "result_id": record.id,
                 "drifted_share": share, "actions": ["notify"]},
            )  # fmt: skip
            v.health = health
        return record.id


@pytest.fixture
def evidenced(in_train, clock):
    """credit/1: rejected once, approved by two, checked for drift, deployed on target
    'scoring', in evaluate, then a monitoring result that turned health to warning."""
    gov = in_train

    def record_deployment(ctx):  # what the deploy adapter's effect adds to the move's event
        ctx.audit_payload["deployment"] = {"target": "scoring", "id": 7, "bento_tag": "credit:abc"}

    gov.gates.add_effect(Stage.DEPLOY, "record_deployment", record_deployment)
    clock.advance(days=1)
    approvals.request_approval(gov, "ds1", "credit", "1")
    approvals.decide(gov, "ro1", "credit", "1", approve=False, comment=f"KS too low {HOSTILE}")
    clock.advance(days=1)
    approvals.request_approval(gov, "ds1", "credit", "1", note="retrained")
    approvals.decide(gov, "ro1", "credit", "1", approve=True, comment="fine now")
    approvals.decide(gov, "ro2", "credit", "1", approve=True, comment="agreed")
    clock.advance(hours=2)
    _drift(gov, CHECK, 0.0, None, "predeploy")
    clock.advance(hours=2)
    gov.promote("eng", "credit", "1", "deploy")
    clock.advance(days=1)
    gov.promote("eng", "credit", "1", "evaluate")
    clock.advance(days=3)
    _drift(gov, MONITOR, 0.3, "warning", "week1")
    clock.advance(days=1)
    return gov


def _pack(gov, tmp_path: Path, who: str = "aud") -> tuple[Path, dict]:
    out = tmp_path / "pack"
    return out, export_pack(gov, who, "credit", "1", out, render_html=render_index)


def test_pack_contains_approvals_drift_deployments_and_events(evidenced, tmp_path):
    head_before = evidenced.audit_verify("aud")
    out, result = _pack(evidenced, tmp_path)
    evidence = json.loads((out / "evidence.json").read_text())
    assert [a["state"] for a in evidence["approvals"]] == ["rejected", "approved"]
    decisions = evidence["approvals"][1]["decisions"]
    assert [(d["approver"], d["comment"]) for d in decisions] == [
        ("ro1", "fine now"),
        ("ro2", "agreed"),
    ]
    assert evidence["approvals"][1]["snapshot"]["card"]["fields"]["fallback_plan"]
    assert [d["purpose"] for d in evidence["drift"]] == ["check", "monitor"]
    for record in evidence["drift"]:
        copied = out / record["report_html"]
        assert (
            copied.read_text() == f"<html>evidently report {record['current_source'][:-4]}</html>"
        )
        assert (out / record["report_json"]).is_file()
    assert evidence["card"]["fields"]["intended_use"] == "score retail credit applications"
    assert evidence["lineage"]["run_id"] == "r1"
    assert evidence["metrics"] == [{"name": "roc_auc", "value": 0.8, "required": None, "met": None}]
    assert [c["to"] for c in evidence["health_timeline"]["changes"]] == ["warning"]
    assert len(evidence["health_timeline"]["points"]) == 2
    deploy = [d for d in evidence["deployments"] if d["target"] == "scoring"]
    assert deploy and "deployment 7" in deploy[0]["detail"]
    assert [s["to"] for s in evidence["stage_history"]] == [
        "develop",
        "train",
        "deploy",
        "evaluate",
    ]
    actions = [e["action"] for e in evidence["audit_events"]]
    assert actions[0] == "version.register" and "approval.decide" in actions
    assert evidence["export"]["audit_head"] == {
        "seq": head_before.head_seq,
        "hash": head_before.head_hash,
    }
    manifest = json.loads((out / MANIFEST).read_text())
    listed = {f["path"] for f in manifest["files"]}
    assert listed == {
        "index.html",
        "evidence.json",
        "reports/drift-1.html",
        "reports/drift-1.json",
        "reports/drift-2.html",
        "reports/drift-2.json",
    }
    assert manifest["audit_head"]["hash"] == head_before.head_hash
    export_event = evidenced.audit_log("aud", action="report.export")[-1]
    assert export_event["actor"] == "aud" and export_event["subject"] == "model:credit/1"
    assert export_event["payload"] == {
        "out_dir": "pack",
        "manifest_sha256": hashlib.sha256((out / MANIFEST).read_bytes()).hexdigest(),
    }
    assert result["export_event_seq"] == head_before.head_seq + 1
    assert verify_pack(out)["ok"] and verify_against_audit(evidenced, "aud", out) == []


def test_index_html_is_self_contained_and_escaped(evidenced, tmp_path):
    out, _ = _pack(evidenced, tmp_path)
    page = (out / "index.html").read_text()
    assert "<script" not in page and "&lt;script&gt;" in page
    assert 'href="reports/drift-2.html"' in page and "fine now" in page
    assert page.count("<svg") == 1 and page.count("<circle") == 2
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    for section in ("Model card", "Lineage", "Approvals", "Drift results", "Deployment history"):
        assert f">{section}</h2>" in page


@pytest.mark.parametrize("tamper", ["changed", "missing", "added"])
def test_verify_detects_and_names_each_tampering(evidenced, tmp_path, tamper):
    out, _ = _pack(evidenced, tmp_path)
    if tamper == "changed":
        path = out / "reports" / "drift-1.json"
        data = bytearray(path.read_bytes())
        data[0] ^= 1  # one changed byte
        path.write_bytes(bytes(data))
        expected = "reports/drift-1.json"
    elif tamper == "missing":
        (out / "evidence.json").unlink()
        expected = "evidence.json"
    else:
        (out / "reports" / "extra.html").write_text("<html>not from mlgov</html>")
        expected = "reports/extra.html"
    result = verify_pack(out)
    assert not result["ok"]
    assert result[tamper] == [expected]
    others = {"changed", "missing", "added"} - {tamper}
    assert all(result[k] == [] for k in others)


def test_a_rewritten_manifest_passes_alone_but_not_against_the_audit_trail(evidenced, tmp_path):
    out, _ = _pack(evidenced, tmp_path)
    (out / "evidence.json").write_text("{}\n")
    manifest = json.loads((out / MANIFEST).read_text())
    for entry in manifest["files"]:
        if entry["path"] == "evidence.json":
            entry["sha256"] = hashlib.sha256(b"{}\n").hexdigest()
    (out / MANIFEST).write_text(json.dumps(manifest))
    assert verify_pack(out)["ok"]  # consistent with itself...
    problems = verify_against_audit(evidenced, "aud", out)
    assert len(problems) == 1 and "no report.export event" in problems[0]  # ...but not recorded


def test_missing_or_broken_manifest_fails(evidenced, tmp_path):
    out, _ = _pack(evidenced, tmp_path)
    (out / MANIFEST).write_text("not json")
    assert verify_pack(out)["problems"] == [
        "manifest.json is not a readable evidence-pack manifest"
    ]
    (out / MANIFEST).unlink()
    assert not verify_pack(out)["ok"]
    with pytest.raises(BadInput, match="not a directory"):
        verify_pack(tmp_path / "nowhere")


def test_manifest_paths_may_not_escape_the_pack(evidenced, tmp_path):
    out, _ = _pack(evidenced, tmp_path)
    manifest = json.loads((out / MANIFEST).read_text())
    manifest["files"].append({"path": "../outside.txt", "sha256": "0" * 64})
    (out / MANIFEST).write_text(json.dumps(manifest))
    result = verify_pack(out)
    assert not result["ok"] and "invalid path '../outside.txt'" in result["problems"][0]


def test_out_must_be_new_or_empty_and_refusals_write_nothing(evidenced, tmp_path):
    exports = lambda: len(evidenced.audit_log("aud", action="report.export"))  # noqa: E731
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for out, message in (
        (busy, "not empty"),
        (a_file, "not a directory"),
        (tmp_path / "no" / "pack", "does not exist"),
    ):
        with pytest.raises(BadInput, match=message):
            export_pack(evidenced, "aud", "credit", "1", out, render_html=render_index)
    with pytest.raises(NotFound):
        export_pack(evidenced, "aud", "credit", "9", tmp_path / "p9", render_html=render_index)
    with pytest.raises(UnknownUser):
        export_pack(evidenced, "nobody", "credit", "1", tmp_path / "p", render_html=render_index)
    assert exports() == 0 and (busy / "keep.txt").read_text() == "mine"
    empty = tmp_path / "empty"
    empty.mkdir()
    export_pack(evidenced, "ro1", "credit", "1", empty, render_html=render_index)
    assert verify_pack(empty)["ok"] and exports() == 1
    assert [p.name for p in tmp_path.iterdir() if ".partial-" in p.name] == []


@pytest.mark.parametrize("when", ["audit", "commit"])
def test_a_failed_export_leaves_no_pack_and_no_event(evidenced, tmp_path, monkeypatch, when):
    from contextlib import contextmanager

    exports = tmp_path / "exports"
    exports.mkdir()
    if when == "audit":
        original = evidenced.audit

        def failing(s, actor, action, subject, payload):
            if action == "report.export":
                raise RuntimeError("database went away")
            return original(s, actor, action, subject, payload)

        monkeypatch.setattr(evidenced, "audit", failing)
    else:  # the pack is in place when the commit fails: it must go again
        transaction = evidenced.store.transaction

        @contextmanager
        def failing_commit():
            with transaction() as s:
                yield s
                if (exports / "pack").exists():
                    raise RuntimeError("commit failed")

        monkeypatch.setattr(evidenced.store, "transaction", failing_commit)
    with pytest.raises(RuntimeError):
        export_pack(evidenced, "aud", "credit", "1", exports / "pack", render_html=render_index)
    assert list(exports.iterdir()) == []
    monkeypatch.undo()
    assert evidenced.audit_log("aud", action="report.export") == []


def test_pack_of_a_version_without_evidence(governed, tmp_path):
    governed.register("ds1", "plain", risk_tier="low", purpose="p", run_id="r9")
    cards.set_card(governed, "ds1", "plain", "1", {"intended_use": HOSTILE})
    out = tmp_path / "plain"
    export_pack(governed, "aud", "plain", "1", out, render_html=render_index)
    evidence = json.loads((out / "evidence.json").read_text())
    assert evidence["approvals"] == [] and evidence["drift"] == []
    assert evidence["deployments"] == [] and evidence["card"]["missing_required"]
    assert not (out / "reports").exists() and verify_pack(out)["checked"] == 2
    assert "&lt;script&gt;" in (out / "index.html").read_text()


# --- languages, PDF and the coverage matrix --------------------------------------------------


def _pack_in(gov, tmp_path: Path, languages: tuple[str, ...], pdf: bool = False, **kw) -> Path:
    from mlgov.api.reports import pack_renderers

    first, more = pack_renderers(languages, pdf)
    out = tmp_path / "pack"
    export_pack(gov, "aud", "credit", "1", out, render_html=first, render_more=more, **kw)
    return out


def test_pages_in_chinese_and_english_are_listed_in_the_manifest(evidenced, tmp_path):
    out = _pack_in(evidenced, tmp_path, ("zh", "en"), pdf=True)
    zh, en = (out / "index.html").read_text(), (out / "index.en.html").read_text()
    assert '<html lang="zh-Hans">' in zh and '<html lang="en">' in en
    for heading_zh, heading_en in (("监管要求覆盖矩阵", "Regulatory coverage"),
                                   ("模型卡", "Model card"), ("审批", "Approvals"),
                                   ("漂移检测结果", "Drift results")):  # fmt: skip
        assert f">{heading_zh}</h2>" in zh and f">{heading_en}</h2>" in en
        assert f">{heading_en}</h2>" not in zh
    assert "&lt;script&gt;" in zh and "<script" not in zh  # user text stays text
    assert "年" in zh and "UTC" in zh  # dates in the language's own format
    listed = {f["path"] for f in json.loads((out / MANIFEST).read_text())["files"]}
    assert {"index.html", "index.en.html", "evidence-pack.zh.pdf", "evidence-pack.en.pdf"} <= listed
    assert verify_pack(out)["ok"]
    for lang in ("zh", "en"):
        pdf = (out / f"evidence-pack.{lang}.pdf").read_bytes()
        assert pdf.startswith(b"%PDF-") and pdf.count(b"/EmbeddedFile") >= 2  # once per report
    import shutil
    import subprocess

    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils (pdftotext, pdffonts, pdftoppm) is not installed")
    for lang, heading, absent in (("zh", "监管要求覆盖矩阵", "Regulatory coverage"),
                                  ("en", "Regulatory coverage", "监管要求覆盖矩阵")):  # fmt: skip
        pdf = out / f"evidence-pack.{lang}.pdf"
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
        assert heading in text and absent not in text
        fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True).stdout
        cjk = [line for line in fonts.splitlines() if "CJK" in line]
        assert cjk and all(line.split()[-5] == "yes" for line in cjk)  # the `emb` column
    first_page = ["pdftoppm", "-r", "30", "-f", "1", "-l", "1", "-gray"]
    subprocess.run(
        [*first_page, str(out / "evidence-pack.zh.pdf"), str(tmp_path / "page")], check=True
    )
    page = next(tmp_path.glob("page*.pgm")).read_bytes()
    pixels = page[page.index(b"255\n") + 4 :]
    assert sum(1 for b in pixels if b < 128) > len(pixels) // 200  # text drawn, not blank


def _coverage(out: Path) -> dict:
    rows = json.loads((out / "evidence.json").read_text())["coverage"]["obligations"]
    return {i["item"]: i["present"] for r in rows for i in r["evidence"]}


def test_the_matrix_marks_evidence_present_or_missing_from_the_store(evidenced, governed, tmp_path):
    full = _coverage(_pack_in(evidenced, tmp_path, ("en",)))
    assert full["reference_dataset"] and full["approval"] and full["monitoring_data"]
    assert not full["training_data_grade"] and not full["reference_data_grade"]
    governed.register("ds1", "plain", risk_tier="low", purpose="p", run_id="r9")
    out = tmp_path / "plain"
    export_pack(governed, "aud", "plain", "1", out, render_html=render_index)
    bare = _coverage(out)
    assert not bare["reference_dataset"] and not bare["approval"] and not bare["model_card"]
    assert "MISSING" in (out / "index.html").read_text()


def test_a_bank_matrix_naming_an_unknown_item_is_refused(evidenced, tmp_path):
    own = tmp_path / "matrix.toml"
    own.write_text(
        'format = "mlgov-coverage-matrix/1"\nversion = "bank-1"\n[[obligations]]\n'
        'id = "x"\nframework = "F"\nreference = "R"\nsummary_en = "e"\nsummary_zh = "z"\n'
        'evidence = ["approval", "typed_by_hand"]\n'
    )
    with pytest.raises(BadInput, match="unknown evidence item.*typed_by_hand"):
        _pack_in(evidenced, tmp_path, ("en",), matrix=own)
    assert not (tmp_path / "pack").exists()


def test_data_grades_recorded_at_registration_and_reference_answer_the_matrix(governed, tmp_path):
    from mlgov.governance.data_grade import DataGrade
    from mlgov.governance.references import record_reference

    governed.register(
        "ds1", "graded", risk_tier="low", purpose="p", run_id="r9",
        data_grade=DataGrade("important", True),
    )  # fmt: skip
    ungraded = tmp_path / "ungraded"
    export_pack(governed, "aud", "graded", "1", ungraded, render_html=render_index)
    first = _coverage(ungraded)
    assert first["training_data_grade"] and not first["reference_data_grade"]
    ref = tmp_path / "reference.csv"
    ref.write_text("x\n1.0\n2.0\n")
    record_reference(governed, "ds1", "graded", "1", ref, data_grade=DataGrade("general", False))
    out = tmp_path / "graded"
    export_pack(governed, "aud", "graded", "1", out, render_html=render_index)
    both = _coverage(out)
    assert both["training_data_grade"] and both["reference_data_grade"]
    page = (out / "index.html").read_text()
    assert "sensitive" in page and "general" in page.lower()
    from mlgov.api.reports import pack_renderers

    first, more = pack_renderers(("zh",), False)
    zh = tmp_path / "graded-zh"
    export_pack(governed, "aud", "graded", "1", zh, render_html=first, render_more=more)
    pages = "".join(p.read_text() for p in zh.glob("*.html"))
    assert "重要数据" in pages and "一般数据" in pages and "非敏感" in pages
