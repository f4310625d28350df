"""Personal access tokens (issue 18 item 2): hashed, shown once, expiring, revocable, and
worthless when an insider edits their rows."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import update

from mlgov.governance import tokens
from mlgov.governance.errors import BadInput, Conflict, NotAuthenticated, PermissionDenied
from mlgov.governance.tables import ApiToken, AuditEvent


def _secret_part(token: str) -> str:
    return token[len("mlgov_12345678_") :]  # the secret itself may contain '_'


def test_a_token_proves_its_user_and_only_its_hash_is_kept(gov):
    created = tokens.create_token(gov, "admin", "ro1", name="laptop", days=30)
    assert created.token.startswith("mlgov_") and len(_secret_part(created.token)) == 43
    assert (created.record.user, created.record.state) == ("ro1", "active")
    assert tokens.authenticate(gov, created.token) == tokens.Principal("ro1", created.record.id)

    with gov.store.read() as s:
        row = s.get(ApiToken, created.record.id)
        events = list(s.query(AuditEvent).filter(AuditEvent.action == "token.create"))
    digest = hashlib.sha256(_secret_part(created.token).encode()).hexdigest()
    assert row.secret_sha256 == digest and row.last_used_at is not None
    assert _secret_part(created.token) not in repr([e.payload for e in events])
    assert events[0].payload["secret_sha256"] == digest


@pytest.mark.parametrize(
    "presented",
    ["", "Bearer x", "mlgov_zzzzzzzz_" + "a" * 43, "mlgov_00000000_" + "a" * 43],
)
def test_every_failure_reads_the_same(gov, presented):
    with pytest.raises(NotAuthenticated) as caught:
        tokens.authenticate(gov, presented)
    assert str(caught.value) == tokens.REFUSED


def test_a_wrong_secret_with_a_real_prefix_is_refused(gov):
    token = tokens.create_token(gov, "admin", "ro1").token
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(NotAuthenticated, match="unknown, expired or revoked"):
        tokens.authenticate(gov, forged)


def test_expiry_and_revocation(gov, clock):
    short = tokens.create_token(gov, "admin", "ds1", days=1)
    clock.advance(days=1, seconds=1)
    with pytest.raises(NotAuthenticated):
        tokens.authenticate(gov, short.token)
    assert tokens.list_tokens(gov, "admin", user="ds1")[0].state == "expired"

    kept = tokens.create_token(gov, "admin", "ds1")
    assert tokens.authenticate(gov, kept.token).user == "ds1"
    revoked = tokens.revoke_token(gov, "ds1", kept.record.id)  # anyone may revoke their own
    assert revoked.state == "revoked"
    with pytest.raises(NotAuthenticated):
        tokens.authenticate(gov, kept.token)
    with pytest.raises(Conflict, match="revoked already"):
        tokens.revoke_token(gov, "admin", kept.record.id)
    assert [e["action"] for e in gov.audit_log("aud", action="token.revoke")] == ["token.revoke"]


def test_a_removed_user_s_token_proves_nobody(gov):
    token = tokens.create_token(gov, "admin", "eng").token
    gov.remove_user("admin", "eng")
    with pytest.raises(NotAuthenticated):
        tokens.authenticate(gov, token)


def test_only_an_admin_manages_other_users_tokens(gov):
    mine = tokens.create_token(gov, "ds1", "ds1", name="my laptop")
    with pytest.raises(PermissionDenied, match="only an admin"):
        tokens.create_token(gov, "ds1", "ro1")
    with pytest.raises(PermissionDenied):
        tokens.revoke_token(gov, "ds2", mine.record.id)
    with pytest.raises(PermissionDenied):
        tokens.list_tokens(gov, "ds2", user="ds1")
    tokens.create_token(gov, "admin", "ro1")
    assert [t.user for t in tokens.list_tokens(gov, "ds1")] == ["ds1"]  # own only
    assert [t.user for t in tokens.list_tokens(gov, "admin")] == ["ds1", "ro1"]


@pytest.mark.parametrize("days", [0, -1, 366, True])
def test_bad_expiry_is_refused_and_changes_nothing(gov, days):
    before = len(gov.audit_log("aud"))
    with pytest.raises(BadInput, match="--expires"):
        tokens.create_token(gov, "admin", "ro1", days=days)
    assert tokens.list_tokens(gov, "admin") == [] and len(gov.audit_log("aud")) == before


@pytest.mark.parametrize(
    "edit",
    [
        {"expires_at": None},  # extended: filled in below
        {"revoked_at": None, "revoked_by": None},  # un-revoked
        {"user_id": None},  # moved to another user
        {"secret_sha256": None},  # a secret the insider knows
    ],
    ids=["extended", "unrevoked", "reassigned", "rekeyed"],
)
def test_an_insider_s_edit_of_a_token_row_authenticates_nobody(gov, clock, edit):
    created = tokens.create_token(gov, "admin", "ds1", days=1)
    token_id = created.record.id
    token = created.token
    if "revoked_at" in edit:
        tokens.revoke_token(gov, "admin", token_id)
    values = dict(edit)
    if "expires_at" in values:
        clock.advance(days=2)
        values["expires_at"] = clock.now().replace(year=clock.now().year + 1)
    if "user_id" in values:
        with gov.store.read() as s:
            values["user_id"] = gov.user(s, "admin").id
    if "secret_sha256" in values:
        token = token[:-43] + "k" * 43
        values["secret_sha256"] = hashlib.sha256(b"k" * 43).hexdigest()
    with gov.store.engine.begin() as conn:
        conn.execute(update(ApiToken).where(ApiToken.id == token_id).values(**values))
    with pytest.raises(NotAuthenticated):
        tokens.authenticate(gov, token)


def test_an_identity_provider_vouches_only_for_active_users(gov):
    assert tokens.vouch_for_user(gov, "ro1") == "ro1"
    gov.remove_user("admin", "ro1")
    for name in ("ro1", "nobody", "bad name!", ""):
        with pytest.raises(NotAuthenticated) as caught:
            tokens.vouch_for_user(gov, name)
        assert str(caught.value) == tokens.REFUSED
