"""The loaded model inside the server process: input frame, predictions, probabilities.

Runs only in the server process (imported by mlgov.deploy.service), so pandas, numpy and
mlflow are imported at the top. The sklearn flavour is loaded when the MLflow model has one
(it gives `predict_proba`); any other model is loaded as an MLflow pyfunc.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import bentoml
import mlflow.models
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pandas as pd

from mlgov.deploy.manifest import Feature
from mlgov.deploy.prediction_log import PREDICTION_PREFIX
from mlgov.governance.errors import ExternalError, NotFound

logger = logging.getLogger("mlgov.deploy")

MLFLOW_MODEL_FOLDER = "mlflow_model"  # where bentoml.mlflow.import_model puts the model
_DTYPES = {
    "double": "float64",
    "float": "float32",
    "long": "int64",
    "integer": "int32",
    "boolean": "bool",
    "string": "object",
}


@dataclass(frozen=True)
class Prediction:
    predictions: list[Any]
    probabilities: list[dict[str, float]] | None
    outputs: dict[str, list[Any]]  # prediction-log columns, named _prediction...


def _column(values: list[Any], type_name: str) -> np.ndarray:
    if None in values:
        # A missing optional value: numbers become NaN in float64, the rest stay objects.
        numeric = type_name in ("double", "float", "long", "integer")
        return np.array(
            [np.nan if v is None else v for v in values] if numeric else values,
            dtype="float64" if numeric else "object",
        )
    return np.array(values, dtype=_DTYPES[type_name])


class ModelRunner:
    def __init__(self, model: Any, features: Sequence[Feature], *, has_proba: bool) -> None:
        self.model = model
        self.features = tuple(features)
        self.has_proba = has_proba
        classes = getattr(model, "classes_", None) if has_proba else None
        self.class_labels = [str(c) for c in classes] if classes is not None else None
        self._transform, self._final = _split_pipeline(model) if has_proba else (None, model)

    @classmethod
    def load(cls, bento_model_tag: str, features: Sequence[Feature]) -> ModelRunner:
        try:
            bento_model = bentoml.models.get(bento_model_tag)
        except bentoml.exceptions.NotFound as exc:
            raise NotFound(
                f"BentoML model {bento_model_tag} is not in the model store: deploy again"
            ) from exc
        path = bento_model.path_of(MLFLOW_MODEL_FOLDER)
        try:
            # Model.load reads the MLmodel file only; get_model_info would ask a tracking store.
            flavors = mlflow.models.Model.load(os.path.join(path, "MLmodel")).flavors
            if "sklearn" in flavors:
                model = mlflow.sklearn.load_model(path)
                return cls(model, features, has_proba=hasattr(model, "predict_proba"))
            return cls(mlflow.pyfunc.load_model(path), features, has_proba=False)
        except Exception as exc:  # any loader failure: name the model, not the cause's data
            raise ExternalError(
                f"BentoML model {bento_model_tag} failed to load ({type(exc).__name__}): "
                "check that the serving environment has the model's requirements"
            ) from exc

    def warm_up(self) -> None:
        """One prediction on a made-up record, so the first client does not pay for lazy
        imports inside pandas/sklearn. A model that refuses made-up values is fine."""
        sample = {"double": 0.0, "float": 0.0, "long": 0, "integer": 0, "boolean": False}
        columns = {f.name: [sample.get(f.type, "")] for f in self.features}
        try:
            self.predict(columns)
        except Exception:  # noqa: BLE001 - only a warm-up
            logger.debug("warm-up prediction skipped")

    def frame(self, columns: Mapping[str, list[Any]]) -> pd.DataFrame:
        return pd.DataFrame(
            {f.name: _column(columns[f.name], f.type) for f in self.features}, copy=False
        )

    def predict(self, columns: Mapping[str, list[Any]]) -> Prediction:
        inputs: Any = self.frame(columns)
        if self._transform is not None:
            # What Pipeline.predict and predict_proba both do first, done once for the two.
            inputs = self._transform.transform(inputs)
        raw = self._final.predict(inputs)
        predictions, outputs = _shape_predictions(raw)
        probabilities = None
        if self.has_proba:
            proba = np.asarray(self._final.predict_proba(inputs))
            labels = self.class_labels or [str(i) for i in range(proba.shape[1])]
            rows = proba.tolist()
            probabilities = [dict(zip(labels, row, strict=True)) for row in rows]
            for i, label in enumerate(labels):
                outputs[f"{PREDICTION_PREFIX}_proba_{label}"] = proba[:, i].tolist()
        return Prediction(predictions=predictions, probabilities=probabilities, outputs=outputs)


def _split_pipeline(model: Any) -> tuple[Any | None, Any]:
    """(transformers, final estimator) of a plain sklearn Pipeline, else (None, model)."""
    from sklearn.pipeline import Pipeline

    if type(model) is Pipeline and len(model.steps) > 1:
        final = model.steps[-1][1]
        if hasattr(final, "predict") and hasattr(final, "predict_proba"):
            return model[:-1], final
    return None, model


def _shape_predictions(raw: Any) -> tuple[list[Any], dict[str, list[Any]]]:
    """Predictions as JSON-ready rows, plus the same as prediction-log columns."""
    if isinstance(raw, pd.DataFrame):
        if raw.shape[1] == 1:
            values = raw.iloc[:, 0].tolist()
            return values, {PREDICTION_PREFIX: values}
        rows = raw.to_dict(orient="records")
        return rows, {f"{PREDICTION_PREFIX}_{c}": raw[c].tolist() for c in raw.columns}
    if isinstance(raw, pd.Series):
        values = raw.tolist()
        return values, {PREDICTION_PREFIX: values}
    array = np.asarray(raw)
    if array.ndim == 1:
        values = array.tolist()
        return values, {PREDICTION_PREFIX: values}
    rows = array.reshape(array.shape[0], -1).tolist()
    outputs = {f"{PREDICTION_PREFIX}_{i}": [r[i] for r in rows] for i in range(len(rows[0]))}
    return rows, outputs
