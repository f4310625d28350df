"""Artifact fingerprints: SHA-256 of every file of a model, and what changed between two."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# MLflow writes this file into downloaded model folders and, on a local store, into the store
# itself when models:/NAME/V is loaded: it is not part of the model as logged.
SKIPPED_FILES = frozenset({"registered_model_meta"})
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


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


@dataclass(frozen=True)
class FingerprintDiff:
    """Paths whose content differs, paths that vanished, paths that appeared."""

    changed: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    added: tuple[str, ...] = ()

    @property
    def matches(self) -> bool:
        return not (self.changed or self.missing or self.added)

    def describe(self) -> str:
        if self.matches:
            return "artifacts match the recorded fingerprint"
        parts = []
        for label, paths in (("changed", self.changed), ("missing", self.missing)):
            if paths:
                parts.append(f"{label}: {', '.join(paths)}")
        if self.added:
            parts.append(f"added: {', '.join(self.added)}")
        return "; ".join(parts)


def compare_fingerprints(expected: Mapping[str, str], actual: Mapping[str, str]) -> FingerprintDiff:
    """Compare the recorded fingerprint (expected) with a fresh one (actual), path by path."""
    expected_paths, actual_paths = set(expected), set(actual)
    common = expected_paths & actual_paths
    return FingerprintDiff(
        changed=tuple(sorted(p for p in common if expected[p] != actual[p])),
        missing=tuple(sorted(expected_paths - actual_paths)),
        added=tuple(sorted(actual_paths - expected_paths)),
    )
