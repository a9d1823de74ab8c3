"""Evidently's default drift test per column: which test, its score, its verdict.

Reproduced from `evidently.legacy.calculations` so the engine decides as Evidently does
without importing it:

* Test choice: by the reference's non-null count `n` and the number of distinct values in
  reference and current together (`n_values`, so it can depend on the current batch):
  `n <= 1000`: numeric: K-S if `n_values > 5`, else chi-square if `n_values > 2`, else Z-test;
  categorical: chi-square if `n_values > 2`, else Z-test.
  `n > 1000`: numeric: normed Wasserstein if `n_values > 5`, else Jensen-Shannon;
  categorical: Jensen-Shannon.
* Normed Wasserstein: W1(reference, current) / max(population std of the reference, 0.001).
  Computed exactly (the integral of |F_ref - F_cur| over the merged support) from the two
  sorted value/count summaries, in blocks so memory stays bounded.
* Jensen-Shannon: scipy's definition (natural log, square root of the JS divergence) on the
  shares of each category/value; a category absent on one side has share 0 there. Evidently
  would bin numeric columns with more than 20 reference values, but it only picks
  Jensen-Shannon for numeric columns with at most 5 values, so it is always counts here.
* Chi-square: observed current counts against reference counts scaled to the current size;
  a category absent from the reference gives an infinite statistic (p-value 0).
* Z-test: two-proportion z-test on the share of the first value (sorted), two-sided normal
  p-value; 1.0 when both sides hold the same single value.
* K-S: scipy's `ks_2samp` (only used with at most 1,000 reference values, so cheap).
* Thresholds: 0.05 for p-values, 0.1 for distances, or `stattest_threshold` for all columns.
  Verdicts: K-S drifts when p <= threshold, chi-square and Z-test when p < threshold (this is
  what Evidently's code does), distances when score >= threshold. A single threshold for
  every column is therefore only meaningful when all columns use the same kind of test.
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

from modelops.ml.drift.result import FeatureKind
from modelops.ml.drift.summaries import align, expand

METHOD_WASSERSTEIN = "Wasserstein distance (normed)"
METHOD_JENSEN_SHANNON = "Jensen-Shannon distance"
METHOD_KS = "K-S p_value"
METHOD_CHI_SQUARE = "chi-square p_value"
METHOD_Z = "Z-test p_value"
ALL_NULL_METHOD = "no non-null current values (Evidently raises)"
"""Method the engine reports for a column whose current values are all null: drifted, score
NaN."""

P_VALUE_METHODS = frozenset({METHOD_KS, METHOD_CHI_SQUARE, METHOD_Z})
DEFAULT_P_VALUE_THRESHOLD = 0.05
DEFAULT_DISTANCE_THRESHOLD = 0.1
SMALL_REFERENCE_MAX = 1000
"""Up to this many non-null reference values Evidently uses p-value tests, above it distances."""
LOW_CARDINALITY_MAX = 5
"""Numeric columns with at most this many distinct values are tested like categories."""
WASSERSTEIN_MIN_NORM = 0.001

_BLOCK = 1 << 20
"""Distinct values per side merged at once in the Wasserstein integral: bounds its memory."""


def choose_method(kind: FeatureKind, n_reference: int, n_values: int) -> str:
    """Evidently's default test for a column (see the module docstring)."""
    if n_reference <= SMALL_REFERENCE_MAX:
        if kind == "numeric" and n_values > LOW_CARDINALITY_MAX:
            return METHOD_KS
        return METHOD_CHI_SQUARE if n_values > 2 else METHOD_Z
    if kind == "numeric" and n_values > LOW_CARDINALITY_MAX:
        return METHOD_WASSERSTEIN
    return METHOD_JENSEN_SHANNON


def threshold_for(method: str, stattest_threshold: float | None) -> float:
    """`stattest_threshold` when given, else the test's default."""
    if stattest_threshold is not None:
        return stattest_threshold
    return DEFAULT_P_VALUE_THRESHOLD if method in P_VALUE_METHODS else DEFAULT_DISTANCE_THRESHOLD


def is_drifted(method: str, score: float, threshold: float) -> bool:
    """Evidently's verdicts: K-S uses <=, chi-square and Z-test <, distances >=."""
    if method == METHOD_KS:
        return score <= threshold
    if method in P_VALUE_METHODS:
        return score < threshold
    return score >= threshold


def numeric_score(
    method: str,
    ref: tuple[np.ndarray, np.ndarray | None],
    cur: tuple[np.ndarray, np.ndarray | None],
    ref_std: float,
) -> float:
    """Score of a numeric column from both sides' sorted distinct values and counts."""
    (ref_values, ref_counts), (cur_values, cur_counts) = ref, cur
    if method == METHOD_WASSERSTEIN:
        distance = wasserstein(ref_values, ref_counts, cur_values, cur_counts)
        return distance / max(ref_std, WASSERSTEIN_MIN_NORM)
    if method == METHOD_KS:
        result = stats.ks_2samp(expand(ref_values, ref_counts), expand(cur_values, cur_counts))
        return float(result.pvalue)
    keys = np.union1d(ref_values, cur_values)
    return count_test(
        method, align(keys, ref_values, ref_counts), align(keys, cur_values, cur_counts)
    )


def count_test(method: str, ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Jensen-Shannon, chi-square or Z-test from counts aligned on the same sorted keys."""
    n, m = ref_counts.sum(), cur_counts.sum()
    if method == METHOD_JENSEN_SHANNON:
        p, q = ref_counts / n, cur_counts / m
        mid = (p + q) / 2
        divergence = special.rel_entr(p, mid).sum() + special.rel_entr(q, mid).sum()
        return float(np.sqrt(divergence / 2))
    if method == METHOD_CHI_SQUARE:
        expected = ref_counts * (m / n)
        with np.errstate(divide="ignore", invalid="ignore"):
            statistic = float(((cur_counts - expected) ** 2 / expected).sum())
        return float(special.chdtrc(len(ref_counts) - 1, statistic))
    if method == METHOD_Z:
        if len(ref_counts) == 1:
            return 1.0  # both sides hold the same single value
        # share of everything but the first key; the test is symmetric in the choice
        p1, p2 = 1 - ref_counts[0] / n, 1 - cur_counts[0] / m
        pooled = (p1 * n + p2 * m) / (n + m)
        z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / n + 1 / m))
        return float(2 * special.ndtr(-abs(z)))
    raise AssertionError(f"not a count test: {method}")


def wasserstein(
    ref_values: np.ndarray,
    ref_counts: np.ndarray | None,
    cur_values: np.ndarray,
    cur_counts: np.ndarray | None,
) -> float:
    """W1 = ∫ |F_ref(x) − F_cur(x)| dx over the merged support of two value/count summaries.

    Both sides are cut at common split values into blocks of at most `_BLOCK` distinct values
    per side; each block's two sorted runs are merged with a stable argsort (timsort merges two
    runs in linear time) and the cumulative counts carry over from block to block.
    """
    n = len(ref_values) if ref_counts is None else int(ref_counts.sum())
    m = len(cur_values) if cur_counts is None else int(cur_counts.sum())
    splits = np.union1d(ref_values[_BLOCK::_BLOCK], cur_values[_BLOCK::_BLOCK])
    ref_cuts = np.concatenate([[0], np.searchsorted(ref_values, splits), [len(ref_values)]])
    cur_cuts = np.concatenate([[0], np.searchsorted(cur_values, splits), [len(cur_values)]])
    total = 0.0
    ref_before = cur_before = 0
    for k in range(len(ref_cuts) - 1):
        r0, r1, c0, c1 = ref_cuts[k], ref_cuts[k + 1], cur_cuts[k], cur_cuts[k + 1]
        rw = np.ones(r1 - r0, np.int64) if ref_counts is None else ref_counts[r0:r1]
        cw = np.ones(c1 - c0, np.int64) if cur_counts is None else cur_counts[c0:c1]
        merged = np.concatenate([ref_values[r0:r1], cur_values[c0:c1]])
        order = np.argsort(merged, kind="stable")
        points = merged[order]
        weights_ref = np.concatenate([rw, np.zeros(c1 - c0, np.int64)])[order]
        weights_cur = np.concatenate([np.zeros(r1 - r0, np.int64), cw])[order]
        cdf_gap = np.abs(
            (ref_before + np.cumsum(weights_ref)) / n - (cur_before + np.cumsum(weights_cur)) / m
        )
        # the block's last point extends to the next block's first value (a split value)
        if k < len(splits):
            widths = np.diff(points, append=splits[k])
        else:
            widths = np.diff(points)
            cdf_gap = cdf_gap[:-1]
        total += float(np.dot(widths, cdf_gap))
        ref_before += int(rw.sum())
        cur_before += int(cw.sum())
    return total
