"""Remote twin of mlgov.api.policy: the file is read here and sent as TOML text."""

from __future__ import annotations

from pathlib import Path

from mlgov.api.actor import Actor
from mlgov.api.errors import PolicyError
from mlgov.api.policy import PolicyHistory, PolicySet
from mlgov.api.results import Record, revive
from mlgov.client.connection import ServerConnection

MAX_POLICY_BYTES = 1024 * 1024


def show_policy(conn: ServerConnection, actor: Actor, *, tier: str | None = None) -> Record:
    return Record(conn.get("/policy", tier=tier))


def set_policy(
    conn: ServerConnection, actor: Actor, file: str, *, source: str | None = None
) -> PolicySet:
    path = Path(file)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(f"policy file {file}: not found") from None
    except IsADirectoryError:
        raise PolicyError(f"policy file {file}: is a directory, give a TOML file") from None
    except UnicodeDecodeError:
        raise PolicyError(f"policy file {file}: is not UTF-8 text") from None
    except OSError as exc:
        raise PolicyError(f"policy file {file}: cannot be read: {exc.strerror}") from None
    if len(text.encode("utf-8")) > MAX_POLICY_BYTES:
        raise PolicyError(f"policy file {file}: larger than 1 MB; no policy is that long")
    body = {"document": text, "source": source or path.name}
    return revive(PolicySet, conn.put("/policy", body))


def policy_history(conn: ServerConnection, actor: Actor) -> PolicyHistory:
    return revive(PolicyHistory, conn.get("/policy/history"))
