"""Registration, evidence and retirement over real HTTP: a `mlgov server` subprocess on its
own home (real MLflow run, real Evidently check on an uploaded file, a real evidence pack
downloaded as a zip and verified), every call with a token."""

from __future__ import annotations

import io
import warnings
import zipfile
from pathlib import Path

import httpx
import pandas as pd
import pytest
from support.server_process import start_server, stop_server

from .conftest import ADMIN, CARD, POLICY, TEAM, Home  # noqa: TID252 (conftest is no package)

pytestmark = pytest.mark.slow
ORDERED_STEPS = True
MODEL = "scoring"
LIMIT_MB = 1


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory):
    from support.toy_models import breast_cancer_frames, log_toy_model

    base = tmp_path_factory.mktemp("rest-evidence")
    files = base / "files"
    files.mkdir()
    policy = files / "policy.toml"
    policy.write_text(POLICY)
    h = Home(root=base / "home", files=files, policy=policy)
    x_train, x_test, _, _ = breast_cancer_frames(0)
    x_train.to_csv(files / "ref.csv", index=False)
    x_test.to_parquet(files / "cur.parquet", index=False)
    h.cli(ADMIN, "init", "--keys")
    h.cli(ADMIN, "policy", "set", str(policy))
    for name, role in TEAM.items():
        h.cli(ADMIN, "users", "add", name, "--role", role)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        run_id, _ = log_toy_model(
            h.tracking_uri, experiment="rest", artifact_location=str(h.artifact_root)
        )
    users = ("dana", "rita", "eve", "aud", ADMIN)
    tokens = {u: h.json(ADMIN, "tokens", "create", u)["token"] for u in users}

    proc, base_url = start_server(h.env() | {"MLGOV_MAX_UPLOAD_MB": str(LIMIT_MB)})
    url = f"{base_url}/api/v1"

    def call(method: str, path: str, user: str, body: object = None, **kw) -> httpx.Response:
        headers = {"Authorization": f"Bearer {tokens[user]}", **kw.pop("headers", {})}
        return httpx.request(method, url + path, headers=headers, json=body, timeout=300, **kw)

    state = {"call": call, "url": url, "home": h, "run_id": run_id, "files": files, "version": None}
    yield state
    output = stop_server(proc)
    for secret in tokens.values():
        assert secret not in output
    assert "mean radius" not in output  # no column of the uploaded data reached the log


def _path(api) -> str:
    return f"/models/{MODEL}/versions/{api['version']}"


def _uploads(api) -> list[Path]:
    folder = api["home"].root / "uploads"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def test_the_data_scientist_registers_a_run(api) -> None:
    call = api["call"]
    missing = call("POST", f"/models/{MODEL}/versions", "dana", {"risk_tier": "high"})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "body.purpose"
    refused = call(
        "POST",
        f"/models/{MODEL}/versions",
        "eve",
        {"run_id": api["run_id"], "risk_tier": "high", "purpose": "x"},
    )
    assert refused.status_code == 403, refused.text
    r = call(
        "POST",
        f"/models/{MODEL}/versions",
        "dana",
        {"run_id": api["run_id"], "risk_tier": "high", "purpose": "second reading"},
    )
    assert r.status_code == 201, r.text
    assert (r.json()["stage"], r.json()["risk_tier"], r.json()["registered_by"]) == (
        "develop",
        "high",
        "dana",
    )
    api["version"] = str(r.json()["version"])
    assert call("GET", f"/models/{MODEL}", "aud").json()["versions"][0]["stage"] == "develop"


def test_the_card_is_written_and_read_over_http(api) -> None:
    call = api["call"]
    empty = call("PUT", f"{_path(api)}/card", "dana", {"fields": {}})
    assert empty.status_code == 422, empty.text
    bad = call("PUT", f"{_path(api)}/card", "dana", {"fields": {"owner contact": "x"}})
    assert bad.status_code == 400 and "owner contact" in bad.json()["detail"], bad.text
    assert call("GET", f"{_path(api)}/card", "aud").json()["revision"] == 0
    r = call("PUT", f"{_path(api)}/card", "dana", {"fields": CARD})
    assert r.status_code == 200, r.text
    assert (r.json()["revision"], r.json()["missing_required"]) == (1, [])
    shown = call("GET", f"{_path(api)}/card", "aud").json()
    assert shown["fields"] == CARD


def test_the_reference_is_uploaded_as_a_stream(api) -> None:
    call = api["call"]
    data = (api["files"] / "ref.csv").read_bytes()
    anonymous = httpx.put(
        api["url"] + f"{_path(api)}/reference", content=data, headers={"content-type": "text/csv"}
    )
    assert anonymous.status_code == 401  # the body is not taken before the caller is known
    wrong = call("PUT", f"{_path(api)}/reference", "dana", content=data)
    assert wrong.status_code == 400 and "Content-Type" in wrong.json()["detail"], wrong.text
    big = b"a,b\n" + b"1,2\n" * (LIMIT_MB * 1024 * 1024 // 4 + 10)
    too_big = call(
        "PUT", f"{_path(api)}/reference", "dana", content=big, headers={"content-type": "text/csv"}
    )
    assert too_big.status_code == 413 and f"{LIMIT_MB} MB" in too_big.json()["detail"]
    garbage = call(
        "PUT",
        f"{_path(api)}/reference",
        "dana",
        content="\ufeffname\x00\n".encode("utf-16"),
        headers={"content-type": "text/csv"},
    )
    assert garbage.status_code == 400, garbage.text
    r = call(
        "PUT",
        f"{_path(api)}/reference?filename=../../ref.csv",
        "dana",
        content=data,
        headers={"content-type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["rows"] == data.count(b"\n") - 1
    assert r.json()["file"] == "ref.csv"  # the client's name, reduced: it never picks a path
    assert Path(r.json()["stored_at"]).is_file()  # the kept copy; the upload itself is gone
    assert _uploads(api) == []


def test_a_drift_check_runs_on_an_uploaded_parquet_file(api) -> None:
    call = api["call"]
    h: Home = api["home"]
    h.cli("dana", "promote", MODEL, api["version"], "--to", "train")
    r = call(
        "POST",
        f"{_path(api)}/drift-checks?filename=cur.parquet",
        "eve",
        content=(api["files"] / "cur.parquet").read_bytes(),
        headers={"content-type": "application/vnd.apache.parquet"},
    )
    assert r.status_code == 201, r.text
    check = r.json()
    assert (check["drift_detected"], check["by"]) == (False, "eve")
    assert check["current_rows"] == len(pd.read_parquet(api["files"] / "cur.parquet"))
    report = call("GET", f"{_path(api)}/drift-checks/{check['result_id']}/report", "aud")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert report.headers["content-security-policy"] == "sandbox allow-scripts"
    assert "attachment" in report.headers["content-disposition"]
    assert report.content == Path(check["report_html"]).read_bytes()
    assert b"root_metric" in report.content  # Evidently's own report
    missing = call("GET", f"{_path(api)}/drift-checks/999/report", "aud")
    assert missing.status_code == 404
    assert [c["result_id"] for c in call("GET", f"{_path(api)}/drift-checks", "aud").json()] == [
        check["result_id"]
    ]
    assert _uploads(api) == []


def test_the_evidence_pack_downloads_as_a_zip_that_verifies(api, tmp_path: Path) -> None:
    r = api["call"]("POST", f"{_path(api)}/evidence-packs", "aud")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.content)) as archive:
        archive.extractall(tmp_path)
    pack = tmp_path / f"evidence-{MODEL}-{api['version']}"
    assert (pack / "manifest.json").is_file()
    h: Home = api["home"]
    verified = h.json("aud", "report", "verify", str(pack), "--with-audit")
    assert verified["ok"] is True, verified
    assert verified["manifest_sha256"] == r.headers["x-mlgov-manifest-sha256"]
    assert verified["audit"]["export_event_seq"] == int(r.headers["x-mlgov-export-event"])
    assert _uploads(api) == []


def test_retirement_stale_listing_and_reconcile(api) -> None:
    call = api["call"]
    stale = call("GET", "/stale-versions?days=1", "rita")
    assert stale.status_code == 200 and stale.json() == [], stale.text  # active today
    assert call("GET", "/stale-versions?days=0", "rita").status_code == 422
    unknown = call("GET", "/stale-versions?model=nope", "rita")
    assert unknown.status_code == 404 and "unknown model 'nope'" in unknown.text, unknown.text
    no_reason = call("POST", f"{_path(api)}/retirement", "rita", {})
    assert no_reason.status_code == 422
    # Not the owner (who may retire a version that is not serving), nor a risk officer.
    denied = call("POST", f"{_path(api)}/retirement", "eve", {"reason": "superseded"})
    assert denied.status_code == 403, denied.text
    r = call("POST", f"{_path(api)}/retirement", "rita", {"reason": "superseded"})
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "retire"
    again = call("POST", f"{_path(api)}/retirement", "rita", {"reason": "twice"})
    assert again.status_code == 409, again.text
    settled = call("POST", "/reconciliation", "eve", {"fix": False})
    assert settled.status_code == 200, settled.text
    assert settled.json()["findings"] == [], settled.json()
    assert call("POST", "/reconciliation", "aud", {}).status_code == 403
    events = api["home"].json("aud", "audit", "log")
    acts = [(e["actor"], e["action"]) for e in events if e["actor"] != ADMIN]
    for expected in (
        ("dana", "version.register"),
        ("dana", "card.update"),
        ("dana", "reference.record"),
        ("eve", "drift.check"),
        ("aud", "report.export"),
        ("rita", "stage.change"),
    ):
        assert expected in acts, (expected, sorted(set(acts)))
    assert api["home"].json("aud", "audit", "verify")["ok"] is True
