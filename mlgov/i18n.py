"""Message catalogs (zh, en) and locale-aware formatting of dates, numbers and durations,
shared by the web console and the evidence packs.

The catalogs are gettext .po files under mlgov/server/console/locale/LANG/LC_MESSAGES/, one
per domain: `messages` (the console) and `reports` (evidence packs). They are read with
babel.messages.pofile.read_po when first used: no compile step, nothing generated to keep in
step, and the .po files in the wheel are the very ones reviewed. They are found through the
top package's files so that reading them never imports the console (FastAPI) into the CLI.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

LANGUAGES = ("en", "zh")
DEFAULT = "en"
CONSOLE = "messages"
REPORTS = "reports"
_BABEL_LOCALE = {"en": "en_GB", "zh": "zh_Hans_CN"}
_catalogs: dict[tuple[str, str], dict[str, str]] = {}
_lock = threading.Lock()


def _load(lang: str, domain: str) -> dict[str, str]:
    from babel.messages.pofile import read_po

    path = resources.files("mlgov") / "server" / "console" / "locale" / lang / "LC_MESSAGES"
    with (path / f"{domain}.po").open("rb") as f:
        catalog = read_po(f, locale=lang)
    return {
        str(m.id): str(m.string)
        for m in catalog
        if m.id and isinstance(m.id, str) and m.string and not m.fuzzy
    }


def catalog(lang: str, domain: str = CONSOLE) -> dict[str, str]:
    with _lock:
        if (lang, domain) not in _catalogs:
            _catalogs[lang, domain] = _load(lang, domain)
        return _catalogs[lang, domain]


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


def parse_languages(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """`zh`, `en`, `zh,en` (or a list of them) as a tuple without repeats, in the order given;
    ValueError naming what is not a language of the catalogs."""
    if text is None:
        return (DEFAULT,)
    parts = text.split(",") if isinstance(text, str) else list(text)
    langs: list[str] = []
    for part in (p.strip().lower() for p in parts):
        if part not in LANGUAGES:
            raise ValueError(
                f"language {part!r} has no catalog: choose from {', '.join(LANGUAGES)} "
                "(several separated by commas, e.g. zh,en)"
            )
        if part not in langs:
            langs.append(part)
    if not langs:
        raise ValueError(f"no language given: choose from {', '.join(LANGUAGES)}")
    return tuple(langs)


class Translator:
    """`_("message", **values)`: the catalog's text for the language, formatted. With several
    domains the first that has the message wins (a pack reuses the console's stage names)."""

    def __init__(self, lang: str, domains: Sequence[str] = (CONSOLE,)) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT
        self._messages: dict[str, str] = {}
        for domain in reversed(domains):
            self._messages.update(catalog(self.lang, domain))

    def __call__(self, message: str, **values: Any) -> str:
        text = self._messages.get(message) or message
        return text.format(**values) if values else text

    def has(self, message: str) -> bool:
        return message in self._messages

    def time(self, value: str | datetime | None) -> str:
        """A stored UTC time (ISO text or datetime) in the language's medium format, UTC."""
        from babel.dates import format_datetime

        when = _parse(value)
        if when is None:
            return "—"
        shown = format_datetime(when, "medium", tzinfo=UTC, locale=_BABEL_LOCALE[self.lang])
        return f"{shown} UTC"

    def date(self, value: str | datetime | None) -> str:
        from babel.dates import format_date

        when = _parse(value)
        if when is None:
            return "—"
        return str(format_date(when.astimezone(UTC), "medium", locale=_BABEL_LOCALE[self.lang]))

    def number(self, value: float | int) -> str:
        """Grouped digits, at most four significant decimals for floats."""
        from babel.numbers import format_decimal

        if isinstance(value, float):
            return str(format_decimal(value, format="#,##0.####", locale=_BABEL_LOCALE[self.lang]))
        return str(format_decimal(value, locale=_BABEL_LOCALE[self.lang]))

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
