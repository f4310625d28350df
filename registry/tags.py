"""The MLflow tags and artifact paths mlgov writes, and the rules their keys follow."""

from __future__ import annotations

import re
from collections.abc import Mapping

from mlgov.governance.errors import BadInput

CREATED_TAG = "mlgov.created"  # on versions and registered models mlgov created itself
CARD_TAG_PREFIX = "mlgov.card."
CARD_ARTIFACT = "model_card.json"

# MLflow 2.x capped registry tag values at 5,000 characters; 3.x stores Text but other
# backends and older servers still cap. Longer card fields travel in the JSON artifact only.
MAX_TAG_VALUE = 5000
MAX_TAG_KEY = 250

# MLflow's own rule for tag keys: letters, digits, '_', '-', '.', ' ', '/'; we drop ' ' and '/'.
_TAG_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_CARD_FIELD = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
_SUBDIR_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def validate_tag(key: str, value: str | None) -> None:
    if not isinstance(key, str) or len(key) > MAX_TAG_KEY or not _TAG_KEY.match(key):
        raise BadInput(
            f"tag key '{key}' is not allowed: use letters, digits, '_', '.', '-' "
            f"(at most {MAX_TAG_KEY} characters)"
        )
    if value is not None and not isinstance(value, str):
        raise BadInput(f"tag '{key}' must have a text value")
    if value is not None and len(value) > MAX_TAG_VALUE:
        raise BadInput(f"tag '{key}' is longer than {MAX_TAG_VALUE} characters")


def card_tags(card: Mapping[str, str], artifact_uri: str | None) -> dict[str, str]:
    """Tags that show the card in MLflow: one per field, long fields pointing to the artifact."""
    tags: dict[str, str] = {}
    for field, value in card.items():
        if not isinstance(field, str) or not _CARD_FIELD.match(field):
            raise BadInput(
                f"model card field '{field}' is not allowed: use letters, digits, '_', '.', '-'"
            )
        if not isinstance(value, str):
            raise BadInput(f"model card field '{field}' must be text")
        if len(value) <= MAX_TAG_VALUE:
            tags[CARD_TAG_PREFIX + field] = value
        elif artifact_uri is None:
            raise BadInput(
                f"model card field '{field}' is longer than {MAX_TAG_VALUE} characters and the "
                "version has no MLflow run to hold the card file: shorten it"
            )
        else:
            tags[CARD_TAG_PREFIX + field] = (
                f"(longer than {MAX_TAG_VALUE} characters: see {artifact_uri})"
            )
    return tags


def version_artifact_dir(model: str, version: str, kind: str) -> str:
    """Run-relative folder for what mlgov logs about one version.

    Keyed by model and version because two registered versions can share one run.
    """
    parts = [p for p in kind.split("/") if p]
    if not parts or any(not _SUBDIR_PART.match(p) or ".." in p for p in parts):
        raise BadInput(
            f"artifact folder '{kind}' is not allowed: use relative names of letters, digits, "
            "'_', '.', '-' separated by '/', without '..'"
        )
    return "/".join(["mlgov", model, f"v{version}", *parts])
