"""Evidently 0.7.23's drift tests, recomputed exactly from sorted columns and value counts.

Every rule and formula here mirrors a file of the installed Evidently (paths relative to
`evidently/legacy/calculations/`), so that the fast engine takes the same decision:

- choice of test: `stattests/registry.py` `_get_default_stattest`;
- K-S: `stattests/ks_stattest.py` (scipy `ks_2samp`, drift when p <= threshold);
- chi-square: `stattests/chisquare_stattest.py` (drift when p < threshold);
- Z-test: `stattests/z_stattest.py` (drift when p < threshold);
- Wasserstein: `stattests/wasserstein_distance_norm.py` (normed by the reference's population
  std, floored at 0.001; drift when distance >= threshold);
- Jensen-Shannon: `stattests/jensenshannon.py`, PSI: `stattests/psi.py`, both over the bins of
  `stattests/utils.py` `get_binned_data` (drift when value >= threshold).

Inputs are already cleaned the way `data_drift.py` `get_one_column_drift` cleans them: missing
values and +-inf dropped on each side separately. Numeric inputs are sorted float64 arrays;
categorical inputs are aligned count vectors over the union of categories seen on either side.
numpy and scipy are imported inside the functions (the CLI imports this package).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import numpy as np

ColumnKindName = Literal["numerical", "categorical"]


@dataclass(frozen=True)
class TestRule:
    """A registered Evidently stattest: its name, default threshold and drift comparison."""

    name: str
    kinds: tuple[ColumnKindName, ...]  # the kinds Evidently allows it for when named explicitly
    default_threshold: float
    drift_when_below: bool  # p-value tests drift on small values, distances on large ones
    inclusive: bool  # `<=`/`>=` versus strict `<`

    def drifted(self, score: float, threshold: float) -> bool:
        if self.drift_when_below:
            return bool(score <= threshold) if self.inclusive else bool(score < threshold)
        return bool(score >= threshold) if self.inclusive else bool(score > threshold)


# allowed_feature_types and default_threshold as registered in each stattest module.
RULES: dict[str, TestRule] = {
    "ks": TestRule("ks", ("numerical",), 0.05, True, True),
    "chisquare": TestRule("chisquare", ("categorical",), 0.05, True, False),
    "z": TestRule("z", ("categorical",), 0.05, True, False),
    "wasserstein": TestRule("wasserstein", ("numerical",), 0.1, False, True),
    "jensenshannon": TestRule("jensenshannon", ("categorical", "numerical"), 0.1, False, True),
    "psi": TestRule("psi", ("categorical", "numerical"), 0.1, False, True),
}
SUPPORTED_METHODS: tuple[str, ...] = tuple(RULES)

# Evidently reports an auto-chosen test by its display name; an explicit one by its name.
DISPLAY_NAMES: dict[str, str] = {
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "PSI": "psi",
}

SMALL_REFERENCE_ROWS = 1000  # registry.py: `reference_data.shape[0] <= 1000`
KS_EXACT_MAX_N = 10000  # scipy.stats.ks_2samp: method 'auto' is exact iff max(n1, n2) <= this
BINNED_MIN_UNIQUE = 20  # utils.py get_binned_data: histogram when reference nunique > 20


def default_test(kind: ColumnKindName, reference_rows: int, n_values: int) -> str:
    """registry.py `_get_default_stattest`, for the kinds mlgov uses.

    `reference_rows` counts the reference after missing/inf values are dropped; `n_values` is
    the number of distinct values over reference and current together (at least its minimum
    with 6, which is all the rule looks at).
    """
    if reference_rows <= SMALL_REFERENCE_ROWS:
        if kind == "numerical" and n_values > 5:
            return "ks"
        return "chisquare" if n_values > 2 else "z"
    if kind == "numerical" and n_values > 5:
        return "wasserstein"
    return "jensenshannon"


# ---------------------------------------------------------------------------- sorted arrays


def count_distinct_sorted(values: np.ndarray) -> int:
    """Distinct values of a sorted array (-0.0 equals 0.0, as in pandas' nunique)."""
    import numpy as np

    if values.size == 0:
        return 0
    return 1 + int(np.count_nonzero(values[1:] != values[:-1]))


def more_distinct_than(values: np.ndarray, limit: int) -> bool:
    """Whether a sorted array holds more than `limit` distinct values; usually decided on a
    few evenly spaced elements (real values of the array) without a full pass."""
    import numpy as np

    if values.size > 64:
        probe = values[np.linspace(0, values.size - 1, 64).astype(np.int64)]
        if count_distinct_sorted(probe) > limit:
            return True
    return count_distinct_sorted(values) > limit


def sorted_value_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values and their counts of a sorted array, in one pass."""
    import numpy as np

    if values.size == 0:
        return values[:0], np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))
    counts = np.diff(np.append(starts, values.size))
    return values[starts], counts


def aligned_counts(
    reference: np.ndarray, current: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Union of the distinct values of two sorted arrays and each side's count per value."""
    import numpy as np

    ref_values, ref_counts = sorted_value_counts(reference)
    cur_values, cur_counts = sorted_value_counts(current)
    keys = np.union1d(ref_values, cur_values)
    ref_aligned = np.zeros(keys.size, dtype=np.int64)
    cur_aligned = np.zeros(keys.size, dtype=np.int64)
    ref_aligned[np.searchsorted(keys, ref_values)] = ref_counts
    cur_aligned[np.searchsorted(keys, cur_values)] = cur_counts
    return keys, ref_aligned, cur_aligned


def _counts_at_or_below(sorted_values: np.ndarray, points: np.ndarray) -> np.ndarray:
    """For each point of a sorted array, how many values of `sorted_values` are <= it."""
    import numpy as np

    # Point k of `points` is >= sorted_values[i] iff k >= first position of sorted_values[i] in
    # `points`; counting those positions and accumulating avoids one binary search per point.
    first = np.searchsorted(points, sorted_values, side="left")
    return np.cumsum(np.bincount(first, minlength=points.size + 1)[: points.size])


def _counts_self(sorted_values: np.ndarray) -> np.ndarray:
    """For each element of a sorted array, how many elements are <= it (ties share a count)."""
    import numpy as np

    last_of_run = np.append(sorted_values[1:] != sorted_values[:-1], True)
    ends = np.flatnonzero(last_of_run) + 1
    return np.repeat(ends, np.diff(np.concatenate(([0], ends))))


def ks_pvalue(reference: np.ndarray, current: np.ndarray) -> float:
    """Two-sided two-sample K-S p-value, as scipy.stats.ks_2samp(method='auto').

    The statistic is the same float scipy computes: the max over every data point of
    count1/n1 - count2/n2. Exact mode (small samples) is delegated to scipy itself; the
    asymptotic mode is scipy's `kstwo.sf(d, round(n1*n2/(n1+n2)))`.
    """
    import numpy as np
    from scipy import stats

    n1, n2 = reference.size, current.size
    if max(n1, n2) <= KS_EXACT_MAX_N:
        return float(stats.ks_2samp(reference, current).pvalue)
    # scipy's cdf1 - cdf2 at every data point: first the reference's points, then the current's.
    at_ref = _counts_self(reference) / n1 - _counts_at_or_below(current, reference) / n2
    at_cur = _counts_at_or_below(reference, current) / n1 - _counts_self(current) / n2
    max_s = max(float(at_ref.max()), float(at_cur.max()))
    min_s = float(np.clip(-min(float(at_ref.min()), float(at_cur.min())), 0, 1))
    d = min_s if min_s > max_s else max_s
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    prob = stats.kstwo.sf(d, np.round(en))
    return float(np.clip(prob, 0, 1))


def _l1_quantile_distance(a: np.ndarray, b: np.ndarray, chunk: int = 1 << 18) -> float:
    """Wasserstein-1 distance of two sorted samples, without merging them.

    W1 is the integral of |Qa(t) - Qb(t)| over t in (0, 1]; the quantile functions are step
    functions with steps at i/p and j/q. In units of 1/(p*q) those steps are the integers i*q
    and j*p, so every segment, its length and the pair of values on it follow from integer
    arithmetic: each step point owns the segment that ends at it (an A point when both sides
    step together). Same value as scipy's CDF-based formula up to float rounding.
    """
    import numpy as np

    p, q = a.size, b.size
    total = 0.0
    if p == q:  # the steps coincide: the mean absolute difference of paired order statistics
        for start in range(0, p, chunk):
            diffs = a[start : start + chunk] - b[start : start + chunk]
            np.abs(diffs, out=diffs)
            total += float(diffs.sum())
        return total / p
    for own, other, own_n, other_n, owns_ties in ((a, b, p, q, True), (b, a, q, p, False)):
        for start in range(0, own_n, chunk):
            idx = np.arange(start + 1, min(own_n, start + chunk) + 1, dtype=np.int64)
            ends = idx * other_n  # step points of `own`, in units of 1/(p*q)
            other_idx = (ends - 1) // own_n  # steps of `other` strictly before each point
            lengths = ends - np.maximum(ends - other_n, other_idx * own_n)
            if not owns_ties:
                lengths[(other_idx + 1) * own_n == ends] = 0
            diffs = own[idx - 1] - other[other_idx]
            np.abs(diffs, out=diffs)
            diffs *= lengths
            total += float(diffs.sum())
    return total / (float(p) * float(q))


def population_std(values: np.ndarray) -> float:
    """np.std(series) as pandas computes it (two passes, ddof=0), in cache-sized blocks."""
    import numpy as np

    n = values.size
    mean = float(np.sum(values)) / n
    step = 1 << 16
    buffer = np.empty(min(step, n), dtype=np.float64)
    acc = 0.0
    for start in range(0, n, step):
        block = values[start : start + step]
        dev = buffer[: block.size]
        np.subtract(block, mean, out=dev)
        np.square(dev, out=dev)
        acc += float(dev.sum())  # numpy's pairwise sum; BLAS dot would spin up threads
    return math.sqrt(acc / n)


def wasserstein_normed(reference: np.ndarray, current: np.ndarray) -> float:
    """wasserstein_distance_norm.py: W1(ref, cur) / max(std(ref), 0.001)."""
    norm = max(population_std(reference), 0.001)
    return _l1_quantile_distance(reference, current) / norm


# ---------------------------------------------------------------------------- count vectors


def chisquare_pvalue(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """chisquare_stattest.py: observed current counts against reference counts rescaled."""
    import numpy as np
    from scipy.stats import chisquare

    n_ref, n_cur = int(ref_counts.sum()), int(cur_counts.sum())
    k_norm = n_cur / n_ref
    f_exp = ref_counts * k_norm
    # A category absent from the reference has expected count 0: statistic inf, p-value 0,
    # exactly as scipy gives Evidently (which lets numpy warn about it).
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(chisquare(cur_counts, f_exp)[1])


def z_pvalue(ref_counts: np.ndarray, cur_counts: np.ndarray, first_key: int) -> float:
    """z_stattest.py: two-proportion z-test of "not the smallest key" between the sides.

    `first_key` is the index (in the count vectors) of the smallest value over both sides;
    the p-value is symmetric in that choice up to rounding, but we keep Evidently's.
    """
    import numpy as np
    from scipy.stats import norm

    if ref_counts.size == 1:  # both sides hold the same single value
        return 1.0
    n1, n2 = int(ref_counts.sum()), int(cur_counts.sum())
    p1 = float(n1 - int(ref_counts[first_key])) / n1
    p2 = float(n2 - int(cur_counts[first_key])) / n2
    pooled = float(p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    return float(2 * (1 - norm.cdf(np.abs(z))))


def sturges_edges(reference: np.ndarray, current: np.ndarray, integer: bool) -> np.ndarray:
    """np.histogram_bin_edges(concat(ref, cur), "sturges") from the sorted sides' extremes.

    numpy: width = ptp / (log2(n) + 1), at least 1 for integer data; ceil(range / width) bins
    of equal width between min and max. `integer` says pandas would hold the concatenated
    column as an integer dtype (both sides integer, nothing missing).
    """
    import numpy as np

    lo = min(reference[0], current[0])
    hi = max(reference[-1], current[-1])
    n = reference.size + current.size
    if integer:
        lo, hi = np.int64(lo), np.int64(hi)
    width = (hi - lo) / (np.log2(n) + 1.0)
    if lo == hi:  # numpy widens an empty range (unreachable with > 20 distinct values)
        lo, hi = lo - 0.5, hi + 0.5
    if width:
        if integer and width < 1:
            width = 1
        bins = int(np.ceil((hi - lo) / width))
    else:
        bins = 1
    return np.linspace(lo, hi, bins + 1, endpoint=True, dtype=np.float64)


def histogram_sorted(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """np.histogram(values, edges)[0] for sorted values: last bin closed, as numpy does."""
    import numpy as np

    cum = np.concatenate(
        (np.searchsorted(values, edges[:-1], "left"), np.searchsorted(values, edges[-1:], "right"))
    )
    return np.diff(cum)


def numeric_binned_counts(
    reference: np.ndarray, current: np.ndarray, integer: bool
) -> tuple[np.ndarray, np.ndarray]:
    """utils.py get_binned_data for a numerical column: histogram or per-value counts."""
    if more_distinct_than(reference, BINNED_MIN_UNIQUE):
        edges = sturges_edges(reference, current, integer)
        return histogram_sorted(reference, edges), histogram_sorted(current, edges)
    _, ref_counts, cur_counts = aligned_counts(reference, current)
    return ref_counts, cur_counts


def _percents(ref_counts: np.ndarray, cur_counts: np.ndarray, n_ref: int, n_cur: int):
    return ref_counts / n_ref, cur_counts / n_cur


def jensenshannon_distance(
    ref_counts: np.ndarray, cur_counts: np.ndarray, n_ref: int, n_cur: int
) -> float:
    """jensenshannon.py: scipy's distance between the two sides' bin shares (no zero filling)."""
    from scipy.spatial import distance

    ref_pct, cur_pct = _percents(ref_counts, cur_counts, n_ref, n_cur)
    return float(distance.jensenshannon(ref_pct, cur_pct, None))


def _fill_zeroes(percents: np.ndarray) -> None:
    import numpy as np

    smallest = percents[percents != 0].min()
    np.place(percents, percents == 0, smallest / 10**6 if smallest <= 0.0001 else 0.0001)


def psi_value(ref_counts: np.ndarray, cur_counts: np.ndarray, n_ref: int, n_cur: int) -> float:
    """psi.py: population stability index over the bins, zeros replaced as utils.py does."""
    import numpy as np

    ref_pct, cur_pct = _percents(ref_counts, cur_counts, n_ref, n_cur)
    _fill_zeroes(ref_pct)
    _fill_zeroes(cur_pct)
    return float(np.sum((ref_pct - cur_pct) * np.log(ref_pct / cur_pct)))
