"""Where things live on disk: the SQLite store's file and the default artifact folder."""

from __future__ import annotations

import urllib.parse
from pathlib import Path


def sqlite_path(tracking_uri: str) -> Path | None:
    """The database file of a sqlite:/// URI (None for other schemes and in-memory stores)."""
    if not tracking_uri.startswith("sqlite:///"):
        return None
    path = urllib.parse.unquote(tracking_uri[len("sqlite:///") :].split("?", 1)[0])
    if not path or path == ":memory:":
        return None
    # sqlite:////abs/path leaves "/abs/path"; sqlite:///rel/path leaves "rel/path"
    return Path(path).resolve()


def default_artifact_location(tracking_uri: str) -> str | None:
    """Artifacts of an embedded SQLite store go beside its database, not into ./mlruns.

    A tracking server decides its own artifact location (None here).
    """
    db = sqlite_path(tracking_uri)
    if db is None:
        return None
    return (db.parent / "mlartifacts").as_uri()


def as_artifact_uri(location: str) -> str:
    """A plain folder path becomes a file: URI; URIs pass through."""
    if "://" in location or location.startswith(("file:", "mlflow-artifacts:")):
        return location
    return Path(location).resolve().as_uri()


def local_path_of(uri: str) -> Path | None:
    """The local folder behind a file: URI or plain path (None for remote artifact stores)."""
    parsed = urllib.parse.urlsplit(uri)
    if parsed.scheme == "file":
        return Path(urllib.parse.unquote(parsed.path))
    if parsed.scheme == "" and uri.startswith("/"):
        return Path(uri)
    return None
