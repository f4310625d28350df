"""The console's message catalogs: the `messages` domain of mlgov.i18n, the one catalog
mechanism the console and the evidence packs share."""

from __future__ import annotations

from mlgov.i18n import DEFAULT, LANGUAGES, Translator, catalog, negotiate

__all__ = ["DEFAULT", "LANGUAGES", "Translator", "catalog", "negotiate"]
