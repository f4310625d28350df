"""Hashing files and comparing artifact fingerprints: one implementation for the core and
every adapter (registry fingerprints, dataset hashes, evidence-pack manifests)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in blocks (model artifacts and datasets can be large)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint_digest(files: Mapping[str, str]) -> str:
    """One SHA-256 for a set of artifact files (path -> sha256), independent of order."""
    lines = "".join(f"{path}\0{sha}\n" for path, sha in sorted(files.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


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
        parts = [f"{label}: {', '.join(paths)}" for label, paths in self._kinds() if paths]
        return "; ".join(parts)

    def change(self) -> str | None:
        """The wording governance uses in findings and voided approvals; None when equal."""
        parts = [f"{label} {', '.join(paths)}" for label, paths in self._kinds() if paths]
        return "; ".join(parts) if parts else None

    def _kinds(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        return (("changed", self.changed), ("missing", self.missing), ("added", self.added))


def compare_fingerprints(expected: Mapping[str, str], actual: Mapping[str, str]) -> FingerprintDiff:
    """Compare the recorded fingerprint (expected) with a fresh one (actual), path by path."""
    expected_paths, actual_paths = set(expected), set(actual)
    common = expected_paths & actual_paths
    return FingerprintDiff(
        changed=tuple(sorted(p for p in common if expected[p] != actual[p])),
        missing=tuple(sorted(expected_paths - actual_paths)),
        added=tuple(sorted(actual_paths - expected_paths)),
    )
