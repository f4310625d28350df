"""mlgov.monitoring: drift and data-quality checks (Evidently adapter).

Modules, each imported on its own (heavy libraries load inside functions, never at import):
datasets (read and describe CSV/Parquet), schema (compatibility and signature checks),
quality (missing values, new categories, out-of-range counts), evidently_engine (the
DriftChecker over Evidently's Report).
"""
