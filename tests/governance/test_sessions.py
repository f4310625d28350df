"""Console passwords and sessions (issue 19): argon2id hashes, one-time passwords changed at
first sign-in, idle and absolute timeouts, sign-out, and every change audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from mlgov.governance import sessions
from mlgov.governance.errors import BadInput, NotAuthenticated, PermissionDenied
from mlgov.governance.tables import AuditEvent, ConsoleSession, UserPassword


def _events(gov, action: str) -> list[AuditEvent]:
    with gov.store.read() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _one_time(gov, user: str = "ro1") -> str:
    done = sessions.set_password(gov, "admin", user)
    assert done.password is not None and done.must_change
    return done.password


def test_only_an_admin_sets_a_password_and_neither_it_nor_its_hash_is_audited(gov):
    with pytest.raises(PermissionDenied):
        sessions.set_password(gov, "ro2", "ro1")
    password = _one_time(gov)
    with gov.store.read() as s:
        row = s.scalars(select(UserPassword)).one()
        assert row.hash.startswith("$argon2id$") and password not in row.hash
        stored_hash = row.hash
    (event,) = _events(gov, "user.password_set")
    assert (event.actor, event.subject, event.payload["must_change"]) == ("admin", "user:ro1", True)
    assert password not in repr(event.payload) and stored_hash not in repr(event.payload)
    with pytest.raises(BadInput, match="at least 12"):
        sessions.set_password(gov, "admin", "ro1", password="short")


def test_sign_in_must_change_then_change_password(gov):
    password = _one_time(gov)
    signed = sessions.sign_in(gov, "ro1", password, address="10.0.0.1")
    assert signed.must_change and signed.user == "ro1"
    principal = sessions.authenticate(gov, signed.secret)
    assert principal.must_change and principal.csrf_token == signed.csrf_token
    with pytest.raises(NotAuthenticated):
        sessions.change_password(gov, "ro1", "not the password", "a-brand-new-passphrase")
    with pytest.raises(BadInput, match="differ"):
        sessions.change_password(gov, "ro1", password, password)
    sessions.change_password(gov, "ro1", password, "a-brand-new-passphrase")
    assert not sessions.authenticate(gov, signed.secret).must_change
    with pytest.raises(NotAuthenticated):
        sessions.sign_in(gov, "ro1", password, address=None)
    assert not sessions.sign_in(gov, "ro1", "a-brand-new-passphrase", address=None).must_change
    # The cookie's secret is never stored: the row's id is its hash.
    with gov.store.read() as s:
        ids = list(s.scalars(select(ConsoleSession.id)))
    assert signed.secret not in ids and len(ids) == 2
    (start, _) = _events(gov, "session.start")
    assert signed.secret not in repr(start.payload) and start.payload["address"] == "10.0.0.1"


@pytest.mark.parametrize(
    ("user", "password", "reason"),
    [
        ("ro1", "wrong-password-123", "wrong password"),
        ("nobody", "whatever-password", "unknown user"),
        ("ro2", "whatever-password", "no password set"),
        ("bad name!", "whatever-password", "malformed user name"),
    ],
)
def test_failures_read_the_same_and_are_audited_without_the_password(gov, user, password, reason):
    _one_time(gov)
    with pytest.raises(NotAuthenticated) as caught:
        sessions.sign_in(gov, user, password, address="10.0.0.9")
    assert str(caught.value) == sessions.REFUSED
    (event,) = _events(gov, "session.signin_failed")
    assert event.payload["reason"] == reason and password not in repr(event.payload)


def test_idle_and_absolute_timeouts_end_the_session(gov, clock):
    password = _one_time(gov)
    signed = sessions.sign_in(gov, "ro1", password, address=None)
    idle, absolute = timedelta(minutes=15), timedelta(hours=12)
    clock.advance(minutes=14)
    sessions.authenticate(gov, signed.secret, idle=idle, absolute=absolute)
    clock.advance(minutes=14)  # 14 min since the last request: still alive
    sessions.authenticate(gov, signed.secret, idle=idle, absolute=absolute)
    clock.advance(minutes=16)
    with pytest.raises(NotAuthenticated):
        sessions.authenticate(gov, signed.secret, idle=idle, absolute=absolute)
    assert [e.payload["reason"] for e in _events(gov, "session.expire")] == [
        "idle longer than 0:15:00"
    ]

    again = sessions.sign_in(gov, "ro1", password, address=None)
    for _ in range(12 * 6):  # busy all day, never idle
        clock.advance(minutes=10)
        try:
            sessions.authenticate(gov, again.secret, idle=idle, absolute=absolute)
        except NotAuthenticated:
            break
    assert _events(gov, "session.expire")[-1].payload["reason"].startswith("signed in longer")


def test_sign_out_and_a_new_password_end_sessions(gov):
    password = _one_time(gov)
    first = sessions.sign_in(gov, "ro1", password, address=None)
    second = sessions.sign_in(gov, "ro1", password, address=None)
    sessions.sign_out(gov, first.secret)
    with pytest.raises(NotAuthenticated):
        sessions.authenticate(gov, first.secret)
    assert [e.actor for e in _events(gov, "session.end")] == ["ro1"]
    assert sessions.set_password(gov, "admin", "ro1").sessions_ended == 1
    with pytest.raises(NotAuthenticated):
        sessions.authenticate(gov, second.secret)


def test_rows_an_insider_writes_sign_nobody_in(gov):
    password = _one_time(gov)
    _one_time(gov, "ro2")
    signed = sessions.sign_in(gov, "ro1", password, address=None)
    with gov.store.transaction() as s:  # ro2's row gets ro1's (known) hash
        ro1 = s.scalars(select(UserPassword).where(UserPassword.user_id != 0)).all()
        hashes = {r.user.name: r.hash for r in ro1}
        s.execute(
            update(UserPassword)
            .where(UserPassword.user_id == next(r.user_id for r in ro1 if r.user.name == "ro2"))
            .values(hash=hashes["ro1"])
        )
        s.execute(update(ConsoleSession).values(audit_seq=1))
    with pytest.raises(NotAuthenticated):
        sessions.sign_in(gov, "ro2", password, address=None)
    with pytest.raises(NotAuthenticated):
        sessions.authenticate(gov, signed.secret)
    reasons = [e.payload["reason"] for e in _events(gov, "session.signin_failed")]
    assert reasons == ["password row disagrees with the audit trail"]


def test_the_chain_still_verifies(gov):
    password = _one_time(gov)
    signed = sessions.sign_in(gov, "ro1", password, address=None)
    with pytest.raises(NotAuthenticated):
        sessions.sign_in(gov, "ro1", "wrong-password-123", address=None)
    sessions.sign_out(gov, signed.secret)
    assert gov.audit_verify("aud").ok is True


def test_a_session_the_sso_proxy_vouches_for(gov):
    signed = sessions.start_proxied(gov, "ro1", address="10.0.0.5", proxy="10.0.0.1")
    principal = sessions.authenticate(gov, signed.secret)
    assert (principal.user, principal.method, principal.must_change) == ("ro1", "proxy", False)
    (start,) = _events(gov, "session.start")
    assert (start.payload["method"], start.payload["proxy"]) == ("proxy", "10.0.0.1")
    with pytest.raises(NotAuthenticated):
        sessions.start_proxied(gov, "nobody", address=None, proxy="10.0.0.1")
    with gov.store.transaction() as s:  # an insider turns a password session into a proxy one
        s.execute(update(ConsoleSession).values(method="password"))
    with pytest.raises(NotAuthenticated):
        sessions.authenticate(gov, signed.secret)
