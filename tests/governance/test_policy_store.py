"""The policy in force lives in the store: set by an admin only, audited with its digests,
refused when its row and its audit event disagree (issue 16, defect 1)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from mlgov.governance import implied_state, policy_store
from mlgov.governance.errors import (
    Conflict,
    PermissionDenied,
    PolicyError,
    Refused,
    StateTampered,
)
from mlgov.governance.policy import DEFAULT_POLICY, parse_policy
from mlgov.governance.service import Governance
from mlgov.governance.tables import AuditEvent, PolicyVersion

STRICT = "[tiers.high]\napprovals_required = 3\n"


def _fresh(gov: Governance) -> Governance:
    """The same store opened again, as the next command would."""
    return Governance(gov.store, clock=gov.clock)


def _counts(gov: Governance) -> tuple[int, int]:
    with gov.store.read() as s:
        return (
            s.scalar(select(func.count()).select_from(PolicyVersion)),
            s.scalar(select(func.count()).select_from(AuditEvent)),
        )


def test_built_in_default_until_an_admin_sets_one(gov):
    assert _fresh(gov).policy.digest() == DEFAULT_POLICY.digest()
    assert _fresh(gov).policy.source == "built-in"


def test_admin_sets_the_policy_every_later_command_uses_it(gov):
    result = gov.set_policy("admin", STRICT, source="/etc/bank/strict.toml")
    assert result["previous_digest"] == DEFAULT_POLICY.digest()
    again = _fresh(gov)
    assert again.policy.for_tier("high").approvals_required == 3
    assert again.policy.digest() == result["digest"]
    assert "strict.toml" in again.policy.source and "admin" in again.policy.source
    with gov.store.read() as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "policy.set"))
    assert event.actor == "admin" and event.seq == result["audit_seq"]
    assert event.payload["digest"] == result["digest"]
    assert event.payload["document_sha256"] == policy_store.sha256_text(STRICT)
    history = again.policy_history("aud")
    assert [h["in_force"] for h in history] == [True]


@pytest.mark.parametrize("user", ["ds1", "ro1", "eng", "aud"])
def test_only_an_admin_may_set_the_policy(gov, user):
    before = _counts(gov)
    with pytest.raises(PermissionDenied, match="manage policy"):
        gov.set_policy(user, STRICT, source="p.toml")
    assert _counts(gov) == before


@pytest.mark.parametrize(
    ("document", "key"),
    [
        ('[tiers.high]\napprover_role = "data_scientist"\n', "tiers.high.approver_role"),
        ('[default]\napprover_role = "ml_engineer"\n', "default.approver_role"),
        ('[default]\napprover_role = "admin"\n', "default.approver_role"),
        ('[default]\napprover_role = "auditor"\n', "default.approver_role"),
        ("[tiers.high]\napprovals_required = 99999999999999999\n", "approvals_required"),
        ("[default]\napproval_valid_days = 100000\n", "default.approval_valid_days"),
        ("[default]\nstale_after_days = 0\n", "default.stale_after_days"),
        ("[tiers.low.drift_column_thresholds]\nage = 1e300\n", "drift_column_thresholds"),
        ("[tiers.high\n", "not valid TOML"),
    ],
)
def test_a_bad_policy_is_refused_naming_the_key_and_nothing_changes(gov, document, key):
    before = _counts(gov)
    with pytest.raises(PolicyError, match=key.replace(".", r"\.")) as info:
        gov.set_policy("admin", document, source="lax.toml")
    assert "lax.toml" in str(info.value)
    assert _counts(gov) == before
    assert _fresh(gov).policy.digest() == DEFAULT_POLICY.digest()


def test_a_lax_approver_role_is_refused_with_the_roles_that_may_approve():
    with pytest.raises(PolicyError, match=r"may approve \(risk_officer\)"):
        parse_policy('[tiers.high]\napprover_role = "data_scientist"\n', source="lax.toml")


def test_setting_the_policy_in_force_again_changes_nothing(gov):
    gov.set_policy("admin", STRICT, source="p.toml")
    before = _counts(gov)
    with pytest.raises(Conflict, match="already in force"):
        gov.set_policy("admin", STRICT + "\n# same rules\n", source="p.toml")
    assert _counts(gov) == before


def test_an_edited_policy_row_is_refused_and_audit_verify_names_it(gov):
    gov.set_policy("admin", STRICT, source="p.toml")
    lax = "[tiers.high]\napprovals_required = 1\npredeploy_drift_required = false\n"
    with gov.store.transaction() as s:
        s.execute(
            update(PolicyVersion).values(
                document=lax, digest=parse_policy(lax, source="x").digest()
            )
        )
    with pytest.raises(StateTampered, match="differs from its audit event"):
        _ = _fresh(gov).policy
    with gov.store.read() as s:
        found = implied_state.disagreements(s)
    assert {(d.table, d.column) for d in found} == {
        ("policy_versions", "digest"),
        ("policy_versions", "document"),
    }
    # The admin puts the intended policy back; the edited row stays on record as tampered.
    gov.set_policy("admin", STRICT, source="p.toml")
    assert _fresh(gov).policy.for_tier("high").approvals_required == 3


def test_a_deleted_policy_row_is_not_a_silent_fallback_to_the_default(gov):
    gov.set_policy("admin", STRICT, source="p.toml")
    with gov.store.transaction() as s:
        s.query(PolicyVersion).delete()
    with pytest.raises(StateTampered, match="missing its policy_versions row"):
        _ = _fresh(gov).policy


def test_a_stored_document_whose_effective_policy_changed_is_refused(gov):
    gov.set_policy("admin", STRICT, source="p.toml")
    with gov.store.transaction() as s:
        # As if the built-in defaults had changed under the document since it was set.
        s.scalar(select(PolicyVersion)).digest = "0" * 64
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "policy.set"))
        event.payload = {**event.payload, "digest": "0" * 64}
    with pytest.raises(Refused, match="no longer gives the policy"):
        _ = _fresh(gov).policy
