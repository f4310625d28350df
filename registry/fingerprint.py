"""Artifact fingerprints: SHA-256 of every file of a model, and what changed between two."""

from __future__ import annotations

from pathlib import Path

from mlgov.governance.fingerprints import FingerprintDiff, compare_fingerprints
from mlgov.governance.fingerprints import file_sha256 as sha256_file

# MLflow writes this file into downloaded model folders and, on a local store, into the store
# itself when models:/NAME/V is loaded: it is not part of the model as logged.
SKIPPED_FILES = frozenset({"registered_model_meta"})


def hash_tree(root: Path) -> dict[str, str]:
    """Relative POSIX path -> sha256 for every regular file under root (sorted by path)."""
    root = Path(root)
    if root.is_file():
        return {root.name: sha256_file(root)}
    result: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name not in SKIPPED_FILES:
            result[path.relative_to(root).as_posix()] = sha256_file(path)
    return result


__all__ = ["SKIPPED_FILES", "FingerprintDiff", "compare_fingerprints", "hash_tree", "sha256_file"]
