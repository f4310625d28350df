"""Lineage read from MLflow entities, as plain data the governance store can keep."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlgov.governance.errors import BadInput

GIT_COMMIT_TAG = "mlflow.source.git.commit"
DATASET_CONTEXT_TAG = "mlflow.data.context"


def run_datasets(run: Any) -> tuple[dict[str, Any], ...]:
    """The run's MLflow dataset inputs: name, digest, source type and context (no data)."""
    inputs = getattr(run, "inputs", None)
    found = []
    for dataset_input in getattr(inputs, "dataset_inputs", None) or ():
        dataset = dataset_input.dataset
        tags = {tag.key: tag.value for tag in dataset_input.tags or ()}
        found.append(
            {
                "name": dataset.name,
                "digest": dataset.digest,
                "source_type": dataset.source_type,
                "context": tags.get(DATASET_CONTEXT_TAG),
            }
        )
    return tuple(found)


def run_git_commit(run: Any) -> str | None:
    return (run.data.tags or {}).get(GIT_COMMIT_TAG) if run is not None else None


def run_metrics(run: Any) -> dict[str, float]:
    return {key: float(value) for key, value in (run.data.metrics or {}).items()}


def read_mlmodel(model_dir: Path) -> tuple[dict[str, Any] | None, tuple[str, ...]]:
    """Signature (inputs/outputs as lists of {name, type}) and flavour names of a model folder."""
    from mlflow.models import Model

    try:
        model = Model.load(str(model_dir / "MLmodel"))
    except Exception as exc:  # malformed YAML or schema: the model is unusable as logged
        raise BadInput(f"the model's MLmodel file cannot be read ({type(exc).__name__})") from exc
    flavors = tuple(sorted(model.flavors or {}))
    signature = model.signature
    if signature is None:
        return None, flavors
    return {
        "inputs": _schema_columns(signature.inputs),
        "outputs": _schema_columns(signature.outputs),
    }, flavors


def _schema_columns(schema: Any) -> list[dict[str, Any]]:
    if schema is None:
        return []
    columns = []
    for spec in schema.to_dict():
        column: dict[str, Any] = {"name": spec.get("name"), "type": spec.get("type")}
        if spec.get("type") == "tensor":
            tensor = spec.get("tensor-spec") or {}
            column["dtype"] = tensor.get("dtype")
            column["shape"] = tensor.get("shape")
        columns.append(column)
    return columns
