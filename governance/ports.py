"""Small interfaces the core needs from the outside world; adapters implement them.

mlgov.registry implements ModelRegistry over MLflow, mlgov.deploy implements Deployer over
BentoML, mlgov.monitoring implements DriftChecker over Evidently (and the fast engine).
The core never imports those packages; tests may pass fakes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from mlgov.governance.drift import DriftResult, DriftSpec


@dataclass(frozen=True)
class RegisteredVersion:
    """What the registry knows of a version at registration: lineage and fingerprint."""

    model: str
    version: str  # MLflow's version number, as text ("1", "2", ...)
    source_uri: str  # the logged model's URI (models:/m-<id>)
    run_id: str | None
    experiment_id: str | None
    datasets: tuple[dict[str, Any], ...] = ()  # MLflow dataset inputs: name, digest, source...
    git_commit: str | None = None
    signature: dict[str, Any] | None = None  # {"inputs": [{"name":..,"type":..}], "outputs": ...}
    flavors: tuple[str, ...] = ()
    fingerprint: Mapping[str, str] = field(default_factory=dict)  # artifact path -> sha256
    metrics: Mapping[str, float] = field(default_factory=dict)  # the run's metrics
    created: bool = True  # False when an existing MLflow version was adopted


@dataclass(frozen=True)
class RegistryVersionState:
    """A version as MLflow shows it now (for reconcile)."""

    version: str
    tags: Mapping[str, str]
    source_uri: str
    # MLflow's deprecated stage ("Staging", "Production", "Archived") when one is set;
    # governance never sets it, so any value was set by hand.
    legacy_stage: str | None = None


# What MLflow says of a governed version's run (ModelRegistry.run_states).
RUN_ACTIVE, RUN_DELETED, RUN_MISSING = "active", "deleted", "missing"


@dataclass(frozen=True)
class RegistryModelState:
    model: str
    exists: bool
    versions: Mapping[str, RegistryVersionState]  # version -> state
    aliases: Mapping[str, str]  # alias -> version


class ModelRegistry(Protocol):
    def register(
        self,
        model: str,
        *,
        run_id: str | None = None,
        model_uri: str | None = None,
        artifact_path: str | None = None,
        op_id: str | None = None,
    ) -> RegisteredVersion:
        """`op_id`: a version created here carries it as the tag mlgov.op_id (reconcile finds
        a registration a crash interrupted by it)."""

    def discard(self, model: str, version: str) -> None:
        """Delete a version this mlgov created, when governance could not record it."""

    def run_metrics(self, run_id: str) -> dict[str, float]: ...

    def fingerprint(self, model: str, version: str) -> dict[str, str]:
        """Re-hash the version's artifact files now (path -> sha256)."""

    def mirror(
        self,
        model: str,
        version: str,
        *,
        tags: Mapping[str, str],
        set_aliases: Sequence[str] = (),
        remove_aliases: Sequence[str] = (),
    ) -> None: ...

    def log_card(self, model: str, version: str, card: Mapping[str, str]) -> None: ...

    def log_reference(self, model: str, version: str, path: Path) -> None: ...

    def log_artifacts(self, model: str, version: str, files: Sequence[Path], subdir: str) -> None:
        """Attach report files to the version's run (drift reports, evidence)."""

    def state(self, model: str) -> RegistryModelState: ...

    def list_models(self) -> list[str]: ...

    def run_states(self, run_ids: Sequence[str]) -> dict[str, str]:
        """Each run's RUN_ACTIVE, RUN_DELETED (soft-deleted, restorable) or RUN_MISSING."""

    def clear_legacy_stage(self, model: str, version: str) -> None:
        """Set MLflow's deprecated stage of the version back to "None"."""


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset file as recorded: its hash, size and column schema (no values)."""

    path: Path
    sha256: str
    rows: int
    columns: Mapping[str, Mapping[str, str]]  # column -> {"kind": ..., "dtype": ...}


class DatasetInspector(Protocol):
    def describe(self, path: Path) -> DatasetInfo:
        """Read a CSV/Parquet file; BadInput naming the file/column when it is unusable."""


class DriftChecker(Protocol):
    def check(
        self,
        reference: Path,
        current: Path,
        spec: DriftSpec,
        *,
        html_out: Path | None = None,
        json_out: Path | None = None,
    ) -> DriftResult: ...


class Notifier(Protocol):
    def notify(self, event: str, payload: Mapping[str, Any]) -> None:
        """Best effort: must never raise into the caller's decision."""


@dataclass(frozen=True)
class PredictionBatch:
    """Served requests exported for a monitoring run: the rows after `since`, and their span."""

    rows: int
    sha256: str
    first: datetime | None
    last: datetime | None


class PredictionSource(Protocol):
    def export(
        self, model: str, version: str, *, since: datetime | None, out: Path, columns: list[str]
    ) -> PredictionBatch:
        """Write the feature columns of requests logged after `since` to `out` (Parquet)."""


@dataclass(frozen=True)
class PerformanceWindow:
    """Served predictions joined to their outcomes: the window's metrics (None when they are
    undefined, e.g. outcomes of one class only) and its span. Never the rows themselves."""

    task: str  # "classification" or "regression"
    rows: int
    metrics: Mapping[str, float] | None
    unmatched_labels: int
    labels_sha256: str
    first: datetime | None
    last: datetime | None


class OutcomeSource(Protocol):
    def evaluate(
        self,
        target: str,
        model: str,
        version: str,
        labels: Path,
        *,
        id_column: str,
        label_column: str,
        task: str | None,
    ) -> PerformanceWindow:
        """Join `labels` to what `target` logged for the version; compute the metrics."""


@dataclass(frozen=True)
class PreparedDeployment:
    """What the deployer built for a target before governance records the deployment."""

    target: str
    bento_model_tag: str
    bento_tag: str | None
    manifest_path: Path

    def to_record(self) -> dict[str, str | None]:
        """As JSON, for a deploy operation's intent row (reconcile rebuilds it from there)."""
        return {
            "target": self.target,
            "bento_model_tag": self.bento_model_tag,
            "bento_tag": self.bento_tag,
            "manifest_path": str(self.manifest_path),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> PreparedDeployment:
        return cls(
            target=record["target"],
            bento_model_tag=record["bento_model_tag"],
            bento_tag=record["bento_tag"],
            manifest_path=Path(record["manifest_path"]),
        )


class Deployer(Protocol):
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
        """Import the model into the serving store, build the service, write its manifest."""

    def discard(self, prepared: PreparedDeployment) -> None:
        """Undo prepare() when governance could not record the deployment."""

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
        """The kill switch and the pointer to what the target serves: serving, suspended,
        undeployed or retired, with the version's governance stage for /metadata. A running
        server picks the change up within seconds. With `op_id` the write is marked as that
        operation's and keeps the status it replaced, for `restore_status`."""

    def status_operation(self, target: str) -> str | None:
        """The operation that last wrote the target's status, if any."""

    def restore_status(self, target: str, op_id: str) -> bool:
        """If operation `op_id` wrote the target's status, put back what it replaced (the
        serving pointer included); True when something was restored."""
