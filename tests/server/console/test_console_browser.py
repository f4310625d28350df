"""The console in a real browser (issue 19): Debian's Chromium driven by Playwright, with
JavaScript off and on, in English and Chinese. Never `playwright install`: the browser is the
system's (`apt-get install chromium fonts-noto-cjk`).

Skipped when Chromium or Playwright is missing, unless MLGOV_REQUIRE_BROWSER=1 (CI), which
makes that a failure. MLGOV_CHROMIUM names another Chromium. With MLGOV_SCREENS=DIR, the
pages are also saved there as PNG files.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import MODEL, Server  # noqa: TID252

pytestmark = pytest.mark.slow
CHROMIUM = os.environ.get("MLGOV_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed (pip install '.[dev]')"
    if not os.path.exists(CHROMIUM):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium fonts-noto-cjk)"
    return None


MISSING = _missing()
if MISSING is not None and os.environ.get("MLGOV_REQUIRE_BROWSER") != "1":
    # Skipped before the (package-scoped) server and its home are built.
    pytestmark = [pytest.mark.slow, pytest.mark.skip(reason=MISSING)]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if MISSING is not None:
        pytest.fail(f"MLGOV_REQUIRE_BROWSER=1 but {MISSING}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def screens(tmp_path: Path) -> Path:
    where = Path(os.environ.get("MLGOV_SCREENS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


def _page(browser: Any, *, javascript: bool, problems: list[str]) -> Any:
    context = browser.new_context(
        java_script_enabled=javascript, viewport={"width": 1280, "height": 900}, locale="en-GB"
    )
    page = context.new_page()
    # A Content-Security-Policy violation or a script error is a bug of the console.
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return page


def _sign_in(page: Any, server: Server, user: str, shot: Path | None = None) -> None:
    page.goto(f"{server.url}/signin")
    if shot is not None:
        page.screenshot(path=str(shot), full_page=True)
    page.fill("#user", user)
    page.fill("#password", server.home.passwords[user])
    page.click("form.stack button[type=submit]")
    if page.url.endswith("/password"):
        chosen = f"{user}-browser-passphrase"
        page.fill("#current", server.home.passwords[user])
        page.fill("#new", chosen)
        page.fill("#confirm", chosen)
        page.click("form.stack button[type=submit]")
        server.home.passwords[user] = chosen
    assert "/inbox" in page.url, page.url


def _approve(page: Any, server: Server, version: str, comment: str, shot: Path) -> None:
    page.click(f'a[href="/requests/{MODEL}/{version}"] >> nth=0')
    assert page.url.endswith(f"/requests/{MODEL}/{version}")
    page.screenshot(path=str(shot), full_page=True)
    page.fill("#comment", comment)
    page.click('button[value="approve"]')


def test_approve_with_javascript_off(browser: Any, console: Server, screens: Path) -> None:
    problems: list[str] = []
    page = _page(browser, javascript=False, problems=problems)
    _sign_in(page, console, "olga", screens / "signin-en.png")
    assert page.locator("h1").inner_text() == "Inbox"
    assert page.locator("text=Waiting for your decision").count() == 1
    page.screenshot(path=str(screens / "inbox-en.png"), full_page=True)
    version = console.home.versions[1]
    _approve(page, console, version, "checked without JavaScript", screens / "request-en.png")
    assert page.locator("text=Your approval is recorded.").count() == 1
    assert page.locator("td", has_text="checked without JavaScript").count() == 1
    page.context.close()
    assert problems == []


def test_approve_with_javascript_in_chinese(browser: Any, console: Server, screens: Path) -> None:
    problems: list[str] = []
    page = _page(browser, javascript=True, problems=problems)
    page.goto(f"{console.url}/signin")
    page.click("text=中文")
    assert page.locator("h1").inner_text() == "登录"
    _sign_in(page, console, "omar", screens / "signin-zh.png")
    assert page.locator("h1").inner_text() == "待办"
    assert page.locator("text=等待您审批").count() == 1
    page.screenshot(path=str(screens / "inbox-zh.png"), full_page=True)
    version = console.home.versions[1]
    _approve(page, console, version, "已核对", screens / "request-zh.png")
    assert page.locator("text=您的批准已记录。").count() == 1
    assert page.locator(".state", has_text="已批准").count() >= 1  # the quorum is met now
    page.screenshot(path=str(screens / "decided-zh.png"), full_page=True)
    page.context.close()
    assert problems == []


def test_inventory_filters_and_csv_link_in_chinese(
    browser: Any, console: Server, screens: Path
) -> None:
    problems: list[str] = []
    page = _page(browser, javascript=False, problems=problems)
    page.goto(f"{console.url}/lang/zh")
    _sign_in(page, console, "olga")
    page.goto(f"{console.url}/inventory")
    page.select_option("#tier", "high")
    page.fill("#q", MODEL)
    page.click("form.filters button[type=submit]")
    assert "tier=high" in page.url and f"q={MODEL}" in page.url
    assert page.locator("tbody tr").count() == len(console.home.versions)
    link = page.locator('a[href^="/inventory.csv?"]')
    assert link.count() == 1 and "CSV" in link.inner_text()
    page.screenshot(path=str(screens / "inventory-zh.png"), full_page=True)
    page.select_option("#tier", "low")
    page.click("form.filters button[type=submit]")
    assert page.locator("text=没有符合这些筛选条件的版本。").count() == 1
    page.context.close()
    assert problems == []
