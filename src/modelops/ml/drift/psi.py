"""Population Stability Index: the scorecard world's drift measure, on the reference's bins.

PSI of the model score is the classic stability report; the same index per input (a CSI)
is reported beside Evidently's tests but never decides whether a column drifted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

PsiBand = Literal["stable", "moderate", "significant"]

PSI_EPSILON = 1e-4
"""Share given to an empty bin on one side, so that ln(c / r) stays finite. A bin empty on both
sides contributes exactly 0. 1e-4 is the usual choice in scorecard monitoring (and Evidently's
PSI fill value for bins that are not tiny): a bin holding 10 % on one side and nothing on the
other contributes 0.1 * ln(0.1 / 1e-4) ≈ 0.69, i.e. a significant shift on its own."""
PSI_STABLE_BELOW = 0.1
"""Classic credit-risk stability bands: PSI < 0.1 stable, 0.1 to 0.25 moderate shift."""
PSI_SIGNIFICANT_ABOVE = 0.25
"""PSI > 0.25: significant shift, the population the model scores has changed."""
PSI_BANDS_TEXT = (
    f"< {PSI_STABLE_BELOW} stable, {PSI_STABLE_BELOW}–{PSI_SIGNIFICANT_ABOVE} moderate, "
    f"> {PSI_SIGNIFICANT_ABOVE} significant"
)
"""The bands as a report states them."""


def psi_band(psi: float) -> PsiBand:
    """Band of a PSI value: < 0.1 stable, 0.1–0.25 moderate, > 0.25 significant."""
    if psi < PSI_STABLE_BELOW:
        return "stable"
    if psi <= PSI_SIGNIFICANT_ABOVE:
        return "moderate"
    return "significant"


def psi(reference_share: np.ndarray, current_share: np.ndarray) -> float:
    """Population Stability Index Σ (c − r) · ln(c / r) over matching bins.

    A share of 0 on one side is replaced by `PSI_EPSILON` (on that side only); bins empty on
    both sides contribute 0.
    """
    r = np.asarray(reference_share, dtype=np.float64)
    c = np.asarray(current_share, dtype=np.float64)
    both_empty = (r == 0) & (c == 0)
    r = np.where(r == 0, PSI_EPSILON, r)
    c = np.where(c == 0, PSI_EPSILON, c)
    terms = np.where(both_empty, 0.0, (c - r) * np.log(c / r))
    return float(terms.sum())


@dataclass(frozen=True)
class PsiResult:
    """PSI of one variable (e.g. the model score) on the reference's quantile bins."""

    psi: float
    band: PsiBand
    edges: np.ndarray
    """Interior bin edges; bins are right-closed: (-inf, e0], (e0, e1], ..., (e_k, inf)."""
    reference_share: np.ndarray
    current_share: np.ndarray


def score_psi(
    reference_scores: np.ndarray | pl.Series | Sequence[float],
    current_scores: np.ndarray | pl.Series | Sequence[float],
    bins: int = 10,
) -> PsiResult:
    """PSI of the model score: the classic scorecard stability report.

    Bins are the reference's quantiles (`bins` equal-frequency bins; fewer when the score has
    ties at a quantile). Scores must be finite: a NaN score is a scoring bug, not drift.
    """
    if bins < 2:
        raise ValueError(f"score_psi: bins must be at least 2, got {bins}")
    ref = _finite_scores("reference", reference_scores)
    cur = _finite_scores("current", current_scores)
    ref.sort()
    cur.sort()
    edges = quantile_edges(ref, bins)
    ref_share = bin_counts(ref, None, edges) / len(ref)
    cur_share = bin_counts(cur, None, edges) / len(cur)
    value = psi(ref_share, cur_share)
    return PsiResult(value, psi_band(value), edges, ref_share, cur_share)


def quantile_edges(sorted_values: np.ndarray, bins: int) -> np.ndarray:
    """Distinct interior quantiles of the reference: the PSI bin edges.

    Linear interpolation between order statistics at position q·(n − 1) (numpy's default
    "linear" method), read straight off the sorted array instead of partitioning a copy.
    """
    position = np.linspace(0, 1, bins + 1)[1:-1] * (len(sorted_values) - 1)
    low = np.floor(position).astype(np.intp)
    high = np.minimum(low + 1, len(sorted_values) - 1)
    fraction = position - low
    edges = sorted_values[low] + fraction * (sorted_values[high] - sorted_values[low])
    return np.unique(edges)


def bin_counts(values: np.ndarray, counts: np.ndarray | None, edges: np.ndarray) -> np.ndarray:
    """Counts per right-closed bin (-inf, e0], (e0, e1], ..., (e_k, inf) of sorted `values`
    (each occurring `counts` times, or once when `counts` is None)."""
    at_edges = np.searchsorted(values, edges, side="right")
    if counts is None:
        below, total = at_edges, len(values)
    else:
        cumulative = np.concatenate([[0], np.cumsum(counts)])
        below, total = cumulative[at_edges], cumulative[-1]
    return np.diff(np.concatenate([[0], below, [total]])).astype(np.float64)


def shares_with_missing(bin_counts: np.ndarray, n_rows: int) -> np.ndarray:
    """Shares of all rows per bin, with the missing (null or non-finite) share appended: a
    feature going missing is a shift PSI must see."""
    return np.append(bin_counts / n_rows, 1 - bin_counts.sum() / n_rows)


def _finite_scores(side: str, scores: np.ndarray | pl.Series | Sequence[float]) -> np.ndarray:
    if isinstance(scores, pl.Series):
        scores = scores.cast(pl.Float64).to_numpy()
    values = np.array(scores, dtype=np.float64)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError(f"score_psi: {side} scores must be a non-empty 1-d sequence")
    if not np.isfinite(values).all():
        raise ValueError(f"score_psi: {side} scores hold NaN/inf or nulls")
    return values
