"""Fakes of the core's ports, for unit tests of the core (never the only test of an adapter)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgov.governance.errors import NotFound
from mlgov.governance.ports import (
    RUN_ACTIVE,
    RUN_DELETED,
    RegisteredVersion,
    RegistryModelState,
    RegistryVersionState,
)

if TYPE_CHECKING:
    from mlgov.governance.drift import DriftResult, DriftSpec
    from mlgov.governance.ports import PredictionBatch, PreparedDeployment


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
    fail_versions: set[str] = field(default_factory=set)  # mirror fails for these versions
    deleted_runs: set[str] = field(default_factory=set)
    legacy_stages: dict[tuple[str, str], str] = field(default_factory=dict)

    def _maybe_fail(self, op: str, version: str | None = None) -> None:
        self.calls.append(op)
        if op in self.fail_on or (version is not None and version in self.fail_versions):
            from mlgov.governance.errors import ExternalError

            raise ExternalError(f"fake registry refused {op}")

    def register(
        self,
        model: str,
        *,
        run_id: str | None = None,
        model_uri: str | None = None,
        artifact_path: str | None = None,
        op_id: str | None = None,
    ) -> RegisteredVersion:
        self._maybe_fail("register")
        adopted = _adopted(model, model_uri)
        if adopted is not None and (model, adopted) in self.files:
            version, created = adopted, False
        else:
            version, created = str(1 + sum(1 for m, _ in self.files if m == model)), True
            self.files[(model, version)] = {
                "MLmodel": f"{model}-{version}".encode(),
                "model.pkl": b"x",
            }
            self.tags[(model, version)] = {"mlgov.op_id": op_id} if op_id else {}
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
            created=created,
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
        self._maybe_fail("mirror", version)
        if (model, version) not in self.files:
            raise NotFound(f"{model}/{version} not in the fake registry")
        current = self.tags.setdefault((model, version), {})
        current.update({k: v for k, v in tags.items() if v is not None})
        for key in [k for k, v in tags.items() if v is None]:  # None deletes, as in MLflow's
            current.pop(key, None)
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
            v: RegistryVersionState(
                version=v,
                tags=dict(self.tags.get((m, v), {})),
                source_uri="",
                legacy_stage=self.legacy_stages.get((m, v)),
            )
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

    def run_states(self, run_ids: Sequence[str]) -> dict[str, str]:
        return {r: RUN_DELETED if r in self.deleted_runs else RUN_ACTIVE for r in run_ids}

    def clear_legacy_stage(self, model: str, version: str) -> None:
        self.legacy_stages.pop((model, version), None)


def _adopted(model: str, model_uri: str | None) -> str | None:
    """The version `models:/MODEL/VERSION` names (adopting it as the real registry does)."""
    prefix = f"models:/{model}/"
    if model_uri and model_uri.startswith(prefix) and model_uri[len(prefix) :].isdigit():
        return model_uri[len(prefix) :]
    return None


@dataclass
class FakeDeployer:
    """Records what a real deployer would build and every status written to a target."""

    root: Path
    # target -> state, reason, version, op_id, previous: (the status before op_id, its stage)
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)
    stages: dict[str, str | None] = field(default_factory=dict)
    prepared: list[str] = field(default_factory=list)
    discarded: list[str] = field(default_factory=list)

    def prepare(
        self,
        *,
        target: str,
        model: str,
        version: str,
        model_uri: str,
        fingerprint_digest: str,
        features: Sequence[Mapping[str, str]],
        metadata: Mapping[str, Any],
    ) -> PreparedDeployment:
        from mlgov.governance.ports import PreparedDeployment

        tag = f"{model}:{version}-{len(self.prepared)}"
        self.prepared.append(tag)
        manifest = self.root / target / f"{tag.replace(':', '-')}.json"
        manifest.parent.mkdir(parents=True, exist_ok=True)
        manifest.write_text("{}")
        return PreparedDeployment(
            target=target, bento_model_tag=tag, bento_tag=None, manifest_path=manifest
        )

    def discard(self, prepared: PreparedDeployment) -> None:
        self.discarded.append(prepared.bento_model_tag)

    def set_status(
        self,
        target: str,
        *,
        state: str,
        reason: str,
        model: str,
        version: str,
        manifest_path: Path,
        stage: str | None = None,
        op_id: str | None = None,
    ) -> None:
        before = self.statuses.get(target)
        new: dict[str, Any] = {"state": state, "reason": reason, "version": version}
        if op_id is not None:
            new["op_id"] = op_id
            kept = (before, self.stages.get(target))
            if before is not None and before.get("op_id") == op_id:  # the same operation
                new["previous"] = before.get("previous")
            else:
                new["previous"] = kept
        self.statuses[target] = new
        self.stages[target] = stage

    def status_operation(self, target: str) -> str | None:
        op_id: str | None = self.statuses.get(target, {}).get("op_id")
        return op_id

    def restore_status(self, target: str, op_id: str) -> bool:
        current = self.statuses.get(target)
        if current is None or current.get("op_id") != op_id:
            return False
        before, stage = current["previous"]
        if before is None:
            self.statuses[target] = {"state": "undeployed", "reason": "undone", "version": None}
        else:
            self.statuses[target] = {k: v for k, v in before.items() if k != "previous"}
        self.stages[target] = stage
        return True


@dataclass
class FakeDriftChecker:
    """Returns a prepared DriftResult: the share of columns to call drifted is settable."""

    drifted_share: float = 0.0
    columns: tuple[str, ...] = ("x", "y")
    calls: int = 0

    def __call__(self, engine: str, ignore_extra: bool) -> FakeDriftChecker:
        return self

    def check(
        self,
        reference: Path,
        current: Path,
        spec: DriftSpec,
        *,
        html_out: Path | None = None,
        json_out: Path | None = None,
    ) -> DriftResult:
        from mlgov.governance.drift import ColumnDrift, DriftResult

        self.calls += 1
        n_drifted = round(self.drifted_share * len(self.columns))
        cols = tuple(
            ColumnDrift(c, "numerical", "ks", 0.01 if i < n_drifted else 0.5, 0.05, i < n_drifted)
            for i, c in enumerate(self.columns)
        )
        for out in (html_out, json_out):
            if out is not None:
                Path(out).write_text("<html>fake report</html>")
        share = n_drifted / len(self.columns)
        return DriftResult(
            columns=cols,
            drifted_share=share,
            share_threshold=spec.share_threshold,
            drift_detected=share >= spec.share_threshold,
            reference_rows=10,
            current_rows=10,
            engine="fake",
        )


@dataclass
class FakePredictions:
    """A prediction log: batches appended by tests, exported after `since`."""

    batches: list[tuple[Any, int]] = field(default_factory=list)  # (time, rows)

    def export(
        self, model: str, version: str, *, since: datetime | None, out: Path, columns: list[str]
    ) -> PredictionBatch:
        from mlgov.governance.ports import PredictionBatch

        new = [(t, n) for t, n in self.batches if since is None or t > since]
        rows = sum(n for _, n in new)
        Path(out).write_text("x\n" + "1\n" * rows)
        return PredictionBatch(
            rows=rows,
            sha256=hashlib.sha256(str(new).encode()).hexdigest(),
            first=new[0][0] if new else None,
            last=new[-1][0] if new else None,
        )
