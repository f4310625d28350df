"""Every message the console shows is in both catalogs (zh, en), read from the .po files of
the installed package, as the console reads them."""

from __future__ import annotations

import re
from importlib import resources

from mlgov.server.console import i18n, routes

_MSG = re.compile(r"""(?<![A-Za-z0-9_.])_\(\s*"((?:[^"\\]|\\.)*)"|\bt\(\s*"((?:[^"\\]|\\.)*)\"""")
_ERROR_PAGE = re.compile(r'_error_page\(\s*request,\s*[^,]+,\s*"([^"]+)"', re.S)
# Messages built from a prefix and a value the core gives.
DYNAMIC = {
    "tier": ("high", "medium", "low"),
    "stage": ("develop", "train", "deploy", "evaluate", "retire"),
    "state": ("pending", "approved", "rejected", "expired", "void"),
    "reason": ("role", "maker_checker", "decided"),
    "decision": ("approve", "reject"),
    "health": ("ok", "warning", "breach"),
    "role": ("data_scientist", "risk_officer", "ml_engineer", "auditor", "admin"),
}


def _used() -> set[str]:
    package = resources.files("mlgov.server.console")
    texts = [(package / "templates" / n).read_text() for n in
             ("base.html", "signin.html", "password.html", "inbox.html", "request.html",
              "inventory.html", "error.html")]  # fmt: skip
    texts.append((package / "routes.py").read_text())
    used = {a or b for text in texts for a, b in _MSG.findall(text)}
    used |= {m for text in texts for m in _ERROR_PAGE.findall(text)}
    used |= set(routes.NOTICES.values())
    used |= {f"{prefix}:{v}" for prefix, values in DYNAMIC.items() for v in values}
    return {u for u in used if not u.endswith(":")}


def test_every_message_is_translated_in_both_catalogs() -> None:
    used = _used()
    assert len(used) > 80
    for lang in i18n.LANGUAGES:
        missing = sorted(used - set(i18n.catalog(lang)))
        assert not missing, f"{lang} catalog lacks: {missing}"
    zh = i18n.catalog("zh")
    assert all(zh[m] != m for m in used if not m.startswith("{")), "untranslated zh entries"


def test_language_negotiation() -> None:
    assert i18n.negotiate(None, None) == "en"
    assert i18n.negotiate(None, "zh-CN,zh;q=0.9,en;q=0.8") == "zh"
    assert i18n.negotiate(None, "fr-FR, en;q=0.5, zh;q=0.7") == "zh"
    assert i18n.negotiate("en", "zh-CN") == "en"
    assert i18n.negotiate("xx", "de") == "en"


def test_dates_are_localised() -> None:
    assert i18n.Translator("zh").time("2026-12-06T08:05:00.000000Z") == "2026年12月6日 08:05:00 UTC"
    assert i18n.Translator("en").time("2026-12-06T08:05:00.000000Z") == "6 Dec 2026, 08:05:00 UTC"
