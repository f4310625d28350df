"""Names and URIs: what mlgov accepts as a model name and how it reads a model source URI.

Pure functions, no MLflow import: the CLI validates input before any remote call.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import Literal

from mlgov.governance.errors import BadInput
from mlgov.governance.validate import ALIAS, LOGGED_MODEL_ID, RUN_ID, model_name

_VERSION_ALIAS = re.compile(r"^[vV]\d+$")


def validate_model_name(name: str) -> str:
    """Return `name` unchanged, or raise BadInput saying which rule it breaks."""
    return model_name(name)


def validate_version(version: str | int) -> str:
    text = str(version).strip()
    if not text.isdigit() or int(text) < 1:
        raise BadInput(f"model version '{_shown(text)}' is not a positive whole number")
    return str(int(text))


def validate_alias(alias: str) -> str:
    if not ALIAS.fullmatch(alias or "") or _VERSION_ALIAS.match(alias) or alias == "latest":
        raise BadInput(
            f"alias '{_shown(alias)}' is not allowed: use letters, digits, '_' or '-', starting "
            "with a letter or '_'; 'latest' and 'v<number>' are reserved by MLflow"
        )
    return alias


def validate_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id.strip()):
        raise BadInput(
            f"run id '{_shown(str(run_id))}' is malformed: an MLflow run id is 32 hex characters"
        )
    return run_id.strip()


@dataclass(frozen=True)
class SourceUri:
    """A parsed model source. kind says which fields are set."""

    kind: Literal["version", "alias", "logged_model", "run"]
    uri: str
    name: str | None = None
    version: str | None = None
    alias: str | None = None
    model_id: str | None = None
    run_id: str | None = None
    path: str | None = None


def parse_source_uri(uri: str) -> SourceUri:
    """Read models:/NAME/VERSION, models:/NAME@ALIAS, models:/m-<id> or runs:/<run>/<path>."""
    text = (uri or "").strip()
    parsed = urllib.parse.urlparse(text, allow_fragments=False)
    if parsed.scheme == "models" and not parsed.netloc:
        parts = parsed.path.lstrip("/").split("/")
        if len(parts) == 2 and parts[0] and parts[1].isdigit():
            return SourceUri("version", text, name=parts[0], version=str(int(parts[1])))
        if len(parts) == 1 and "@" in parts[0]:
            name, _, alias = parts[0].rpartition("@")
            if name and alias:
                return SourceUri("alias", text, name=name, alias=alias)
        if len(parts) == 1 and LOGGED_MODEL_ID.fullmatch(parts[0]):
            return SourceUri("logged_model", text, model_id=parts[0])
    if parsed.scheme == "runs" and not parsed.netloc:
        run_id, _, path = parsed.path.lstrip("/").partition("/")
        if RUN_ID.fullmatch(run_id) and path.strip("/"):
            return SourceUri("run", text, run_id=run_id, path=path.strip("/"))
    raise BadInput(
        f"model URI '{_shown(text)}' is not supported: use models:/NAME/VERSION, "
        "models:/NAME@ALIAS, models:/m-<logged model id> or runs:/<run id>/<artifact path>"
    )


def redact_uri(uri: str) -> str:
    """The URI without user:password@ (it goes into error messages)."""
    parsed = urllib.parse.urlsplit(uri)
    if parsed.username is None and parsed.password is None:
        return uri
    host = parsed.hostname or ""
    if parsed.port:
        host = f"{host}:{parsed.port}"
    return urllib.parse.urlunsplit(parsed._replace(netloc=f"***@{host}"))


def filter_literal(value: str) -> str:
    """Quote a value for an MLflow search filter, refusing what cannot be quoted safely."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise BadInput(f"name '{_shown(value)}' mixes both quote characters and cannot be searched")


def _shown(text: str, limit: int = 80) -> str:
    """Input echoed in a message: shortened and without control characters."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in text)
    return clean if len(clean) <= limit else clean[: limit - 3] + "..."
