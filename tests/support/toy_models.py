"""Test helpers for every mlgov package: log a tiny real scikit-learn model into an MLflow store.

Offline (sklearn's bundled breast_cancer data) and fast (explicit pip requirements skip
MLflow's ~6 s dependency inference). Heavy imports happen inside the functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from mlgov.registry.locations import as_artifact_uri, default_artifact_location
from mlgov.registry.mlflow_env import apply_env_defaults, global_tracking_uri

ToyKind = Literal["logreg", "gbm"]
TOY_EXPERIMENT = "mlgov-toy"
TOY_PIP_REQUIREMENTS = ["scikit-learn", "pandas", "numpy"]
# skops (MLflow's default sklearn format) refuses to load tree predictors unless trusted; the
# list is saved in the MLmodel so later loads (pyfunc, BentoML) work too.
TRUSTED_TYPES: dict[str, list[str]] = {
    "logreg": [],
    "gbm": ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"],
}


def breast_cancer_frames(seed: int = 0) -> tuple[Any, Any, Any, Any]:
    """(X_train, X_test, y_train, y_test) as pandas objects, a stratified 75/25 split."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    features, target = load_breast_cancer(return_X_y=True, as_frame=True)
    return tuple(
        train_test_split(features, target, test_size=0.25, random_state=seed, stratify=target)
    )


def train_toy_model(kind: ToyKind = "logreg", seed: int = 0) -> tuple[Any, dict[str, float]]:
    """A fitted classifier and its holdout metrics (roc_auc, accuracy)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x_train, x_test, y_train, y_test = breast_cancer_frames(seed)
    if kind == "logreg":
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    elif kind == "gbm":
        model = HistGradientBoostingClassifier(max_iter=30, random_state=seed)
    else:
        raise ValueError(f"unknown toy model kind '{kind}': use 'logreg' or 'gbm'")
    model.fit(x_train, y_train)
    scores = model.predict_proba(x_test)[:, 1]
    metrics = {
        "roc_auc": float(roc_auc_score(y_test, scores)),
        "accuracy": float(accuracy_score(y_test, model.predict(x_test))),
    }
    return model, metrics


def log_toy_model(
    tracking_uri: str,
    *,
    name: str = "model",
    metrics: Mapping[str, float] | None = None,
    kind: ToyKind = "logreg",
    dataset: bool = True,
    git_commit: str | None = None,
    experiment: str = TOY_EXPERIMENT,
    artifact_location: str | None = None,
    extra_model_names: tuple[str, ...] = (),
    signature: bool = True,
    seed: int = 0,
) -> tuple[str, str]:
    """Train and log a toy classifier in a new run; return (run_id, logged model URI).

    metrics: logged on the run as given; None logs the model's real holdout metrics.
    dataset: log the training frame as an MLflow dataset input (context "training").
    git_commit: set the run's mlflow.source.git.commit tag.
    extra_model_names: log the same model again under these names (a run with several models).
    """
    apply_env_defaults()
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    model, real_metrics = train_toy_model(kind, seed)
    x_train, _, y_train, _ = breast_cancer_frames(seed)
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    experiment_id = _experiment(client, tracking_uri, experiment, artifact_location)
    model_signature = infer_signature(x_train, model.predict(x_train)) if signature else None

    # log_model is a fluent API bound to the process-wide tracking URI: scope it to ours.
    with global_tracking_uri(tracking_uri):
        with mlflow.start_run(experiment_id=experiment_id) as run:
            run_id = run.info.run_id
            if git_commit:
                mlflow.set_tag("mlflow.source.git.commit", git_commit)
            if dataset:
                frame = x_train.assign(target=y_train)
                training = mlflow.data.from_pandas(frame, name="breast_cancer", targets="target")
                mlflow.log_input(training, context="training")
            info = mlflow.sklearn.log_model(
                model,
                name=name,
                signature=model_signature,
                pip_requirements=TOY_PIP_REQUIREMENTS,
                skops_trusted_types=TRUSTED_TYPES[kind] or None,
            )
            for extra in extra_model_names:
                mlflow.sklearn.log_model(
                    model,
                    name=extra,
                    signature=model_signature,
                    pip_requirements=TOY_PIP_REQUIREMENTS,
                    skops_trusted_types=TRUSTED_TYPES[kind] or None,
                )
            logged = dict(real_metrics if metrics is None else metrics)
            if logged:
                mlflow.log_metrics(logged)
    return run_id, info.model_uri


def _experiment(client: Any, tracking_uri: str, name: str, artifact_location: str | None) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    base = as_artifact_uri(artifact_location) if artifact_location else None
    base = base or default_artifact_location(tracking_uri)
    location = f"{base.rstrip('/')}/{name}" if base else None
    return client.create_experiment(name, artifact_location=location)
