"""Binary-classification metrics of a credit model, on plain numpy arrays.

Conventions shared by every function:

* `y` holds 0/1 labels where 1 is the positive class ("bad loan");
* `p` holds the predicted probability of the positive class, in [0, 1];
* a row is predicted positive (declined) when `p >= threshold`.

Ranking metrics (AUC, Gini, KS, PR-AUC) are undefined when `y` holds a single class, which
happens on small segments or tiny holdouts. They then return `nan` instead of raising, so one
degenerate slice cannot abort a whole evaluation report; callers decide how to show it.

scikit-learn is imported inside the functions that use it, so the result types load with the
code location (which must not import it).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass

import numpy as np

LOG_LOSS_EPS = 1e-15
"""Probabilities are clipped to [eps, 1 - eps] so a confident mistake costs a finite loss."""


def _as_arrays(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate once so every metric can assume clean, aligned 1-D arrays."""
    y_arr = np.asarray(y)
    p_arr = np.asarray(p, dtype=float)
    if y_arr.ndim != 1 or p_arr.ndim != 1:
        raise ValueError("labels and scores must be 1-D arrays")
    if y_arr.shape != p_arr.shape:
        raise ValueError(f"labels ({y_arr.size}) and scores ({p_arr.size}) differ in length")
    if y_arr.size == 0:
        raise ValueError("cannot compute metrics on empty arrays")
    if not np.isin(y_arr, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    if not np.isfinite(p_arr).all():
        raise ValueError("scores must be finite (no NaN or infinity)")
    if (p_arr < 0).any() or (p_arr > 1).any():
        raise ValueError("scores must be probabilities in [0, 1]")
    return y_arr.astype(np.int64), p_arr


def _single_class(y: np.ndarray) -> bool:
    return bool(y.min() == y.max())


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve; `nan` when `y` holds a single class."""
    y, p = _as_arrays(y, p)
    if _single_class(y):
        return math.nan
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))


def gini(y: np.ndarray, p: np.ndarray) -> float:
    """Gini coefficient (2 * AUC - 1), the ranking figure credit risk teams report."""
    return 2.0 * roc_auc(y, p) - 1.0


def ks_statistic(y: np.ndarray, p: np.ndarray) -> float:
    """Kolmogorov-Smirnov statistic: max |TPR - FPR| over all thresholds.

    This is the two-sample KS distance between the score distributions of positives and
    negatives; `nan` when `y` holds a single class.
    """
    y, p = _as_arrays(y, p)
    if _single_class(y):
        return math.nan
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, p, drop_intermediate=False)
    return float(np.max(np.abs(tpr - fpr)))


def roc_points(
    y: np.ndarray, p: np.ndarray, max_points: int = 200
) -> tuple[np.ndarray, np.ndarray]:
    """ROC curve as (fpr, tpr) with at most `max_points` points, for plots and reports.

    The curve keeps its two end points and an evenly spaced subset of the vertices in between,
    so it can be stored with a report and drawn later without the raw scores. Both arrays are
    empty when `y` holds a single class (the curve is undefined).
    """
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2, got {max_points}")
    y, p = _as_arrays(y, p)
    if _single_class(y):
        return np.empty(0), np.empty(0)
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, p)
    if fpr.size > max_points:
        keep = np.unique(np.linspace(0, fpr.size - 1, max_points).round().astype(np.int64))
        fpr, tpr = fpr[keep], tpr[keep]
    return fpr.astype(float), tpr.astype(float)


def brier_score(y: np.ndarray, p: np.ndarray) -> float:
    """Mean squared error of the probabilities: rewards calibration as well as ranking."""
    y, p = _as_arrays(y, p)
    return float(np.mean((p - y) ** 2))


def pr_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Average precision (area under the precision-recall curve); `nan` on a single class.

    Unlike AUC it depends on the bad rate, so it shows how usable the ranking is when bads are
    rare.
    """
    y, p = _as_arrays(y, p)
    if _single_class(y):
        return math.nan
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, p))


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean negative log-likelihood, with `p` clipped to [1e-15, 1 - 1e-15]."""
    y, p = _as_arrays(y, p)
    clipped = np.clip(p, LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS)
    return float(-np.mean(y * np.log(clipped) + (1 - y) * np.log(1.0 - clipped)))


def _ratio(numerator: int, denominator: int) -> float:
    """A rate whose denominator may be zero (no predicted positives, ...): `nan`, not an error."""
    return numerator / denominator if denominator else math.nan


@dataclass(frozen=True)
class Confusion:
    """Confusion matrix at one operating threshold (positive = predicted bad = declined).

    Rates whose denominator is zero (precision with no predicted positives, recall with no
    actual positives, ...) are `nan`.
    """

    threshold: float
    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.tn + self.fn

    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        """True positive rate: share of bad loans the threshold catches."""
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def false_positive_rate(self) -> float:
        """Share of good loans declined."""
        return _ratio(self.fp, self.fp + self.tn)

    @property
    def accuracy(self) -> float:
        return _ratio(self.tp + self.tn, self.n)

    @property
    def approval_rate(self) -> float:
        """Share of applications predicted negative, i.e. approved at this threshold."""
        return _ratio(self.tn + self.fn, self.n)


def confusion_at(y: np.ndarray, p: np.ndarray, threshold: float) -> Confusion:
    """Count outcomes when rows with `p >= threshold` are predicted positive."""
    y, p = _as_arrays(y, p)
    predicted = p >= threshold
    actual = y == 1
    return Confusion(
        threshold=float(threshold),
        tp=int(np.sum(predicted & actual)),
        fp=int(np.sum(predicted & ~actual)),
        tn=int(np.sum(~predicted & ~actual)),
        fn=int(np.sum(~predicted & actual)),
    )


@dataclass(frozen=True)
class CalibrationBin:
    """One score bin: `lower`/`upper` are the smallest and largest score inside the bin."""

    lower: float
    upper: float
    count: int
    mean_predicted: float
    observed_rate: float


def _bin_cuts(sorted_p: np.ndarray, bins: int) -> list[int]:
    """Positions splitting sorted scores into ~equal-frequency bins, never inside a tie.

    A cut that would fall inside a run of equal scores is moved to the end of the run, and
    cuts that then coincide are merged: equal scores always share a bin and no bin is empty.
    """
    n = sorted_p.size
    cuts = {0, n}
    for k in range(1, bins):
        position = (k * n + bins // 2) // bins
        if 0 < position < n:
            cut = int(np.searchsorted(sorted_p, sorted_p[position - 1], side="right"))
            cuts.add(cut)
    return sorted(cuts)


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int) -> list[CalibrationBin]:
    """Mean predicted vs observed bad rate per equal-frequency score bin.

    Quantile bins keep every bin populated even when scores are concentrated; ties (e.g. a
    scorecard with few distinct scores) can yield fewer than `bins` bins, never empty ones.
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    y, p = _as_arrays(y, p)
    order = np.argsort(p, kind="stable")
    sorted_p, sorted_y = p[order], y[order]
    cuts = _bin_cuts(sorted_p, bins)
    table: list[CalibrationBin] = []
    for start, stop in itertools.pairwise(cuts):
        scores, labels = sorted_p[start:stop], sorted_y[start:stop]
        table.append(
            CalibrationBin(
                lower=float(scores[0]),
                upper=float(scores[-1]),
                count=int(stop - start),
                mean_predicted=float(scores.mean()),
                observed_rate=float(labels.mean()),
            )
        )
    return table


@dataclass(frozen=True)
class BinaryMetrics:
    """Headline metrics of one set of scores; ranking metrics are `nan` on a single class."""

    n: int
    positives: int
    auc: float
    gini: float
    ks: float
    brier: float
    pr_auc: float
    log_loss: float

    def as_dict(self) -> dict[str, float | int]:
        """Plain dict of the fields (`nan` kept as is; serialisers decide how to encode it)."""
        return asdict(self)


def binary_metrics(y: np.ndarray, p: np.ndarray) -> BinaryMetrics:
    """Compute every headline metric of one set of scores."""
    y, p = _as_arrays(y, p)
    auc = roc_auc(y, p)
    return BinaryMetrics(
        n=int(y.size),
        positives=int(y.sum()),
        auc=auc,
        gini=2.0 * auc - 1.0,
        ks=ks_statistic(y, p),
        brier=brier_score(y, p),
        pr_auc=pr_auc(y, p),
        log_loss=log_loss(y, p),
    )
