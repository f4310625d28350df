"""The fast engine against Evidently itself: same test per column, same scores, same decisions.

Evidently 0.7.23 runs for real (`Report([DataDriftPreset(...)], include_tests=True)`,
`report.run(current, reference)`) with an explicit DataDefinition built from the same column
kinds. Random data comes from hypothesis (sizes, kinds, ties, few values, constant columns,
missing values, new categories, overrides); the boundaries of Evidently's rules are pinned by
explicit cases: reference 999/1000/1001 rows (also after dropping missing values), 1..6 and 21+
distinct values, K-S exact/asymptotic switch at 10,000 rows.

Scores must agree within 1e-9 (relative 1e-12 for normed Wasserstein scores above 1, which can
be large when the reference's std is floored at 0.001).

Known Evidently inconsistency, kept out of the random data: a column holding +-inf but no NaN
is cleaned by `ValueDrift` (inf dropped) but not by `DriftedColumnsCount` (it only cleans
columns where `isna()` finds something), so Evidently's own share can disagree with its own
per-column verdicts. The fast engine always drops +-inf, like `ValueDrift`; the random data puts
+-inf only on a side that also has a missing value, where both Evidently paths agree.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from mlgov.governance.drift import DriftResult, DriftSpec
from mlgov.monitoring.fast_engine import FastDriftChecker, compute_drift
from mlgov.monitoring.stattests import DISPLAY_NAMES, RULES

pytestmark = pytest.mark.slow

os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("ITERATIVE_DO_NOT_TRACK", "true")


# ----------------------------------------------------------------------------- the oracle


@dataclass(frozen=True)
class OracleColumn:
    test: str
    score: float
    threshold: float
    drifted: bool


@dataclass(frozen=True)
class OracleResult:
    columns: dict[str, OracleColumn]
    share: float
    drift_detected: bool


def run_evidently(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    kinds: dict[str, str],
    *,
    drift_share: float = 0.5,
    per_column_method: dict[str, str] | None = None,
    per_column_threshold: dict[str, float] | None = None,
) -> OracleResult:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(
        numerical_columns=[c for c, k in kinds.items() if k == "numerical"],
        categorical_columns=[c for c, k in kinds.items() if k == "categorical"],
    )
    report = Report(
        [
            DataDriftPreset(
                columns=list(kinds),
                drift_share=drift_share,
                per_column_method=per_column_method or None,
                per_column_threshold=per_column_threshold or None,
            )
        ],
        include_tests=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snapshot = report.run(
            Dataset.from_pandas(current, data_definition=definition),
            Dataset.from_pandas(reference, data_definition=definition),
        )
    data = snapshot.dict()
    status = {t["metric_config"]["metric_id"]: t["status"] for t in data["tests"]}
    columns: dict[str, OracleColumn] = {}
    share = detected = None
    for metric in data["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            method = config["method"]  # display name when auto-chosen, name when given
            columns[config["column"]] = OracleColumn(
                test=DISPLAY_NAMES.get(method, method),
                score=float(metric["value"]),
                threshold=float(config["threshold"]),
                drifted=status[metric["id"]] == "FAIL",
            )
        elif config["type"].endswith("DriftedColumnsCount"):
            share = float(metric["value"]["share"])
            detected = status[metric["id"]] == "FAIL"
    assert share is not None and detected is not None
    return OracleResult(columns=columns, share=share, drift_detected=detected)


def scores_agree(expected: float, actual: float) -> bool:
    if math.isnan(expected) or math.isnan(actual):
        return math.isnan(expected) and math.isnan(actual)
    return math.isclose(expected, actual, rel_tol=1e-12, abs_tol=1e-9)


def assert_same(oracle: OracleResult, fast: DriftResult) -> None:
    assert fast.engine == "fast"
    assert {c.column for c in fast.columns} == set(oracle.columns)
    for column in fast.columns:
        expected = oracle.columns[column.column]
        where = f"column {column.column}: evidently {expected}, fast {column}"
        assert column.test == expected.test, where
        assert column.threshold == expected.threshold, where
        assert scores_agree(expected.score, column.score), where
        assert column.drifted == expected.drifted, where
    assert fast.drifted_share == pytest.approx(oracle.share, abs=1e-15)
    assert fast.drift_detected == oracle.drift_detected


def check_equivalent(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    kinds: dict[str, str],
    *,
    drift_share: float = 0.5,
    methods: dict[str, str] | None = None,
    thresholds: dict[str, float] | None = None,
) -> DriftResult:
    spec = DriftSpec(
        share_threshold=drift_share,
        column_kinds=kinds,
        per_column_method=methods or {},
        per_column_threshold=thresholds or {},
    )
    fast = compute_drift({c: reference[c] for c in kinds}, {c: current[c] for c in kinds}, spec)
    oracle = run_evidently(
        reference,
        current,
        kinds,
        drift_share=drift_share,
        per_column_method=methods,
        per_column_threshold=thresholds,
    )
    assert_same(oracle, fast)
    return fast


# ----------------------------------------------------------------------------- random data


@dataclass(frozen=True)
class ColumnPlan:
    kind: str
    shape: str  # how values are drawn
    n_values: int  # for few-valued shapes
    shift: float  # current's change against the reference
    ref_missing: float
    cur_missing: float
    with_inf: bool
    integer: bool  # numerical: integer dtype when nothing is missing
    new_categories: bool


NUMERIC_SHAPES = ("continuous", "rounded", "few", "constant")
CATEGORICAL_SHAPES = ("labels", "int_labels", "bool")


def column_plans() -> st.SearchStrategy[ColumnPlan]:
    numerical = st.builds(
        ColumnPlan,
        kind=st.just("numerical"),
        shape=st.sampled_from(NUMERIC_SHAPES),
        n_values=st.sampled_from([1, 2, 3, 5, 6, 7, 21, 25]),
        shift=st.sampled_from([0.0, 0.0, 0.05, 0.3, 2.0]),
        ref_missing=st.sampled_from([0.0, 0.0, 0.001, 0.1]),
        cur_missing=st.sampled_from([0.0, 0.0, 0.001, 0.1]),
        with_inf=st.booleans(),
        integer=st.booleans(),
        new_categories=st.just(False),
    )
    categorical = st.builds(
        ColumnPlan,
        kind=st.just("categorical"),
        shape=st.sampled_from(CATEGORICAL_SHAPES),
        n_values=st.sampled_from([1, 2, 3, 5, 6, 30]),
        shift=st.sampled_from([0.0, 0.0, 0.1, 0.5]),
        ref_missing=st.sampled_from([0.0, 0.0, 0.001, 0.1]),
        cur_missing=st.sampled_from([0.0, 0.0, 0.001, 0.1]),
        with_inf=st.just(False),
        integer=st.just(False),
        new_categories=st.booleans(),
    )
    return st.one_of(numerical, categorical)


def _with_missing(values: np.ndarray, share: float, rng: np.random.Generator, keep_one: bool):
    """Blank out about `share` of the rows (at least one when share > 0), keeping one value."""
    if share <= 0 or values.size < 2:
        return values
    mask = rng.random(values.size) < share
    mask[rng.integers(values.size)] = True
    if keep_one:
        mask[0] = False
    out = values.astype(object if values.dtype.kind in "OUb" else np.float64)
    out[mask] = None if out.dtype == object else np.nan
    return out


def draw_column(plan: ColumnPlan, n: int, rng: np.random.Generator, current: bool) -> np.ndarray:
    shift = plan.shift if current else 0.0
    if plan.kind == "numerical":
        if plan.shape == "continuous":
            values = rng.normal(shift, 1.0 + shift, n) * 10
        elif plan.shape == "rounded":
            values = np.round(rng.normal(shift, 1.0, n) * 3)
        elif plan.shape == "few":
            weights = np.linspace(1.0, 1.0 + 3 * shift, plan.n_values)
            values = rng.choice(np.arange(plan.n_values) * 2 - 3, n, p=weights / weights.sum())
            values = values.astype(np.int64) if plan.integer else values.astype(np.float64)
        else:
            values = np.full(n, 4 if plan.integer else 4.5)
        if plan.integer and values.dtype.kind == "f":
            values = np.round(values).astype(np.int64)
        missing = plan.cur_missing if current else plan.ref_missing
        out = _with_missing(values, missing, rng, keep_one=True)
        present = np.flatnonzero(~np.isnan(out))[1:3] if out.dtype.kind == "f" else []
        if plan.with_inf and len(present) == 2 and np.isnan(out).any():
            out[present] = (np.inf, -np.inf)  # only beside a NaN: see the module docstring
        return out
    labels = [f"v{i}" for i in range(plan.n_values)]
    if plan.new_categories and current:
        labels = labels + ["brand-new", "other-new"]
    weights = np.linspace(1.0, 1.0 + 4 * shift, len(labels))
    picks = rng.choice(len(labels), n, p=weights / weights.sum())
    if plan.shape == "labels":
        values = np.array(labels, dtype=object)[picks]
    elif plan.shape == "int_labels":
        values = picks.astype(np.int64) * 10
    else:
        values = (picks % 2).astype(bool)
    missing = plan.cur_missing if current else plan.ref_missing
    return _with_missing(values, missing, rng, keep_one=True)


REF_SIZES = st.one_of(st.integers(1, 40), st.sampled_from([998, 999, 1000, 1001, 1002, 1200, 2500]))
CUR_SIZES = st.one_of(st.integers(1, 40), st.sampled_from([300, 1000, 1001, 3000, 10001]))


def applicable_methods(kind: str) -> list[str]:
    return [name for name, rule in RULES.items() if kind in rule.kinds]


@st.composite
def drift_cases(draw):
    plans = draw(st.lists(column_plans(), min_size=1, max_size=4))
    ref_rows, cur_rows = draw(REF_SIZES), draw(CUR_SIZES)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    kinds, ref, cur, methods, thresholds = {}, {}, {}, {}, {}
    for i, plan in enumerate(plans):
        name = f"col{i}"
        kinds[name] = plan.kind
        ref[name] = draw_column(plan, ref_rows, rng, current=False)
        cur[name] = draw_column(plan, cur_rows, rng, current=True)
        if draw(st.integers(0, 3)) == 0:
            methods[name] = draw(st.sampled_from(applicable_methods(plan.kind)))
        if draw(st.integers(0, 4)) == 0:
            thresholds[name] = draw(st.sampled_from([0.01, 0.05, 0.2, 0.5]))
    share = draw(st.sampled_from([0.5, 0.5, 0.25, 1 / 3, 0.75, 1.0]))
    return pd.DataFrame(ref), pd.DataFrame(cur), kinds, share, methods, thresholds


@settings(
    max_examples=120,
    deadline=None,
    # Each example runs an Evidently report (~1 s): no shrinking, the failing case is printed.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=drift_cases())
def test_random_data_gives_evidentlys_decisions(case) -> None:
    reference, current, kinds, share, methods, thresholds = case
    check_equivalent(
        reference, current, kinds, drift_share=share, methods=methods, thresholds=thresholds
    )


# ----------------------------------------------------------------------------- boundaries


def boundary_frames(ref_rows: int, cur_rows: int, seed: int, ref_missing: int = 0):
    """One column per branch of Evidently's rule: numeric with 1, 2, 3, 5, 6 and many values,
    categorical with 1, 2, 3 and 6 values, ties and a new category; `ref_missing` NaNs/Nones
    in every reference column move the cleaned reference size."""
    rng = np.random.default_rng(seed)
    kinds: dict[str, str] = {}
    ref: dict[str, np.ndarray] = {}
    cur: dict[str, np.ndarray] = {}

    def add(name, kind, make):
        kinds[name] = kind
        ref[name], cur[name] = make(ref_rows, False), make(cur_rows, True)
        if ref_missing:
            blank = ref[name].astype(object if kind == "categorical" else np.float64)
            blank[:ref_missing] = None if kind == "categorical" else np.nan
            ref[name] = blank

    for k in (1, 2, 3, 5, 6):
        add(f"num_{k}", "numerical", lambda n, c, k=k: rng.integers(0, k, n) + (c and k == 6))
    add("num_cont", "numerical", lambda n, c: rng.normal(0.2 * c, 1, n))
    add("num_ties", "numerical", lambda n, c: np.round(rng.normal(0.1 * c, 1, n), 1))
    for k in (1, 2, 3, 6):
        add(f"cat_{k}", "categorical", lambda n, c, k=k: rng.choice([f"k{i}" for i in range(k)], n))
    add("cat_new", "categorical", lambda n, c: rng.choice(["a", "b", "c"] + ["z"] * c, n))
    return pd.DataFrame(ref), pd.DataFrame(cur), kinds


@pytest.mark.parametrize(
    ("ref_rows", "cur_rows", "ref_missing", "expect_small"),
    [
        (999, 1500, 0, True),
        (1000, 800, 0, True),
        (1001, 1001, 0, False),
        (1001, 700, 1, True),  # 1,001 rows, one missing: 1,000 after cleaning -> small rules
        (1002, 50, 1, False),
    ],
)
def test_reference_size_boundary(ref_rows, cur_rows, ref_missing, expect_small) -> None:
    reference, current, kinds = boundary_frames(
        ref_rows, cur_rows, seed=ref_rows, ref_missing=ref_missing
    )
    fast = check_equivalent(reference, current, kinds)
    tests = {c.column: c.test for c in fast.columns}
    if expect_small:
        assert tests["num_cont"] == "ks" and tests["num_6"] == "ks"
        assert tests["num_5"] == "chisquare" and tests["num_3"] == "chisquare"
        assert tests["num_2"] == "z" and tests["num_1"] == "z"
        assert tests["cat_2"] == "z" and tests["cat_3"] == "chisquare"
    else:
        assert tests["num_cont"] == "wasserstein" and tests["num_6"] == "wasserstein"
        assert tests["num_5"] == "jensenshannon" and tests["num_1"] == "jensenshannon"
        assert tests["cat_2"] == "jensenshannon" and tests["cat_6"] == "jensenshannon"


@pytest.mark.parametrize("cur_rows", [10000, 10001])
def test_ks_exact_and_asymptotic_modes(cur_rows) -> None:
    rng = np.random.default_rng(cur_rows)
    reference = pd.DataFrame({"x": rng.normal(0, 1, 900), "y": np.round(rng.normal(0, 1, 900))})
    current = pd.DataFrame(
        {"x": rng.normal(0.08, 1, cur_rows), "y": np.round(rng.normal(0.05, 1, cur_rows))}
    )
    fast = check_equivalent(reference, current, {"x": "numerical", "y": "numerical"})
    assert {c.test for c in fast.columns} == {"ks"}


def test_overrides_including_binned_numeric_and_integer_sturges() -> None:
    """Every supported method by name, numeric PSI/JS on Sturges bins (integer and float data,
    where numpy's bin width floor of 1 for integers changes the bins) and custom thresholds."""
    rng = np.random.default_rng(7)
    n_ref, n_cur = 4000, 3000

    def frame(n, shift):
        return pd.DataFrame(
            {
                "int_wide": rng.integers(0, 22, n) + (rng.random(n) < shift),  # 22 values, int
                "float_wide": rng.normal(shift, 1, n),
                "int_few": rng.integers(0, 4, n),
                "cat": rng.choice(
                    ["a", "b", "c", "d"], n, p=[0.4 - shift / 2, 0.3, 0.2, 0.1 + shift / 2]
                ),
                "cat_two": rng.choice(["u", "v"], n),
                "small_ks": rng.normal(shift, 1, n),
            }
        )

    reference, current = frame(n_ref, 0.0), frame(n_cur, 0.1)
    kinds = {
        "int_wide": "numerical",
        "float_wide": "numerical",
        "int_few": "numerical",
        "cat": "categorical",
        "cat_two": "categorical",
        "small_ks": "numerical",
    }
    methods = {
        "int_wide": "psi",
        "float_wide": "jensenshannon",
        "int_few": "psi",
        "cat": "chisquare",
        "cat_two": "z",
        "small_ks": "ks",
    }
    thresholds = {"int_wide": 0.001, "cat": 0.2, "small_ks": 0.5}
    fast = check_equivalent(
        reference, current, kinds, drift_share=0.3, methods=methods, thresholds=thresholds
    )
    assert {c.column: c.test for c in fast.columns} == methods


# ----------------------------------------------------------------------------- files


def test_csv_and_parquet_files_match_evidently_on_pandas_reads(tmp_path: Path) -> None:
    """The checker reads files with pyarrow; Evidently users read them with pandas. Both must
    see the same values: missing markers, integer columns, text categories."""
    rng = np.random.default_rng(11)

    def frame(n, shift):
        df = pd.DataFrame(
            {
                "amount": np.round(rng.lognormal(3 + shift, 1, n), 2),
                "age": rng.integers(18, 90, n),
                "grade": rng.choice(["A", "B", "C"] + ["D"] * (shift > 0), n),
                "term": rng.choice([12, 24, 36], n),
                "score": rng.normal(shift, 1, n),
            }
        )
        df.loc[rng.random(n) < 0.03, "score"] = np.nan
        df.loc[rng.random(n) < 0.03, "grade"] = None
        return df

    kinds = {
        "amount": "numerical",
        "age": "numerical",
        "grade": "categorical",
        "term": "categorical",
        "score": "numerical",
    }
    spec = DriftSpec(column_kinds=kinds)
    checker = FastDriftChecker()
    results = []
    for ref_rows, cur_rows, shift in ((900, 1200, 0.4), (3000, 2000, 0.0)):
        ref, cur = frame(ref_rows, 0.0), frame(cur_rows, shift)
        ref["id"] = np.arange(ref_rows)  # extra column, not in the schema: ignored
        paths = {}
        for side, df in (("ref", ref), ("cur", cur)):
            paths[side, "csv"] = tmp_path / f"{side}{ref_rows}.csv"
            paths[side, "parquet"] = tmp_path / f"{side}{ref_rows}.parquet"
            df.to_csv(paths[side, "csv"], index=False)
            df.to_parquet(paths[side, "parquet"], index=False)
        for fmt, read in (("csv", pd.read_csv), ("parquet", pd.read_parquet)):
            fast = checker.check(paths["ref", fmt], paths["cur", fmt], spec)
            oracle = run_evidently(read(paths["ref", fmt]), read(paths["cur", fmt]), kinds)
            assert_same(oracle, fast)
            assert fast.reference_rows == ref_rows and fast.current_rows == cur_rows
            results.append(fast)
    assert results[0] == results[1] and results[2] == results[3]
    assert results[0].drift_detected  # the shifted pair drifts, the other does not
    assert not results[2].drift_detected
