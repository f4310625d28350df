"""Environment variables shared by the server launcher and the service (no heavy imports)."""

MANIFEST_ENV = "MLGOV_SERVING_MANIFEST"
WORKERS_ENV = "MLGOV_SERVING_WORKERS"
# A secret shared by `mlgov serve` and its server: a request carrying it as "probe" is
# mlgov's own health check, logged as such and left out of monitoring windows. A secret, so
# that no client can hide its traffic from monitoring by calling itself a probe.
PROBE_TOKEN_ENV = "MLGOV_SERVING_PROBE_TOKEN"
