"""Every command x role: allowed (exit 0) or refused with exit 1 naming the missing role."""

from __future__ import annotations

import pytest

ALL = {"admin", "data_scientist", "risk_officer", "ml_engineer", "auditor"}
USER_OF = {
    "admin": "u_admin",
    "data_scientist": "u_ds",
    "risk_officer": "u_ro",
    "ml_engineer": "u_eng",
    "auditor": "u_aud",
}

# (command line, roles allowed). Extended by each package that adds commands.
MATRIX = [
    (["whoami"], ALL),
    (["users", "list"], ALL),
    (["users", "add", "newcomer", "--role", "auditor"], {"admin"}),
    (["users", "remove", "u_aud"], {"admin"}),
    (["policy", "show"], ALL),
    (["models", "list"], ALL),
    (["models", "show", "credit"], ALL),
    (["models", "show", "credit", "1"], ALL),
    (["promote", "credit", "1", "--to", "train"], {"data_scientist"}),
    (["promote", "credit", "2", "--to", "deploy"], {"ml_engineer"}),
    (["promote", "credit", "3", "--to", "evaluate"], {"ml_engineer"}),
    (["retire", "credit", "1", "--reason", "obsolete"], {"admin", "risk_officer"}),
    (["models", "card", "credit", "1", "--set", "intended_use=scoring"], {"data_scientist"}),
    (["models", "card", "credit", "1", "--show"], ALL),
    (["approvals", "list"], ALL),
    (["approvals", "show", "credit", "2"], ALL),
    (["approvals", "request", "credit", "4"], {"data_scientist"}),
    (["approve", "credit", "2", "--comment", "ok"], {"risk_officer"}),
    (["reject", "credit", "2", "--reason", "not yet"], {"risk_officer"}),
    (["deploy", "credit", "2"], {"ml_engineer"}),
    (["undeploy", "scoring"], {"ml_engineer"}),
    (["deployments", "list"], ALL),
    (["monitor", "history", "credit", "3"], ALL),
    (["monitor", "ack", "credit", "3", "--comment", "reviewed"], {"risk_officer"}),
    (["reconcile", "--fix", "--skip-artifacts"], {"admin", "ml_engineer"}),
    (["retire", "--stale", "--dry-run", "--days", "0"], ALL),
    (["retire", "--stale", "--yes", "--days", "0"], {"admin", "risk_officer"}),
    (["inventory"], ALL),
    (["report", "credit", "2", "--out", "{tmp}/pack"], ALL),
    (["audit", "log"], ALL),
    (["audit", "verify"], ALL),
    (["audit", "export", "--out", "{tmp}/audit.jsonl"], ALL),
]


@pytest.fixture
def more_state(home, fake_registry):
    """On top of the seed: credit/2's pending approval request, credit/3 serving on target
    'scoring' with a review required, and credit/4 in train without a request."""
    from sqlalchemy import select

    from mlgov.governance import approvals
    from mlgov.governance.ports import RegisteredVersion
    from mlgov.governance.service import Governance
    from mlgov.governance.store import Store
    from mlgov.governance.tables import Deployment

    gov = Governance(Store(f"sqlite:///{home / 'governance.db'}"), registry=fake_registry)
    with gov.store.transaction() as s:  # the seed's fingerprint is a placeholder
        gov.version(s, "credit", "2").fingerprint = fake_registry.fingerprint("credit", "2")
    approvals.request_approval(gov, "owner_ds", "credit", "2")
    gov.record_registration(
        "owner_ds",
        RegisteredVersion(
            model="credit",
            version="4",
            source_uri="models:/m-4",
            run_id="run4",
            experiment_id="0",
            fingerprint={"MLmodel": "0" * 64},
        ),
        risk_tier="low",
        purpose="credit scoring",
        owner="owner_ds",
    )
    gov.promote("owner_ds", "credit", "4", "train")
    fake_registry.files[("credit", "4")] = {"MLmodel": b"m"}
    with gov.store.transaction() as s:
        v3 = gov.version(s, "credit", "3")
        v3.review_required = True
        s.add(
            Deployment(
                target="scoring",
                version_id=v3.id,
                bento_model_tag="credit:x",
                bento_tag=None,
                manifest_path=str(home / "m.json"),
                fingerprint_digest=v3.fingerprint_digest,
                state="active",
                deployed_at=gov.now(),
                deployed_by="u_eng",
            )
        )
        s.flush()
        # The events these rows need: audit verify (and every move) refuses state the trail
        # does not support. A rollback event is the one that makes a deployment active on
        # its own (credit/3 is already in deploy, so no stage change can carry it).
        d = s.scalar(select(Deployment))
        gov.audit(
            s,
            "u_ro",
            "health.change",
            "model:credit/3",
            {"from": "ok", "to": "ok", "actions": ["require_review"]},
        )
        gov.audit(
            s,
            "u_eng",
            "deployment.rollback",
            "model:credit/3",
            {"target": "scoring", "deployment_id": d.id, "from_version": None, "to_version": "3"},
        )
    gov.store.engine.dispose()


@pytest.mark.usefixtures("more_state")
@pytest.mark.parametrize("role", sorted(ALL))
@pytest.mark.parametrize(
    "args,allowed", MATRIX, ids=lambda x: " ".join(x) if isinstance(x, list) else None
)
def test_permission_matrix(mlgov, tmp_path, role, args, allowed):
    if role == "auditor" and args[:2] == ["users", "remove"]:
        args = ["users", "remove", "u_ds"]  # the auditor cannot remove itself anyway
    result = mlgov(*[a.replace("{tmp}", str(tmp_path)) for a in args], user=USER_OF[role])
    if role in allowed:
        # allowed: done, or refused by the gate's evidence checks, never for permission
        assert result.exit_code == 0 or "gate '" in result.output, result.output
        assert "may not" not in result.output
    else:
        assert result.exit_code == 1, result.output
        assert "may not" in result.output and "Traceback" not in result.output


def test_unknown_user_refused_with_hint(mlgov):
    result = mlgov("models", "list", user="stranger")
    assert result.exit_code == 1
    assert "ask an admin" in result.output
