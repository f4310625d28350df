"""Model performance once outcomes are known: served predictions joined to their labels.

Classification: AUC (the Mann-Whitney statistic with tied scores counted half, as sklearn's
`roc_auc_score`), KS (the largest gap between the two classes' score distributions, equal to
max(TPR - FPR) over the ROC curve) and Gini (2 AUC - 1), on the probability of class "1".
Regression: MAE and RMSE. Names as the demo logs its training metrics (roc_auc, ks, gini).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgov.governance.errors import BadInput

PREDICTION_ID = "prediction_id"
POSITIVE_SCORE = "_prediction_proba_1"
PREDICTION = "_prediction"


@dataclass(frozen=True)
class Joined:
    """Scores (or predictions) and outcomes of the records found in both files."""

    task: str  # "classification" or "regression"
    scores: Any  # numpy float array
    outcomes: Any  # numpy array: 0/1 for classification
    unmatched_labels: int
    first: Any  # pandas Timestamp of the earliest joined prediction
    last: Any


def classification_metrics(outcomes: Any, scores: Any) -> dict[str, float]:
    import numpy as np
    from scipy.stats import rankdata

    y = np.asarray(outcomes, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    positives, negatives = int(y.sum()), int(len(y) - y.sum())
    if positives == 0 or negatives == 0:
        raise ValueError("one class only")
    ranks = rankdata(s)  # average ranks: a tie counts half, as in sklearn
    auc = (ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives)
    # KS: walk the distinct scores from the top; TPR - FPR at each threshold.
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    last_of_tie = np.r_[np.diff(s_sorted) != 0, True]
    tpr = np.cumsum(y_sorted)[last_of_tie] / positives
    fpr = np.cumsum(1 - y_sorted)[last_of_tie] / negatives
    ks = float(np.max(np.r_[0.0, tpr - fpr]))
    return {"roc_auc": float(auc), "ks": ks, "gini": float(2 * auc - 1)}


def regression_metrics(outcomes: Any, predictions: Any) -> dict[str, float]:
    import numpy as np

    error = np.asarray(predictions, dtype=np.float64) - np.asarray(outcomes, dtype=np.float64)
    return {"mae": float(np.mean(np.abs(error))), "rmse": float(np.sqrt(np.mean(error**2)))}


def join_labels(
    log: Any, labels_path: Path, *, id_column: str, label_column: str, task: str | None
) -> Joined:
    """Join `labels_path` (CSV or Parquet: id and outcome columns) to the prediction log
    `log` (read_prediction_log's frame). The id is `prediction_id` ("<request_id>:<n>", the
    n-th record of the request, from 0) or a column the log keeps (a key among the
    features). Keys and values are never quoted in messages: they are customers' data."""
    import numpy as np
    import pandas as pd

    from mlgov.monitoring.datasets import read_table

    labels = read_table(labels_path)
    for name in (id_column, label_column):
        if name not in labels.columns:
            raise BadInput(f"the labels file {labels_path.name} has no column '{name}'")
    if log.empty:
        raise BadInput("the prediction log holds no predictions of this version yet")
    log = log.copy()
    if id_column == PREDICTION_ID:
        position = log.groupby("_request_id", sort=False).cumcount()
        log[PREDICTION_ID] = log["_request_id"].astype(str) + ":" + position.astype(str)
    elif id_column not in log.columns:
        raise BadInput(
            f"the prediction log has no column '{id_column}' to join on",
            hint=f"use --id-column {PREDICTION_ID} (<request_id>:<record index>) or a key "
            "column the model receives",
        )
    keys = log[id_column].astype(str)
    if keys.duplicated().any():
        raise BadInput(
            f"'{id_column}' is not unique in the prediction log "
            f"({int(keys.duplicated().sum())} repeated): it cannot identify a prediction"
        )
    label_keys = labels[id_column].astype(str)
    if label_keys.duplicated().any():
        raise BadInput(
            f"'{id_column}' repeats in the labels file ({int(label_keys.duplicated().sum())} "
            "rows): one outcome per prediction"
        )
    if task is None:
        task = "classification" if POSITIVE_SCORE in log.columns else "regression"
    score_column = POSITIVE_SCORE if task == "classification" else PREDICTION
    if score_column not in log.columns:
        raise BadInput(
            f"the prediction log has no '{score_column}' output for {task} metrics"
            + (" (the model logs no probability of class 1)" if task == "classification" else "")
        )
    left = pd.DataFrame({"key": keys.to_numpy(), "score": log[score_column].to_numpy()})
    left["time"] = log["_time"].to_numpy()
    right = pd.DataFrame({"key": label_keys.to_numpy(), "outcome": labels[label_column]})
    joined = left.merge(right, on="key", how="inner", validate="one_to_one")
    if joined.empty:
        raise BadInput(
            f"no label in {labels_path.name} matches a logged prediction by '{id_column}'"
        )
    outcome = pd.to_numeric(joined["outcome"], errors="coerce")
    score = pd.to_numeric(joined["score"], errors="coerce")
    if outcome.isna().any() or score.isna().any():
        raise BadInput(
            f"'{label_column}' must be a number for every joined row "
            f"({int(outcome.isna().sum())} missing or not numeric)"
        )
    values = outcome.to_numpy(dtype=np.float64)
    if task == "classification" and not np.isin(values, (0.0, 1.0)).all():
        raise BadInput(f"'{label_column}' must be 0 or 1 for classification metrics")
    return Joined(
        task=task,
        scores=score.to_numpy(dtype=np.float64),
        outcomes=values.astype(np.int64) if task == "classification" else values,
        unmatched_labels=len(labels) - len(joined),
        first=joined["time"].min(),
        last=joined["time"].max(),
    )


def metrics_of(joined: Joined) -> dict[str, float] | None:
    """The window's metrics, or None when they are undefined (one class only)."""
    if joined.task == "regression":
        return regression_metrics(joined.outcomes, joined.scores)
    try:
        return classification_metrics(joined.outcomes, joined.scores)
    except ValueError:
        return None


HIGHER_IS_BETTER: Sequence[str] = ("roc_auc", "ks", "gini")
