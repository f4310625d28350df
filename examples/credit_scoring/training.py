"""Train the demo's two credit-risk models and log them to MLflow with their evidence."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parent / "data" / "germancredit.csv"
TARGET = "creditability"
TRUSTED_TYPES = ["sklearn.tree._tree.Tree"]


@dataclass(frozen=True)
class Splits:
    train: pd.DataFrame  # features and target
    reference: pd.DataFrame  # holdout features: the drift baseline, and evaluation data
    reference_target: pd.Series
    applicants: pd.DataFrame  # later applicants (features only), scored over HTTP


def load_splits(seed: int = 7) -> Splits:
    frame = pd.read_csv(DATA)
    shuffled = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    train, holdout, later = shuffled.iloc[:600], shuffled.iloc[600:800], shuffled.iloc[800:]
    features = [c for c in frame.columns if c != TARGET]
    return Splits(
        train=train.reset_index(drop=True),
        reference=holdout[features].reset_index(drop=True),
        reference_target=(holdout[TARGET] == "bad").astype(int).reset_index(drop=True),
        applicants=later[features].reset_index(drop=True),
    )


def _pipeline(kind: str):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = pd.read_csv(DATA, nrows=5)
    categorical = [c for c in frame.columns if c != TARGET and frame[c].dtype == object]
    numeric = [c for c in frame.columns if c != TARGET and c not in categorical]
    prep = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
            ("num", StandardScaler(), numeric),
        ]
    )
    estimator = (
        LogisticRegression(max_iter=2000, C=0.5)
        if kind == "logreg"
        else GradientBoostingClassifier(random_state=0, n_estimators=150, max_depth=2)
    )
    return Pipeline([("prep", prep), ("model", estimator)])


def credit_metrics(y_true: pd.Series, score: np.ndarray) -> dict[str, float]:
    """AUC, KS and Gini: the discrimination measures credit-risk validators ask for."""
    from sklearn.metrics import roc_auc_score, roc_curve

    auc = float(roc_auc_score(y_true, score))
    fpr, tpr, _ = roc_curve(y_true, score)
    return {"roc_auc": auc, "ks": float(np.max(tpr - fpr)), "gini": 2 * auc - 1}


def train_and_log(kind: str, splits: Splits, *, tracking_uri: str, artifact_root: Path) -> str:
    """Fit one model, log it with its metrics, signature and training data; return the run id."""
    import mlflow
    import sklearn
    from mlflow.models import infer_signature

    features = splits.train.drop(columns=[TARGET])
    target = (splits.train[TARGET] == "bad").astype(int)
    pipeline = _pipeline(kind).fit(features, target)
    metrics = credit_metrics(
        splits.reference_target, pipeline.predict_proba(splits.reference)[:, 1]
    )
    mlflow.set_tracking_uri(tracking_uri)
    name = "credit-risk-training"
    experiment = mlflow.get_experiment_by_name(name)
    experiment_id = (
        experiment.experiment_id
        if experiment
        else mlflow.create_experiment(
            name, artifact_location=(artifact_root / "credit-risk").as_uri()
        )
    )
    with mlflow.start_run(experiment_id=experiment_id, run_name=kind) as run:
        mlflow.log_params({"estimator": kind, "train_rows": len(features)})
        mlflow.log_metrics(metrics)
        mlflow.log_input(
            mlflow.data.from_pandas(splits.train, name="german-credit-train", targets=TARGET),
            context="training",
        )
        with warnings.catch_warnings():
            # MLflow hints that integer columns cannot hold missing values: these never do.
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
            signature = infer_signature(features, pipeline.predict(features))
        mlflow.sklearn.log_model(
            pipeline,
            name="model",
            signature=signature,
            pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
            # We trained this file ourselves; skops asks us to name the tree type we trust.
            skops_trusted_types=TRUSTED_TYPES if kind == "gbm" else None,
        )
        return run.info.run_id
