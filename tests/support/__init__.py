"""Helpers for mlgov's tests and benchmarks, kept out of the shipped package (issue 17 item 4).

`tampering` rewrites the governance database as an insider would; `toy_models` logs tiny real
scikit-learn models into an MLflow store. Importable as `support` from tests (pytest puts
tests/ on sys.path) and from benchmarks (which add it themselves).
"""
