"""Fakes of the core's ports, for unit tests of the core (never the only test of an adapter)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mlgov.governance.errors import NotFound
from mlgov.governance.ports import RegisteredVersion, RegistryModelState, RegistryVersionState


@dataclass
class FakeRegistry:
    """An in-memory model registry: versions, tags, aliases and artifact files."""

    metrics: dict[str, float] = field(default_factory=lambda: {"roc_auc": 0.8})
    files: dict[tuple[str, str], dict[str, bytes]] = field(default_factory=dict)
    tags: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)
    cards: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    references: dict[tuple[str, str], str] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    fail_on: set[str] = field(default_factory=set)

    def _maybe_fail(self, op: str) -> None:
        self.calls.append(op)
        if op in self.fail_on:
            from mlgov.governance.errors import ExternalError

            raise ExternalError(f"fake registry refused {op}")

    def register(
        self,
        model: str,
        *,
        run_id: str | None = None,
        model_uri: str | None = None,
        artifact_path: str | None = None,
    ) -> RegisteredVersion:
        self._maybe_fail("register")
        version = str(1 + sum(1 for m, _ in self.files if m == model))
        self.files[(model, version)] = {"MLmodel": f"{model}-{version}".encode(), "model.pkl": b"x"}
        self.tags[(model, version)] = {}
        return RegisteredVersion(
            model=model,
            version=version,
            source_uri=model_uri or f"models:/m-{model}-{version}",
            run_id=run_id or f"run-{model}-{version}",
            experiment_id="0",
            signature={"inputs": [{"name": "x", "type": "double"}]},
            flavors=("python_function",),
            fingerprint=self.fingerprint(model, version),
            metrics=dict(self.metrics),
        )

    def discard(self, model: str, version: str) -> None:
        self.calls.append("discard")
        self.files.pop((model, version), None)
        self.tags.pop((model, version), None)

    def run_metrics(self, run_id: str) -> dict[str, float]:
        self._maybe_fail("run_metrics")
        return dict(self.metrics)

    def fingerprint(self, model: str, version: str) -> dict[str, str]:
        if (model, version) not in self.files:
            raise NotFound(f"{model}/{version} not in the fake registry")
        return {p: hashlib.sha256(b).hexdigest() for p, b in self.files[(model, version)].items()}

    def mirror(
        self,
        model: str,
        version: str,
        *,
        tags: Mapping[str, str],
        set_aliases: Sequence[str] = (),
        remove_aliases: Sequence[str] = (),
    ) -> None:
        self._maybe_fail("mirror")
        self.tags.setdefault((model, version), {}).update(tags)
        model_aliases = self.aliases.setdefault(model, {})
        for alias in set_aliases:
            model_aliases[alias] = version
        for alias in remove_aliases:
            if model_aliases.get(alias) == version:
                del model_aliases[alias]

    def log_card(self, model: str, version: str, card: Mapping[str, str]) -> None:
        self._maybe_fail("log_card")
        self.cards[(model, version)] = dict(card)

    def log_reference(self, model: str, version: str, path: Path) -> None:
        self._maybe_fail("log_reference")
        self.references[(model, version)] = str(path)

    def log_artifacts(self, model: str, version: str, files: Sequence[Path], subdir: str) -> None:
        self._maybe_fail("log_artifacts")

    def state(self, model: str) -> RegistryModelState:
        versions = {
            v: RegistryVersionState(version=v, tags=dict(self.tags.get((m, v), {})), source_uri="")
            for (m, v) in self.files
            if m == model
        }
        return RegistryModelState(
            model=model,
            exists=bool(versions),
            versions=versions,
            aliases=dict(self.aliases.get(model, {})),
        )

    def list_models(self) -> list[str]:
        return sorted({m for m, _ in self.files})
