"""The baseline for benchmarks/serving.py: a plain BentoML 1.4 service of the same model.

What a team would write without mlgov: pydantic records (extra fields forbidden, NaN/inf
refused), the sklearn model from the BentoML store, predictions and probabilities, and
`bentoml.monitor` logging features and predictions. Not part of the mlgov package.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import bentoml
import mlflow.sklearn
import pandas as pd
from pydantic import BaseModel, ConfigDict

MODEL_TAG = os.environ.get("PLAIN_MODEL_TAG", "missing:tag")
LOG_DIR = os.environ.get("PLAIN_MONITOR_DIR", "monitoring")


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    income: float
    age: int
    owner: bool
    region: str


@bentoml.service(
    workers=1,
    monitoring={"enabled": True, "type": "default", "options": {"log_path": LOG_DIR}},
)
class PlainService:
    bento_model = bentoml.models.BentoModel(MODEL_TAG)

    def __init__(self) -> None:
        self.model = mlflow.sklearn.load_model(self.bento_model.path_of("mlflow_model"))

    @bentoml.api(route="/predict")
    def predict(self, records: list[Record]) -> dict[str, Any]:
        frame = pd.DataFrame([r.model_dump() for r in records])
        predictions = self.model.predict(frame).tolist()
        proba = self.model.predict_proba(frame)
        labels = [str(c) for c in self.model.classes_]
        with bentoml.monitor("plain_credit") as mon:
            for column in frame.columns:
                mon.log_batch(
                    frame[column].tolist(), name=column, role="feature", data_type="numerical"
                )
            mon.log_batch(
                predictions, name="prediction", role="prediction", data_type="categorical"
            )
        return {
            "predictions": predictions,
            "probabilities": [dict(zip(labels, row, strict=True)) for row in proba.tolist()],
            "model": "credit",
            "version": "1",
            "request_id": uuid.uuid4().hex,
        }
