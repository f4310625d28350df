"""Reference datasets: the drift baseline recorded for a version at the train gate."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from sqlalchemy import select
from sqlalchemy.orm import Session

from mlgov.governance.clock import isoformat
from mlgov.governance.data_grade import DataGrade
from mlgov.governance.errors import BadInput, IllegalTransition
from mlgov.governance.lifecycle import Stage
from mlgov.governance.roles import Action
from mlgov.governance.tables import ModelVersion, ReferenceDataset

if TYPE_CHECKING:
    from mlgov.governance.service import Governance

SUFFIXES = (".csv", ".parquet")


def current_reference(session: Session, version: ModelVersion) -> ReferenceDataset | None:
    return session.scalar(
        select(ReferenceDataset)
        .where(ReferenceDataset.version_id == version.id)
        .order_by(ReferenceDataset.id.desc())
        .limit(1)
    )


def signature_inputs(version: ModelVersion) -> list[str] | None:
    signature = (version.lineage or {}).get("signature") or {}
    inputs = signature.get("inputs")
    if not inputs:
        return None
    names: list[Any] = [i.get("name") for i in inputs if isinstance(i, Mapping)]  # JSON
    return names if all(names) else None


def check_columns_match(version: ModelVersion, columns: list[str]) -> None:
    expected = signature_inputs(version)
    if expected is None:
        return
    missing = [c for c in expected if c not in columns]
    extra = [c for c in columns if c not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing column(s) {', '.join(missing)}")
        if extra:
            parts.append(f"extra column(s) {', '.join(extra)}")
        raise BadInput(
            f"reference dataset does not match the model signature of {version.label}: "
            + "; ".join(parts)
        )


@overload
def reference_view(ref: ReferenceDataset) -> dict[str, Any]: ...
@overload
def reference_view(ref: ReferenceDataset | None) -> dict[str, Any] | None: ...
def reference_view(ref: ReferenceDataset | None) -> dict[str, Any] | None:
    if ref is None:
        return None
    return {
        "file": ref.original_name,
        "stored_at": ref.path,
        "sha256": ref.sha256,
        "rows": ref.rows,
        "columns": ref.columns,
        "recorded_at": isoformat(ref.created_at),
        "recorded_by": ref.created_by,
        "grade": ref.data_grade,
        "sensitive": ref.sensitive,
    }


def record_reference(
    gov: Governance,
    actor: str,
    model: str,
    version: str,
    path: Path,
    *,
    data_grade: DataGrade | None = None,
) -> dict[str, Any]:
    """Describe, check and keep a copy of the reference dataset, then log it to MLflow.
    `data_grade`: the dataset's grade and sensitivity, recorded with it (and audited)."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise BadInput(f"reference file {path} must be CSV or Parquet (.csv or .parquet)")
    if not path.is_file():
        raise BadInput(f"reference file {path} not found")
    if gov.home is None:
        raise BadInput("no MLGOV_HOME configured to keep reference datasets")
    with gov.store.read() as s:
        gov.authorize(s, actor, Action.EDIT_EVIDENCE)
        v = gov.version(s, model, version)
        if v.stage == Stage.RETIRE.value:
            raise IllegalTransition(f"{v.label} is retired: its evidence is kept as it was")
    info = gov.ports["datasets"].describe(path)
    kept = gov.home / "references" / model / str(version) / f"{info.sha256}{path.suffix.lower()}"
    existed = kept.exists()
    try:
        with gov.store.transaction() as s:
            gov.authorize(s, actor, Action.EDIT_EVIDENCE)
            v = gov.version(s, model, version, lock=True)
            check_columns_match(v, list(info.columns))
            old = current_reference(s, v)
            if old is not None and old.sha256 == info.sha256:
                raise BadInput(f"{v.label}: this reference dataset is already recorded")
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, kept)
            ref = ReferenceDataset(
                version_id=v.id,
                path=str(kept),
                original_name=path.name,
                sha256=info.sha256,
                rows=info.rows,
                columns={k: dict(val) for k, val in info.columns.items()},
                created_at=gov.now(),
                created_by=actor,
                data_grade=data_grade.grade if data_grade else None,
                sensitive=data_grade.sensitive if data_grade else None,
            )
            s.add(ref)
            gov.touch(v)
            gov.audit(
                s,
                actor,
                "reference.record",
                f"model:{model}/{v.version}",
                {
                    "sha256": info.sha256,
                    "rows": info.rows,
                    "columns": sorted(info.columns),
                    "file": path.name,
                    "replaces": old.sha256 if old else None,
                    "data_grade": data_grade.to_json() if data_grade else None,
                },
            )
            s.flush()
            registry = gov.ports.get("registry")
            if registry is not None:
                registry.log_reference(model, v.version, kept)
            return reference_view(ref) | {"model": model, "version": v.version}
    except BaseException:
        if not existed:
            kept.unlink(missing_ok=True)
        raise
