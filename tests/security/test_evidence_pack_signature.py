"""Issue 16, item 4: a forged evidence pack must not verify.

The forgery as reported: change an approver's name in evidence.json and recompute its line
in manifest.json. With the installation's signing key (`mlgov init --keys`, the audit
checkpoints' key) the pack carries manifest.sig and `report verify` refuses the forgery,
naming the manifest's signature; without a key it says it checked internal consistency
only, and `--with-audit` says what it checked against the audit trail.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mlgov.cli.main import cli
from mlgov.governance import approvals
from mlgov.governance.ports import RegisteredVersion
from mlgov.governance.service import Governance
from mlgov.governance.store import Store


@pytest.fixture
def home(tmp_path: Path, monkeypatch) -> Path:
    """credit/1 (train) approved by risk officer `rita`; fake MLflow."""
    from mlgov import app
    from mlgov.governance.testing import FakeRegistry

    for var in ("MLGOV_POLICY", "MLGOV_DB_URL", "MLGOV_SIGNING_KEY", "MLGOV_VERIFY_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(app, "build_registry", lambda settings: FakeRegistry())
    home = tmp_path / "home"
    runner = CliRunner()
    assert runner.invoke(cli, ["--home", str(home), "--user", "admin", "init"]).exit_code == 0
    for user, role in (("dana", "data_scientist"), ("rita", "risk_officer"), ("aud", "auditor")):
        args = ["--home", str(home), "--user", "admin", "users", "add", user, "--role", role]
        assert runner.invoke(cli, args).exit_code == 0
    gov = Governance(Store(f"sqlite:///{home / 'governance.db'}"), home=home)
    gov.record_registration(
        "dana",
        RegisteredVersion(
            model="credit",
            version="1",
            source_uri="models:/m-1",
            run_id="run1",
            experiment_id="0",
            fingerprint={"MLmodel": "0" * 64},
        ),
        risk_tier="low",
        purpose="credit scoring",
        owner="dana",
    )
    gov.promote("dana", "credit", "1", "train")
    approvals.request_approval(gov, "dana", "credit", "1")
    approvals.decide(gov, "rita", "credit", "1", approve=True, comment="reviewed")
    gov.store.engine.dispose()
    return home


def mlgov(home: Path, *args: str, user: str = "aud") -> Result:
    return CliRunner().invoke(cli, ["--home", str(home), "--user", user, *args])


def export(home: Path, out: Path) -> Path:
    result = mlgov(home, "report", "credit", "1", "--out", str(out))
    assert result.exit_code == 0, result.output
    signed = (home / "keys" / "audit-signing.key").exists()
    assert ("manifest signed by key" in result.output) is signed
    assert ("manifest NOT signed" in result.output) is not signed
    return out


def forge_approver(pack: Path, name: str = "omar") -> None:
    """The reported forgery: another approver's name, and its manifest line recomputed."""
    evidence = json.loads((pack / "evidence.json").read_text())
    decision = evidence["approvals"][0]["decisions"][0]
    assert decision["approver"] == "rita"
    decision["approver"] = name
    data = (json.dumps(evidence, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    (pack / "evidence.json").write_bytes(data)
    manifest = json.loads((pack / "manifest.json").read_text())
    for entry in manifest["files"]:
        if entry["path"] == "evidence.json":
            entry["sha256"], entry["bytes"] = hashlib.sha256(data).hexdigest(), len(data)
    (pack / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


@pytest.fixture
def keyed(home: Path) -> Path:
    result = mlgov(home, "init", "--keys", user="admin")
    assert result.exit_code == 0, result.output
    return home


def test_a_signed_pack_verifies_by_its_signature(keyed, tmp_path):
    pack = export(keyed, tmp_path / "pack")
    assert (pack / "manifest.sig").is_file()
    result = mlgov(keyed, "report", "verify", str(pack))
    assert result.exit_code == 0, result.output
    assert "verified:" in result.output and "signed by key" in result.output
    assert "internal consistency only" not in result.output


def test_forged_approver_with_recomputed_manifest_fails_the_signature(keyed, tmp_path):
    pack = export(keyed, tmp_path / "pack")
    forge_approver(pack)
    result = mlgov(keyed, "report", "verify", str(pack))
    assert result.exit_code == 1, result.output
    assert "the signature of manifest.json does not verify" in result.output
    assert "NOT verified" in result.stderr


def test_a_signed_pack_stripped_of_its_signature_fails(keyed, tmp_path):
    pack = export(keyed, tmp_path / "pack")
    forge_approver(pack)
    (pack / "manifest.sig").unlink()
    result = mlgov(keyed, "report", "verify", str(pack))
    assert result.exit_code == 1, result.output
    assert "manifest.json is not signed" in result.output


def test_an_examiner_checks_the_signature_with_the_public_key_alone(keyed, home, tmp_path):
    pack = export(keyed, tmp_path / "pack")
    public = tmp_path / "bank.pub"
    public.write_bytes((home / "keys" / "audit-signing.pub").read_bytes())
    elsewhere = tmp_path / "examiner-home"  # no keys, no governance store of the bank's
    ok = mlgov(elsewhere, "report", "verify", str(pack), "--public-key", str(public))
    assert ok.exit_code == 0 and "signed by key" in ok.output, ok.output
    forge_approver(pack)
    forged = mlgov(elsewhere, "report", "verify", str(pack), "--public-key", str(public))
    assert forged.exit_code == 1 and "does not verify" in forged.output


def test_without_a_key_verify_says_it_checked_internal_consistency_only(home, tmp_path):
    pack = export(home, tmp_path / "pack")
    assert not (pack / "manifest.sig").exists()
    forge_approver(pack)
    result = mlgov(home, "report", "verify", str(pack))
    # Exit 0: the pack is consistent with itself, and that is all that can be known here.
    assert result.exit_code == 0, result.output
    assert "verified (internal consistency only)" in result.output
    assert "the manifest is not signed" in result.output and "--with-audit" in result.output
    as_json = json.loads(mlgov(home, "report", "verify", str(pack), "--format", "json").output)
    assert as_json["assurance"] == "internal consistency only"


def test_with_audit_says_what_it_checked_and_catches_the_forgery(home, tmp_path):
    pack = export(home, tmp_path / "pack")
    result = mlgov(home, "report", "verify", str(pack), "--with-audit")
    assert result.exit_code == 0, result.output
    assert "audit trail: report.export event seq" in result.output
    assert "records this manifest's SHA-256" in result.output
    assert "is on this store's chain" in result.output
    forge_approver(pack)
    forged = mlgov(home, "report", "verify", str(pack), "--with-audit")
    assert forged.exit_code == 1
    assert "no report.export event in the audit trail records this manifest" in forged.output
