"""mlgov.registry: the MLflow adapter (ModelRegistry port of mlgov.governance.ports).

Importing this package does not import MLflow; the adapter imports it on first use.
"""

from mlgov.registry.fingerprint import FingerprintDiff, compare_fingerprints
from mlgov.registry.mlflow_registry import MlflowRegistry

__all__ = ["FingerprintDiff", "MlflowRegistry", "compare_fingerprints"]
