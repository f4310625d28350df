"""The reference dataset as an MLflow dataset input whose source is the logged artifact."""

from __future__ import annotations

from functools import cache
from typing import Any

from mlgov.registry.lineage import DATASET_CONTEXT_TAG

REFERENCE_CONTEXT = "reference"
SOURCE_TYPE = "mlgov_run_artifact"


@cache
def _source_class() -> type:
    # Built on first use so that importing this module does not import mlflow.
    from mlflow.data.dataset_source import DatasetSource

    class RunArtifactSource(DatasetSource):
        """A dataset stored as an artifact of an MLflow run (runs:/<run>/<path>)."""

        def __init__(self, uri: str) -> None:
            self.uri = uri

        @staticmethod
        def _get_source_type() -> str:
            return SOURCE_TYPE

        def load(self, dst_path: str | None = None) -> str:
            from mlflow.artifacts import download_artifacts

            return download_artifacts(artifact_uri=self.uri, dst_path=dst_path)

        @staticmethod
        def _can_resolve(raw_source: Any) -> bool:
            return False  # never picked implicitly; mlgov passes it explicitly

        @classmethod
        def _resolve(cls, raw_source: Any) -> RunArtifactSource:
            return cls(str(raw_source))

        def to_dict(self) -> dict[str, Any]:
            return {"uri": self.uri}

        @classmethod
        def from_dict(cls, source_dict: dict[Any, Any]) -> RunArtifactSource:
            return cls(source_dict["uri"])

    return RunArtifactSource


def reference_dataset_input(frame: Any, name: str, artifact_uri: str) -> Any:
    """A DatasetInput (context 'reference') for a pandas frame logged at `artifact_uri`."""
    from mlflow.data.pandas_dataset import from_pandas
    from mlflow.entities import DatasetInput, InputTag

    dataset = from_pandas(frame, source=_source_class()(artifact_uri), name=name)
    context = InputTag(key=DATASET_CONTEXT_TAG, value=REFERENCE_CONTEXT)
    return DatasetInput(dataset._to_mlflow_entity(), tags=[context])
