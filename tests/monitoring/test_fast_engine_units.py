"""Unit tests of the fast drift engine: formulas against scipy/numpy, readers, quality counts,
bad inputs. No Evidently here (see test_fast_engine_equivalence.py)."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from mlgov.governance.drift import DriftSpec, QualityFinding
from mlgov.governance.errors import BadInput, NotFound
from mlgov.governance.ports import DriftChecker
from mlgov.monitoring import stattests as stt
from mlgov.monitoring.fast_engine import FastDriftChecker, compute_drift

SECRET = "SECRET-4711"  # a customer value that must never reach a message

# ----------------------------------------------------------------------------- formulas

samples = st.lists(
    st.one_of(
        st.integers(-5, 5).map(float),
        st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, allow_subnormal=False),
    ),
    min_size=1,
    max_size=300,
)


@settings(max_examples=200, deadline=None)
@given(a=samples, b=samples, chunk=st.sampled_from([1, 3, 64, 1 << 18]))
def test_wasserstein_matches_scipy(a, b, chunk) -> None:
    a_sorted, b_sorted = np.sort(np.array(a)), np.sort(np.array(b))
    expected = stats.wasserstein_distance(a, b)
    actual = stt._l1_quantile_distance(a_sorted, b_sorted, chunk=chunk)
    assert actual == pytest.approx(expected, rel=1e-12, abs=1e-9)


@pytest.mark.parametrize(("n1", "n2"), [(100_000, 99_991), (7, 100_003), (65_536, 131_072)])
def test_wasserstein_matches_scipy_on_large_unequal_sizes(n1, n2) -> None:
    rng = np.random.default_rng(n1)
    a, b = np.sort(rng.normal(0, 1, n1)), np.sort(np.round(rng.normal(0.1, 2, n2), 1))
    expected = stats.wasserstein_distance(a, b)
    assert stt._l1_quantile_distance(a, b, chunk=4096) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("n1", "n2"), [(900, 20_000), (15_000, 12_000), (10_001, 3)])
def test_ks_asymptotic_mode_equals_scipy_exactly(n1, n2) -> None:
    rng = np.random.default_rng(n2)
    a = np.sort(np.round(rng.normal(0, 1, n1), 2))  # ties on both sides
    b = np.sort(np.round(rng.normal(0.03, 1, n2), 2))
    assert stt.ks_pvalue(a, b) == stats.ks_2samp(a, b).pvalue


@settings(max_examples=150, deadline=None)
@given(
    ref=st.lists(st.integers(-50, 50), min_size=2, max_size=200),
    cur=st.lists(st.integers(-80, 80), min_size=1, max_size=200),
    scale=st.sampled_from([None, 0.37, 1e-3]),
)
def test_sturges_bins_and_histogram_match_numpy(ref, cur, scale) -> None:
    ref_a, cur_a = np.array(ref), np.array(cur)
    if scale is not None:
        ref_a, cur_a = ref_a * scale, cur_a * scale
    integer = scale is None
    edges = stt.sturges_edges(np.sort(ref_a), np.sort(cur_a), integer=integer)
    expected = np.histogram_bin_edges(np.concatenate([ref_a, cur_a]), bins="sturges")
    np.testing.assert_array_equal(edges, expected)
    np.testing.assert_array_equal(
        stt.histogram_sorted(np.sort(ref_a), edges), np.histogram(ref_a, edges)[0]
    )


@pytest.mark.parametrize(
    ("kind", "rows", "n_values", "expected"),
    [
        ("numerical", 1000, 6, "ks"),
        ("numerical", 1000, 5, "chisquare"),
        ("numerical", 1000, 3, "chisquare"),
        ("numerical", 1000, 2, "z"),
        ("numerical", 1, 1, "z"),
        ("categorical", 1000, 3, "chisquare"),
        ("categorical", 1000, 2, "z"),
        ("numerical", 1001, 6, "wasserstein"),
        ("numerical", 1001, 5, "jensenshannon"),
        ("categorical", 1001, 2, "jensenshannon"),
        ("categorical", 10**7, 10**6, "jensenshannon"),
    ],
)
def test_default_test_follows_evidentlys_rule(kind, rows, n_values, expected) -> None:
    assert stt.default_test(kind, rows, n_values) == expected


def test_thresholds_compare_like_evidently() -> None:
    assert stt.RULES["ks"].drifted(0.05, 0.05)  # p <= threshold
    assert not stt.RULES["chisquare"].drifted(0.05, 0.05)  # p < threshold
    assert not stt.RULES["z"].drifted(0.05, 0.05)
    assert stt.RULES["wasserstein"].drifted(0.1, 0.1)  # distance >= threshold
    assert stt.RULES["jensenshannon"].drifted(0.1, 0.1)
    assert not stt.RULES["psi"].drifted(0.0999, 0.1)


# ----------------------------------------------------------------------------- readers

KINDS = {"income": "numerical", "age": "numerical", "grade": "categorical", "term": "categorical"}


def _frames(seed: int = 3, n_ref: int = 1500, n_cur: int = 1200):
    rng = np.random.default_rng(seed)

    def frame(n, shift):
        df = pd.DataFrame(
            {
                "income": np.round(rng.lognormal(10 + shift, 0.5, n), 2),
                "age": rng.integers(18, 80, n),
                "grade": rng.choice(["A", "B", "C"] + ["E"] * (shift > 0), n),
                "term": rng.choice([12, 36], n),
                "note": rng.choice(["x", "y"], n),  # not in the schema
            }
        )
        df.loc[rng.random(n) < 0.05, "income"] = np.nan
        df.loc[rng.random(n) < 0.05, "grade"] = None
        return df

    return frame(n_ref, 0.0), frame(n_cur, 0.3)


def test_csv_parquet_and_memory_give_the_same_result(tmp_path: Path) -> None:
    ref, cur = _frames()
    ref.to_csv(tmp_path / "ref.csv", index=False)
    cur.to_csv(tmp_path / "cur.csv", index=False)
    ref.to_parquet(tmp_path / "ref.parquet", index=False)
    cur.to_parquet(tmp_path / "cur.parquet", index=False)
    spec = DriftSpec(column_kinds=KINDS)
    checker = FastDriftChecker()
    from_csv = checker.check(tmp_path / "ref.csv", tmp_path / "cur.csv", spec)
    from_parquet = checker.check(tmp_path / "ref.parquet", tmp_path / "cur.parquet", spec)
    in_memory = compute_drift(ref, cur, spec)
    assert from_csv == from_parquet == in_memory
    assert from_csv.engine == "fast"
    assert (from_csv.reference_rows, from_csv.current_rows) == (1500, 1200)
    assert "grade" in from_csv.drifted_columns  # a new category and a shifted mix
    assert [c.column for c in from_csv.columns] == list(KINDS)


def test_csv_missing_markers_mean_what_they_mean_to_pandas(tmp_path: Path) -> None:
    text = "x,c\n1.5,a\nNA,\n2.5,null\n,N/A\n3.5,b\nnan,None\n"
    (tmp_path / "ref.csv").write_text(text)
    (tmp_path / "cur.csv").write_text(text)
    spec = DriftSpec(column_kinds={"x": "numerical", "c": "categorical"})
    result = FastDriftChecker().check(tmp_path / "ref.csv", tmp_path / "cur.csv", spec)
    frame = pd.read_csv(tmp_path / "cur.csv")
    missing = {q.column: q.count for q in result.quality if q.check == "missing_share"}
    assert missing == {"x": int(frame["x"].isna().sum()), "c": int(frame["c"].isna().sum())}
    assert missing == {"x": 3, "c": 4}


def test_parquet_is_processed_one_column_at_a_time(tmp_path: Path) -> None:
    """numpy's allocations (traced by tracemalloc) stay far below the data's float64 size."""
    rng = np.random.default_rng(0)
    n, cols = 200_000, 10
    for side in ("ref", "cur"):
        pd.DataFrame({f"c{i}": rng.normal(size=n) for i in range(cols)}).to_parquet(
            tmp_path / f"{side}.parquet"
        )
    spec = DriftSpec(column_kinds={f"c{i}": "numerical" for i in range(cols)})
    one_column = n * 8
    tracemalloc.start()
    FastDriftChecker().check(tmp_path / "ref.parquet", tmp_path / "cur.parquet", spec)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 6 * one_column  # the data is 20 columns of float64


# ----------------------------------------------------------------------------- quality


def test_quality_findings_follow_their_definitions() -> None:
    reference = {
        "amount": np.array([10.0, 20.0, 30.0, np.nan, np.inf]),  # range 10..30 (finite)
        "city": np.array(["a", "b", None, "a", "b"], dtype=object),
        "clean": np.array([1.0, 2.0, 3.0, 4.0, 5.0]),
    }
    current = {
        "amount": np.array([5.0, 10.0, 30.0, 31.0, np.nan, None, -np.inf, 15.0], dtype=object),
        "city": np.array(["a", "c", "c", None, "b", "d", None, "a"], dtype=object),
        "clean": np.array([1.0, 2.0, 3.0, 4.0, 5.0, 1.0, 2.0, 3.0]),
    }
    spec = DriftSpec(
        column_kinds={"amount": "numerical", "city": "categorical", "clean": "numerical"}
    )
    result = compute_drift(reference, current, spec)
    assert result.quality == (
        QualityFinding("amount", "missing_share", 2, 2 / 8),
        QualityFinding("amount", "out_of_range", 3, 3 / 8),  # 5.0, 31.0, -inf
        QualityFinding("city", "missing_share", 2, 2 / 8),
        QualityFinding("city", "new_categories", 3, 3 / 8),  # c, c, d
    )


def test_numeric_categories_compare_as_numbers() -> None:
    """pandas sees 1 == 1.0 == True: an int reference and a float current share categories."""
    spec = DriftSpec(column_kinds={"term": "categorical"})
    result = compute_drift(
        {"term": np.array([12, 36, 12, 36])},
        {"term": np.array([12.0, 36.0, np.nan, 60.0])},
        spec,
    )
    assert result.columns[0].test == "chisquare"  # three values over both sides
    assert result.quality == (
        QualityFinding("term", "missing_share", 1, 0.25),
        QualityFinding("term", "new_categories", 1, 0.25),
    )


# ----------------------------------------------------------------------------- outputs


def test_json_out_is_written_and_html_out_is_left_to_the_caller(tmp_path: Path) -> None:
    ref, cur = _frames(n_ref=400, n_cur=300)
    ref.to_parquet(tmp_path / "ref.parquet")
    cur.to_parquet(tmp_path / "cur.parquet")
    result = FastDriftChecker().check(
        tmp_path / "ref.parquet",
        tmp_path / "cur.parquet",
        DriftSpec(column_kinds=KINDS),
        html_out=tmp_path / "report.html",
        json_out=tmp_path / "result.json",
    )
    data = json.loads((tmp_path / "result.json").read_text())
    assert data["engine"] == "fast"
    assert data["drift_detected"] == result.drift_detected
    assert [c["score"] for c in data["columns"]] == [c.score for c in result.columns]
    assert not (tmp_path / "report.html").exists()


def test_checker_has_the_ports_signature() -> None:
    assert inspect.signature(FastDriftChecker.check) == inspect.signature(DriftChecker.check)


def test_import_is_light_and_a_check_never_loads_pandas(tmp_path: Path) -> None:
    """The CLI imports this module; pyarrow's own conversions would import pandas (~0.25 s)."""
    ref, cur = _frames(n_ref=300, n_cur=200)
    ref.to_parquet(tmp_path / "ref.parquet")
    cur.to_csv(tmp_path / "cur.csv", index=False)
    code = (
        "import sys, mlgov.monitoring.fast_engine as fe\n"
        "heavy = ('numpy', 'scipy', 'pyarrow', 'pandas', 'evidently')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "from pathlib import Path\n"
        "from mlgov.governance.drift import DriftSpec\n"
        f"kinds = {KINDS!r}\n"
        f"fe.FastDriftChecker().check(Path({str(tmp_path / 'ref.parquet')!r}),"
        f" Path({str(tmp_path / 'cur.csv')!r}), DriftSpec(column_kinds=kinds))\n"
        "print('pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "False"]


# ----------------------------------------------------------------------------- bad input


def _assert_clean(error: BadInput, *names: str) -> None:
    message = str(error)
    for name in names:
        assert name in message
    assert SECRET not in message


def _write(tmp_path: Path, name: str, frame: pd.DataFrame) -> Path:
    path = tmp_path / name
    if name.endswith(".csv"):
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path


GOOD = pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]})
GOOD_SPEC = DriftSpec(column_kinds={"x": "numerical", "c": "categorical"})


def test_missing_file_unknown_format_and_empty_files(tmp_path: Path) -> None:
    good = _write(tmp_path, "good.csv", GOOD)
    checker = FastDriftChecker()
    with pytest.raises(NotFound, match="current file not found"):
        checker.check(good, tmp_path / "nope.csv", GOOD_SPEC)
    (tmp_path / "data.xlsx").write_bytes(b"PK")
    with pytest.raises(BadInput, match="unknown format"):
        checker.check(good, tmp_path / "data.xlsx", GOOD_SPEC)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(BadInput, match="not a readable CSV"):
        checker.check(good, tmp_path / "empty.csv", GOOD_SPEC)
    (tmp_path / "header.csv").write_text("x,c\n")
    with pytest.raises(BadInput, match="current data has no rows"):
        checker.check(good, tmp_path / "header.csv", GOOD_SPEC)
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(BadInput, match="not a readable Parquet"):
        checker.check(tmp_path / "broken.parquet", good, GOOD_SPEC)


def test_malformed_csv_row_does_not_leak_its_content(tmp_path: Path) -> None:
    good = _write(tmp_path, "good.csv", GOOD)
    (tmp_path / "bad.csv").write_text(f"x,c\n1,a\n2,{SECRET},extra,fields\n")
    with pytest.raises(BadInput) as caught:
        FastDriftChecker().check(good, tmp_path / "bad.csv", GOOD_SPEC)
    _assert_clean(caught.value, "bad.csv")
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_missing_column_is_named(tmp_path: Path) -> None:
    good = _write(tmp_path, "good.parquet", GOOD)
    cur = _write(tmp_path, "cur.parquet", GOOD[["x"]])
    with pytest.raises(BadInput) as caught:
        FastDriftChecker().check(good, cur, GOOD_SPEC)
    _assert_clean(caught.value, "current", "lacks the column(s) c")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_text_in_numeric_column_names_the_column_not_the_value(tmp_path: Path, fmt) -> None:
    good = _write(tmp_path, f"good.{fmt}", GOOD)
    bad = _write(tmp_path, f"bad.{fmt}", GOOD.assign(x=["1.0", SECRET, "2"]))
    with pytest.raises(BadInput) as caught:
        FastDriftChecker().check(good, bad, GOOD_SPEC)
    _assert_clean(caught.value, "'x'", "non-numeric", "current")


@pytest.mark.parametrize("side", ["reference", "current"])
def test_all_empty_column_is_refused(side) -> None:
    empty = {"x": np.array([np.nan, np.inf, np.nan]), "c": np.array([None, None, None])}
    good = {"x": GOOD["x"].to_numpy(), "c": GOOD["c"].to_numpy()}
    for column in ("x", "c"):
        data = {**good, column: empty[column]}
        ref, cur = (data, good) if side == "reference" else (good, data)
        with pytest.raises(BadInput, match=f"column '{column}' has no usable value in the {side}"):
            compute_drift(ref, cur, GOOD_SPEC)


@pytest.mark.parametrize(
    ("spec", "fragments"),
    [
        (DriftSpec(column_kinds={}), ["names no columns"]),
        (DriftSpec(column_kinds={"x": "text"}), ["'x'", "unsupported kind"]),  # type: ignore[dict-item]
        (
            DriftSpec(column_kinds={"x": "numerical"}, per_column_method={"x": "kl_div"}),
            [
                "'x'",
                "unsupported drift method",
                "ks, chisquare, z, wasserstein, jensenshannon, psi",
            ],
        ),
        (
            DriftSpec(column_kinds={"c": "categorical"}, per_column_method={"c": "ks"}),
            ["'c'", "ks", "categorical"],
        ),
        (
            DriftSpec(column_kinds={"x": "numerical"}, per_column_method={"y": "ks"}),
            ["'y'", "not in the schema"],
        ),
        (
            DriftSpec(column_kinds={"x": "numerical"}, per_column_threshold={"x": float("nan")}),
            ["'x'", "finite number"],
        ),
        (DriftSpec(column_kinds={"x": "numerical"}, share_threshold=True), ["share threshold"]),  # type: ignore[arg-type]
    ],
)
def test_bad_specs_are_refused_before_reading(spec, fragments) -> None:
    with pytest.raises(BadInput) as caught:
        compute_drift({"x": [1.0]}, {"x": [1.0]}, spec)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_categorical_types_must_agree_and_not_mix() -> None:
    spec = DriftSpec(column_kinds={"c": "categorical"})
    with pytest.raises(BadInput, match="different types of values in the reference and the cur"):
        compute_drift({"c": np.array([1, 2, 3])}, {"c": np.array(["1", SECRET, "3"])}, spec)
    with pytest.raises(BadInput) as caught:
        compute_drift({"c": np.array(["a", 1, SECRET], dtype=object)}, {"c": ["a"]}, spec)
    _assert_clean(caught.value, "'c'", "mixes")


def test_columns_of_different_lengths_are_refused() -> None:
    spec = DriftSpec(column_kinds={"x": "numerical"})
    with pytest.raises(BadInput, match="reference columns have different lengths"):
        compute_drift({"x": [1.0, 2.0], "y": [1.0]}, {"x": [1.0]}, spec)


def test_callers_arrays_are_not_modified_and_pandas_dtypes_are_read() -> None:
    rng = np.random.default_rng(5)
    ref_x, cur_x = rng.normal(size=500), rng.normal(size=400)
    ref_n = rng.integers(0, 100, 500)
    before = (ref_x.copy(), cur_x.copy(), ref_n.copy())
    spec = DriftSpec(column_kinds={"x": "numerical", "n": "numerical", "g": "categorical"})
    grades = pd.Categorical(rng.choice(["a", "b", "c"], 500))
    result = compute_drift(
        {"x": ref_x, "n": ref_n, "g": pd.Series(grades)},
        {
            "x": cur_x,
            "n": pd.Series(list(rng.integers(0, 100, 399)) + [None], dtype="Int64"),
            "g": pd.Series(rng.choice(["a", "b", "c"], 400)),
        },
        spec,
    )
    for original, kept in zip((ref_x, cur_x, ref_n), before, strict=True):
        np.testing.assert_array_equal(original, kept)
    assert [c.test for c in result.columns] == ["ks", "ks", "chisquare"]
    assert QualityFinding("n", "missing_share", 1, 1 / 400) in result.quality


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.integers(-1000, 1000)), min_size=1, max_size=40),
    as_float=st.booleans(),
    start=st.integers(0, 10),
)
def test_arrow_to_numpy_without_pandas_keeps_values_and_nulls(values, as_float, start) -> None:
    import pyarrow as pa

    from mlgov.monitoring.columnar import _numpy

    array = pa.array(values, type=pa.float64() if as_float else pa.int64())[start:]
    expected = [np.nan if v is None else float(v) for v in array.to_pylist()]
    np.testing.assert_array_equal(_numpy(array).astype(np.float64), np.array(expected))
