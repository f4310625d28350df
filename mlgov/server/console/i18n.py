"""Message catalogs (zh, en) and locale-aware formatting of dates and durations.

The catalogs are read from their .po files when the console is first used
(babel.messages.pofile.read_po): no compile step, nothing generated to keep in step, and the
.po files in the wheel are the very ones reviewed. A test checks every message the templates
and routes use is in both catalogs.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

LANGUAGES = ("en", "zh")
DEFAULT = "en"
_BABEL_LOCALE = {"en": "en_GB", "zh": "zh_Hans_CN"}
_catalogs: dict[str, dict[str, str]] = {}
_lock = threading.Lock()


def _load(lang: str) -> dict[str, str]:
    from babel.messages.pofile import read_po

    path = resources.files("mlgov.server.console") / "locale" / lang / "LC_MESSAGES"
    with (path / "messages.po").open("rb") as f:
        catalog = read_po(f, locale=lang)
    return {
        str(m.id): str(m.string)
        for m in catalog
        if m.id and isinstance(m.id, str) and m.string and not m.fuzzy
    }


def catalog(lang: str) -> dict[str, str]:
    with _lock:
        if lang not in _catalogs:
            _catalogs[lang] = _load(lang)
        return _catalogs[lang]


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The `lang` cookie if it names a language we have, else Accept-Language, else en."""
    if cookie in LANGUAGES:
        return str(cookie)
    ranked: list[tuple[float, str]] = []
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((quality, primary))
    ranked.sort(key=lambda r: -r[0])  # stable: equal qualities keep the client's order
    return ranked[0][1] if ranked else DEFAULT


class Translator:
    """`_("message", **values)`: the catalog's text for the language, formatted."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT
        self._messages = catalog(self.lang)

    def __call__(self, message: str, **values: Any) -> str:
        text = self._messages.get(message) or message
        return text.format(**values) if values else text

    def time(self, value: str | datetime | None) -> str:
        """A stored UTC time (ISO text or datetime) in the language's medium format, UTC."""
        from babel.dates import format_datetime

        when = _parse(value)
        if when is None:
            return "—"
        shown = format_datetime(when, "medium", tzinfo=UTC, locale=_BABEL_LOCALE[self.lang])
        return f"{shown} UTC"

    def age(self, value: str | datetime | None, now: datetime | None = None) -> str:
        """How long ago (or from now) a stored time is, e.g. '3 hours ago' / '3小时前'."""
        from babel.dates import format_timedelta

        when = _parse(value)
        if when is None:
            return "—"
        delta: timedelta = when - (now or datetime.now(UTC))  # negative: in the past
        return format_timedelta(
            delta, threshold=1.0, add_direction=True, locale=_BABEL_LOCALE[self.lang]
        )


def _parse(value: str | datetime | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
