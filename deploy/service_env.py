"""Environment variables shared by the server launcher and the service (no heavy imports)."""

MANIFEST_ENV = "MLGOV_SERVING_MANIFEST"
WORKERS_ENV = "MLGOV_SERVING_WORKERS"
