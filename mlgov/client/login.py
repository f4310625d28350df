"""The token kept by `mlgov login`: one file, readable by its owner only, in the user's
config directory ($XDG_CONFIG_HOME/mlgov/login.json, else ~/.config/mlgov/login.json)."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from mlgov.api import errors


@dataclass(frozen=True)
class StoredLogin:
    url: str
    token: str


def login_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "mlgov" / "login.json"


def stored_login() -> StoredLogin | None:
    path = login_file()
    if not path.is_file():
        return None
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise errors.BadInput(
            f"{path} is readable by others (mode {mode:o}): it holds a token",
            hint=f"run `chmod 600 {path}`, or `mlgov logout` and log in again",
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return StoredLogin(str(data["url"]), str(data["token"]))
    except (OSError, ValueError, KeyError, TypeError):
        raise errors.BadInput(
            f"{path} is not a login file mlgov wrote", hint="run `mlgov logout`, then log in"
        ) from None


def store_login(url: str, token: str) -> Path:
    path = login_file()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Created 0600 before the token is written, so it is never readable by others.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"url": url, "token": token}, handle)
    os.chmod(path, 0o600)
    return path


def forget_login() -> bool:
    path = login_file()
    if path.exists():
        path.unlink()
        return True
    return False
