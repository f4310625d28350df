"""URL paths of the server's resources, with every name quoted (a name never adds a path
segment of its own)."""

from __future__ import annotations

from urllib.parse import quote


def seg(value: object) -> str:
    return quote(str(value), safe="")


def version_path(model: str, version: str) -> str:
    return f"/models/{seg(model)}/versions/{seg(version)}"
