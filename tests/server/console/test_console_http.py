"""The web console over real HTTP (issue 19): a `mlgov server` subprocess, driven with httpx
as a browser without JavaScript would drive it (forms, cookies, redirects)."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from .conftest import (  # noqa: TID252
    MODEL,
    ConsoleHome,
    Server,
    csrf_of,
    decision_form,
    sign_in,
    signed_in,
    start_server,
    stop_server,
)

pytestmark = pytest.mark.slow
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'"
)


def _audit(server: Server, action: str) -> list[dict]:
    events = server.home.json("aud", "audit", "log", "--action", action)
    return events if isinstance(events, list) else events["events"]


def test_security_headers_and_cookie_flags(console: Server) -> None:
    with console.client() as c:
        page = c.get("/signin")
        assert page.status_code == 200 and "<form" in page.text
        for r in (page, c.get("/static/console.css"), c.get("/inbox")):
            assert r.headers["content-security-policy"] == CSP
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["referrer-policy"] == "no-referrer"
        assert page.headers["cache-control"] == "no-store"
        assert "<script>" not in page.text and "style=" not in page.text  # nothing inline
        cookie = page.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
        signed = sign_in(c, "aud", console.home.passwords["aud"])
        session_cookie = signed.headers["set-cookie"].lower()
        assert "mlgov_session=" in session_cookie and "httponly" in session_cookie
        assert "samesite=strict" in session_cookie
    with console.client(headers={"X-Forwarded-Proto": "https"}) as c:  # behind a TLS proxy
        assert "secure" in c.get("/signin").headers["set-cookie"].lower()


def test_a_failed_sign_in_says_so_and_is_audited_without_the_password(console: Server) -> None:
    with console.client(headers={"X-Forwarded-For": "10.1.1.1"}) as c:
        r = sign_in(c, "rita", "not-ritas-password-at-all")
        assert r.status_code == 401 and "unknown user or wrong password" in r.text
        assert "mlgov_session" not in r.headers.get("set-cookie", "")
        assert "not-ritas-password-at-all" not in r.text
    failed = [e for e in _audit(console, "session.signin_failed") if e["actor"] == "rita"]
    assert failed and failed[-1]["payload"]["reason"] == "wrong password"
    assert failed[-1]["payload"]["address"] == "10.1.1.1"
    assert "not-ritas-password-at-all" not in json.dumps(failed)


def test_repeated_failures_from_one_address_are_throttled(console: Server) -> None:
    with console.client(headers={"X-Forwarded-For": "10.6.6.6"}) as c:
        statuses = [sign_in(c, "olga", f"guess-number-{i:04d}").status_code for i in range(11)]
        assert statuses[:10] == [401] * 10 and statuses[10] == 429
        locked = sign_in(c, "olga", console.home.passwords["olga"])
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1
        assert "Too many failed sign-ins" in locked.text
    with console.client(headers={"X-Forwarded-For": "10.7.7.7"}) as c:  # another address
        assert sign_in(c, "olga", console.home.passwords["olga"]).status_code == 303


def test_a_one_time_password_must_be_changed_first(console: Server) -> None:
    home = console.home
    with console.client() as c:
        r = sign_in(c, "aud", home.passwords["aud"])
        assert (r.status_code, r.headers["location"]) == (303, "/password")
        assert c.get("/inbox").headers["location"] == "/password"  # nothing else until then
        page = c.get("/password")
        assert "choose your own" in page.text
        token = csrf_of(page.text)
        mismatch = c.post(
            "/password",
            data={"current": home.passwords["aud"], "new": "x" * 12, "confirm": "y" * 12,
                  "csrf": token},
        )  # fmt: skip
        assert mismatch.status_code == 400 and "differ" in mismatch.text
        short = c.post(
            "/password",
            data={"current": home.passwords["aud"], "new": "short", "confirm": "short",
                  "csrf": token},
        )  # fmt: skip
        assert short.status_code == 400 and "at least 12" in short.text
        chosen = "auditors-own-passphrase"
        done = c.post(
            "/password",
            data={"current": home.passwords["aud"], "new": chosen, "confirm": chosen,
                  "csrf": token},
        )  # fmt: skip
        assert (done.status_code, done.headers["location"]) == (303, "/inbox?notice=password")
        home.passwords["aud"] = chosen
        inbox = c.get(done.headers["location"])
        assert inbox.status_code == 200 and "Your password is changed." in inbox.text
    assert [e["actor"] for e in _audit(console, "user.password_change")][-1] == "aud"


def test_every_post_checks_its_csrf_token(console: Server) -> None:
    c = signed_in(console, "rita")
    path = f"/requests/{MODEL}/{console.home.versions[0]}/decision"
    for token in (None, "forged"):
        data = {"decision": "approve"} | ({"csrf": token} if token else {})
        r = c.post(path, data=data)
        assert r.status_code == 403 and "reload the page" in r.text
        assert r.headers["content-security-policy"] == CSP
    shown = console.home.json("aud", "approvals", "list", "--pending")
    assert all(r["approvals_count"] == 0 for r in shown)
    # The sign-in form too: a post without the form's own cookie is refused.
    with console.client() as fresh:
        r = fresh.post("/signin", data={"user": "rita", "password": "x", "csrf": "guess"})
        assert r.status_code == 403
    assert c.post("/signout", data={"csrf": "forged"}).status_code == 403
    c.close()


def test_maker_checker_refusal_is_a_message_on_the_page(console: Server) -> None:
    c = signed_in(console, "dana")
    inbox = c.get("/inbox")
    assert "Pending requests you may not decide" in inbox.text
    assert "your own model (maker-checker)" in inbox.text
    version = console.home.versions[0]
    page = c.get(f"/requests/{MODEL}/{version}")
    assert page.status_code == 200 and 'value="approve"' not in page.text  # no form offered
    r = c.post(
        f"/requests/{MODEL}/{version}/decision",
        data={"decision": "approve", "csrf": csrf_of(page.text)},
    )
    assert r.status_code == 403
    assert "The decision was refused." in r.text and "maker-checker" in r.text
    assert "Traceback" not in r.text
    # The language links of that answer lead back to the request's page, not to the POST.
    assert f'/lang/zh?next=/requests/{MODEL}/{version}"' in r.text
    c.close()


def test_an_approval_through_the_form_is_audited_under_the_session(console: Server) -> None:
    c = signed_in(console, "rita")
    version = console.home.versions[0]
    inbox = c.get("/inbox")
    assert (
        f"/requests/{MODEL}/{version}" in inbox.text and "Waiting for your decision" in inbox.text
    )
    page = c.get(f"/requests/{MODEL}/{version}")
    assert "Evidence frozen with the request" in page.text and "intended_use" in page.text
    assert f"You decide on {MODEL} version {version}" in page.text
    form = decision_form(page.text, "approve", "holdout checked")
    stale = c.post(
        f"/requests/{MODEL}/{version}/decision", data=form | {"snapshot": "0" * 64}
    )  # a page loaded before the evidence changed
    assert stale.status_code == 409 and "changed since the page was loaded" in stale.text
    assert not [e for e in _audit(console, "approval.decide") if e["actor"] == "rita"]
    r = c.post(f"/requests/{MODEL}/{version}/decision", data=form)
    assert r.status_code == 303, r.text
    after = c.get(r.headers["location"])
    assert "Your approval is recorded." in after.text and "holdout checked" in after.text
    twice = c.post(f"/requests/{MODEL}/{version}/decision", data=form)
    assert twice.status_code == 403 or "already decided" in twice.text
    decided = [e for e in _audit(console, "approval.decide") if e["actor"] == "rita"]
    assert len(decided) == 1
    via = decided[0]["payload"]["via"]
    assert via["identified_by"] == "session" and via["credential"].startswith("session:")
    assert console.home.json("aud", "audit", "verify")["ok"] is True
    c.close()


def test_sign_out_ends_the_session(console: Server) -> None:
    c = signed_in(console, "omar")
    secret = c.cookies["mlgov_session"]
    page = c.get("/inbox")
    r = c.post("/signout", data={"csrf": csrf_of(page.text)})
    assert (r.status_code, r.headers["location"]) == (303, "/signin?notice=signed_out")
    with console.client() as replay:  # the old cookie, presented again
        replay.cookies.set("mlgov_session", secret)
        assert replay.get("/inbox").headers["location"].startswith("/signin")
    assert [e["actor"] for e in _audit(console, "session.end")][-1] == "omar"
    c.close()


def test_an_idle_session_goes_back_to_sign_in(console_home: ConsoleHome) -> None:
    # No trusted proxy on this server: an SSO header is ignored, whoever sends it.
    server = start_server(
        console_home, MLGOV_CONSOLE_IDLE_SECONDS="5", MLGOV_CONSOLE_SSO_HEADER="X-Remote-User"
    )
    try:
        with server.client(headers={"X-Remote-User": "olga"}) as forged:
            assert forged.get("/inbox").headers["location"] == "/signin"
        c = signed_in(server, "olga")
        assert c.get("/inbox").status_code == 200
        time.sleep(6)
        r = c.get("/inbox")
        assert (r.status_code, r.headers["location"]) == (303, "/signin?notice=expired")
        assert "Your session has ended: sign in again." in c.get(r.headers["location"]).text
        c.close()
    finally:
        stop_server(server)
    expired = [e for e in console_home.json("aud", "audit", "log", "--action", "session.expire")]
    assert expired and expired[-1]["actor"] == "olga"
    assert expired[-1]["payload"]["reason"] == "idle longer than 0:00:05"


def test_language_from_cookie_or_accept_language(console: Server) -> None:
    with console.client(headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}) as c:
        assert "登录" in c.get("/signin").text
        switched = c.get("/lang/en?next=/signin")
        assert switched.headers["location"] == "/signin"
        assert "Sign in" in c.get("/signin").text and "登录" not in c.get("/signin").text
    with console.client() as c:
        assert "Sign in" in c.get("/signin").text
        assert c.get("/lang/zh?next=//evil.example/").headers["location"] == "/"


def test_inventory_page(console: Server) -> None:
    c = signed_in(console, "olga")
    r = c.get("/inventory")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert r.text.count(f"<td>{MODEL}</td>") == len(console.home.versions)
    assert c.get("/inventory?stage=retire").text.count(f"<td>{MODEL}</td>") == 0
    before = c.get("/inventory?at=2020-01-01T00:00:00")
    assert before.status_code == 200 and f"<td>{MODEL}</td>" not in before.text
    assert "rebuilt from the audit trail" in before.text
    bad = c.get("/inventory?at=yesterday")
    assert bad.status_code == 400 and "cannot read time" in bad.text
    c.close()


def test_inventory_filters_and_csv(console: Server) -> None:
    c = signed_in(console, "olga")
    everyone = len(console.home.versions)
    rows = lambda r: r.text.count(f"<td>{MODEL}</td>")  # noqa: E731
    assert rows(c.get("/inventory?tier=high")) == everyone
    assert rows(c.get("/inventory?tier=low")) == 0
    assert rows(c.get("/inventory", params={"q": MODEL[1:4].upper()})) == everyone
    assert rows(c.get("/inventory?owner=DANA")) == everyone  # the registrant, any case
    none = c.get("/inventory?q=no-such-model&tier=nonsense")
    assert rows(none) == 0 and "No version matches these filters." in none.text
    assert rows(c.get("/inventory?health=warning")) == 0
    page = c.get("/inventory?tier=high&q=" + MODEL)
    assert f'href="/inventory.csv?tier=high&amp;q={MODEL}"' in page.text
    download = c.get(f"/inventory.csv?tier=high&q={MODEL}")
    assert download.status_code == 200
    assert download.headers["content-type"] == "text/csv; charset=utf-8"
    assert download.headers["content-disposition"].startswith('attachment; filename="inventory-')
    lines = download.text.splitlines()
    header = lines[0].split(",")
    assert header[:2] == ["model", "version"] and "risk_tier" in header
    assert len(lines) == 1 + everyone
    assert c.get("/inventory.csv?tier=low").text.splitlines()[1:] == []
    assert c.get("/inventory.csv?at=yesterday").status_code == 400
    c.close()
    anonymous = httpx.get(f"{console.url}/inventory.csv", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/signin"


def test_single_sign_on_through_the_trusted_proxy(console: Server) -> None:
    with console.client(headers={"X-Remote-User": "aud"}) as c:
        r = c.get("/inbox")
        assert r.status_code == 200 and "Signed in as aud" in r.text  # no password asked
        assert "mlgov_session=" in r.headers["set-cookie"]
        c.headers["X-Remote-User"] = "olga"  # the proxy now vouches for someone else
        version = console.home.versions[0]
        page = c.get(f"/requests/{MODEL}/{version}")
        assert "Signed in as" not in page.text and ">olga<" in page.text
        r = c.post(
            f"/requests/{MODEL}/{version}/decision",
            data=decision_form(page.text, "approve", "via SSO"),
        )
        assert r.status_code == 303, r.text
        c.headers["X-Remote-User"] = "nobody"
        assert c.get("/inbox").headers["location"].startswith("/signin")
    starts = [e for e in _audit(console, "session.start") if e["payload"]["method"] == "proxy"]
    assert {e["actor"] for e in starts} >= {"aud", "olga"}
    assert starts[-1]["payload"]["proxy"] == "127.0.0.1"
    decided = [e for e in _audit(console, "approval.decide") if e["actor"] == "olga"]
    assert decided[-1]["payload"]["via"]["identified_by"] == "proxy"
    failed = _audit(console, "session.signin_failed")
    assert failed[-1]["payload"]["reason"] == "the SSO proxy named this unknown user"
