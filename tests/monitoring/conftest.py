"""Shared data for the monitoring tests: a real dataset (sklearn's bundled breast cancer data,
offline) split into two same-distribution halves, plus a derived categorical column."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("DO_NOT_TRACK", "true")

FEATURES = ["mean radius", "mean texture", "mean smoothness", "worst area", "worst symmetry"]
SHIFTED = ("mean texture", "worst area")
# A value that must never appear in an error message (the data is customers').
SECRET = "SECRET-VALUE-7731"


@dataclass(frozen=True)
class SplitFiles:
    reference: Path  # CSV
    same: Path  # CSV, the other half
    shifted: Path  # Parquet, the other half with SHIFTED moved
    reference_parquet: Path
    shifted_columns: tuple[str, ...] = SHIFTED


@pytest.fixture(scope="session")
def secret() -> str:
    return SECRET


@pytest.fixture(scope="session")
def split_files(tmp_path_factory: pytest.TempPathFactory) -> SplitFiles:
    import numpy as np
    import pandas as pd
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True).data[FEATURES].copy()
    data["size_band"] = pd.cut(
        data["mean radius"], [0, 12, 16, 100], labels=["small", "medium", "large"]
    ).astype(str)
    # Seed 0 gives halves where no column drifts by chance (checked in the tests below).
    order = np.random.default_rng(0).permutation(len(data))
    reference = data.iloc[order[::2]].reset_index(drop=True)
    current = data.iloc[order[1::2]].reset_index(drop=True)
    shifted = current.copy()
    shifted["mean texture"] += 6.0  # about 1.5 standard deviations
    shifted["worst area"] *= 1.4

    folder = tmp_path_factory.mktemp("split")
    files = SplitFiles(
        reference=folder / "reference.csv",
        same=folder / "same.csv",
        shifted=folder / "shifted.parquet",
        reference_parquet=folder / "reference.parquet",
    )
    reference.to_csv(files.reference, index=False)
    reference.to_parquet(files.reference_parquet, index=False)
    current.to_csv(files.same, index=False)
    shifted.to_parquet(files.shifted, index=False)
    return files
