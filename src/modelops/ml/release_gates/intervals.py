"""Confidence intervals for the figures the release gates judge.

A gate that compares a holdout AUC of 0.63 with a floor of 0.65 says little when the AUC was
measured on a dozen bads. Every gated figure therefore carries a 95% interval:

- AUC, KS and Brier of the candidate (whole holdout or one slice): a seeded bootstrap,
  stratified by label (each resample keeps the holdout's numbers of bads and goods), computed
  for all resamples at once on the sorted scores, so a 100k-row holdout takes about a second;
- differences of two AUCs from the stored reports (baseline, champion): Hanley & McNeil's
  standard error of each, combined as if independent (wider than a paired interval: the
  conservative side);
- demographic parity and equalized odds gaps: a bootstrap stratified by group and label, drawn
  as binomials of each cell's decisions (exactly what resampling each cell's rows gives).

Percentile intervals. The same seed gives the same interval on the same data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95
RESAMPLES = 500
SEED = 13
CHUNK_CELLS = 5_000_000
"""Resamples are drawn in chunks of about this many (resample, row) cells (~40 MB each)."""


@dataclass(frozen=True)
class Interval:
    """A two-sided interval of one figure, and how it was computed."""

    low: float
    high: float
    method: str

    def text(self, point: float | None, digits: int = 3) -> str:
        """'0.710 [0.660, 0.760]'."""
        shown = "n/a" if point is None else f"{point:.{digits}f}"
        return f"{shown} [{self.low:.{digits}f}, {self.high:.{digits}f}]"

    def to_dict(self) -> dict[str, float | str]:
        return {"low": self.low, "high": self.high, "method": self.method}


def decides_fail(
    point: float | None,
    interval: Interval | None,
    bound: float,
    *,
    lower_is_limit: bool,
    interval_rule: bool,
    epsilon: float = 1e-9,
) -> bool:
    """Whether a figure fails its limit. `lower_is_limit`: the figure must be >= `bound`.
    With `interval_rule` (and an interval), it fails only when the whole interval is on the
    wrong side; otherwise the point estimate decides, as before intervals existed."""
    if point is None or (isinstance(point, float) and math.isnan(point)):
        return True
    if interval_rule and interval is not None:
        if lower_is_limit:
            return interval.high < bound - epsilon
        return interval.low > bound + epsilon
    return point < bound - epsilon if lower_is_limit else point > bound + epsilon


def bootstrap_metrics(
    labels: np.ndarray,
    scores: np.ndarray,
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    confidence: float = CONFIDENCE,
) -> dict[str, Interval]:
    """Intervals of AUC, KS and Brier by a label-stratified bootstrap; empty when the labels
    hold a single class (the figures are undefined)."""
    y = np.asarray(labels).astype(int)
    s = np.asarray(scores, dtype=float)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(f"labels and scores must be 1-D of one length, got {y.shape}, {s.shape}")
    n_pos, n_neg = int(y.sum()), int(y.size - y.sum())
    if n_pos == 0 or n_neg == 0:
        return {}
    order = np.argsort(s, kind="mergesort")
    s, y = s[order], y[order]
    starts, ends = _levels(s)
    level_ends = np.unique(ends) - 1
    pos_at, neg_at = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    rng = np.random.default_rng(seed)
    chunk = max(1, CHUNK_CELLS // y.size)
    values: dict[str, list[np.ndarray]] = {"auc": [], "ks": [], "brier": []}
    done = 0
    while done < resamples:
        c = min(chunk, resamples - done)
        weights = np.zeros((c, y.size))
        weights[:, pos_at] = _counts(rng, c, n_pos)
        weights[:, neg_at] = _counts(rng, c, n_neg)
        pos_w = weights * y
        neg_cum = np.cumsum(weights * (1 - y), axis=1)
        padded = np.concatenate([np.zeros((c, 1)), neg_cum], axis=1)
        below = padded[:, starts]
        tied = padded[:, ends] - below
        values["auc"].append((pos_w * (below + 0.5 * tied)).sum(axis=1) / (n_pos * n_neg))
        pos_cum = np.cumsum(pos_w, axis=1)
        gaps = np.abs(pos_cum[:, level_ends] / n_pos - neg_cum[:, level_ends] / n_neg)
        values["ks"].append(gaps.max(axis=1))
        values["brier"].append((weights * (y - s) ** 2).sum(axis=1) / y.size)
        done += c
    method = f"bootstrap, {resamples} resamples stratified by label, seed {seed}"
    return {
        name: _percentile(np.concatenate(parts), confidence, method)
        for name, parts in values.items()
    }


def auc_standard_error(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley & McNeil (1982): the standard error of an AUC from its value and class sizes."""
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = (
        auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)
    ) / (n_pos * n_neg)
    return math.sqrt(max(variance, 0.0))


def auc_difference_interval(
    ours: float, theirs: float, n_pos: int, n_neg: int, confidence: float = CONFIDENCE
) -> Interval | None:
    """Interval of `ours - theirs` (two AUCs on the same holdout), unpaired: conservative."""
    if n_pos < 1 or n_neg < 1 or any(math.isnan(v) for v in (ours, theirs)):
        return None
    se = math.hypot(
        auc_standard_error(ours, n_pos, n_neg), auc_standard_error(theirs, n_pos, n_neg)
    )
    z = _z(confidence)
    difference = ours - theirs
    return Interval(difference - z * se, difference + z * se, "Hanley-McNeil, unpaired")


@dataclass(frozen=True)
class GroupCounts:
    """One group's decisions on the holdout: actual bads and goods, and how many of each the
    model selected (predicted bad)."""

    group: str
    bads: int
    goods: int
    selected_bads: int
    selected_goods: int


def gap_intervals(
    parity_groups: Sequence[GroupCounts],
    odds_groups: Sequence[GroupCounts],
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    confidence: float = CONFIDENCE,
) -> tuple[Interval | None, Interval | None]:
    """Intervals of the demographic parity difference over `parity_groups` and the equalized
    odds difference over `odds_groups` (None where fewer than two groups take part)."""
    rng = np.random.default_rng(seed)
    method = f"bootstrap, {resamples} resamples stratified by group and label, seed {seed}"
    dpd = eod = None
    if len(parity_groups) >= 2:
        sel_bad, sel_good = _draw(rng, parity_groups, resamples)
        sizes = np.array([g.bads + g.goods for g in parity_groups], dtype=float)
        rates = (sel_bad + sel_good) / sizes
        dpd = _percentile(rates.max(axis=1) - rates.min(axis=1), confidence, method)
    if len(odds_groups) >= 2:
        sel_bad, sel_good = _draw(rng, odds_groups, resamples)
        tpr = sel_bad / np.array([g.bads for g in odds_groups], dtype=float)
        fpr = sel_good / np.array([g.goods for g in odds_groups], dtype=float)
        gaps = np.maximum(tpr.max(axis=1) - tpr.min(axis=1), fpr.max(axis=1) - fpr.min(axis=1))
        eod = _percentile(gaps, confidence, method)
    return dpd, eod


def _draw(
    rng: np.random.Generator, groups: Sequence[GroupCounts], resamples: int
) -> tuple[np.ndarray, np.ndarray]:
    """Selected bads and goods per (resample, group): resampling a cell's n rows with
    replacement selects Binomial(n, selected share) of them."""
    bads = np.array([g.bads for g in groups])
    goods = np.array([g.goods for g in groups])
    p_bad = np.array([g.selected_bads / g.bads if g.bads else 0.0 for g in groups])
    p_good = np.array([g.selected_goods / g.goods if g.goods else 0.0 for g in groups])
    return (
        rng.binomial(bads, p_bad, size=(resamples, len(groups))).astype(float),
        rng.binomial(goods, p_good, size=(resamples, len(groups))).astype(float),
    )


def _counts(rng: np.random.Generator, rows: int, n: int) -> np.ndarray:
    """How often each of n items is drawn in each of `rows` resamples of size n."""
    draws = rng.integers(0, n, size=(rows, n)) + (np.arange(rows) * n)[:, None]
    return np.bincount(draws.ravel(), minlength=rows * n).reshape(rows, n)


def _levels(sorted_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row of sorted scores: where its run of tied scores starts and ends."""
    change = np.flatnonzero(np.diff(sorted_scores)) + 1
    bounds = np.concatenate([[0], change, [sorted_scores.size]])
    run = np.repeat(np.arange(bounds.size - 1), np.diff(bounds))
    return bounds[run], bounds[run + 1]


def _percentile(values: np.ndarray, confidence: float, method: str) -> Interval:
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return Interval(float(low), float(high), method)


def _z(confidence: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + confidence / 2)


@dataclass(frozen=True)
class HoldoutIntervals:
    """The intervals the gates show, computed from the candidate's holdout scores."""

    candidate: dict[str, Interval]
    """'auc', 'ks', 'brier' of the whole holdout."""
    slices: dict[str, Interval]
    """AUC interval per 'column=value' slice that holds both outcomes."""
    score_psi: Interval | None = None
    """The score PSI's interval, the holdout resampled against the training reference."""


def holdout_intervals(
    labels: np.ndarray,
    scores: np.ndarray,
    segments: dict[str, np.ndarray],
    *,
    min_bads: int = 1,
    min_goods: int = 1,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> HoldoutIntervals:
    """Whole-holdout and per-slice intervals (slices with fewer than `min_bads` bads or
    `min_goods` goods are not gated, so they get none)."""
    from modelops.ml.evaluation import category_labels

    y = np.asarray(labels).astype(int)
    s = np.asarray(scores, dtype=float)
    slices: dict[str, Interval] = {}
    for column, values in segments.items():
        names = category_labels(values)
        for value in sorted(set(names.tolist())):
            mask = names == value
            bads = int(y[mask].sum())
            if bads >= max(min_bads, 1) and int(mask.sum()) - bads >= max(min_goods, 1):
                auc = bootstrap_metrics(y[mask], s[mask], resamples=resamples, seed=seed)
                slices[f"{column}={value}"] = auc["auc"]
    return HoldoutIntervals(bootstrap_metrics(y, s, resamples=resamples, seed=seed), slices)


def psi_interval(
    reference: np.ndarray,
    current: np.ndarray,
    *,
    resamples: int = 200,
    seed: int = SEED,
    level: float = 0.95,
) -> Interval | None:
    """Percentile bootstrap of the score PSI: the holdout (current) resampled, the training
    reference's bins kept. None when the PSI cannot be measured."""
    from modelops.ml.drift import score_psi

    cur = np.asarray(current, dtype=float)
    if cur.size < 2 or np.asarray(reference).size < 2:
        return None
    rng = np.random.default_rng(seed)
    values = [
        score_psi(reference, cur[rng.integers(0, cur.size, cur.size)]).psi for _ in range(resamples)
    ]
    finite = np.asarray([v for v in values if v is not None and np.isfinite(v)])
    if finite.size == 0:
        return None
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return Interval(float(low), float(high), f"bootstrap, {resamples} resamples of the holdout")
