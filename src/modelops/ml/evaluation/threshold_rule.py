"""The operating threshold chosen by the spec's declared rule, on the holdout.

A fixed 0.5 accepts every application of a portfolio with a 1.4% bad rate, which makes the
confusion matrix and the fairness figures at that threshold meaningless. The spec may instead
declare `evaluation.threshold_rule`:

- `approval_rate: 0.8`: accept (score below the threshold) 80% of the holdout;
- `bad_rate_among_accepted: 0.05`: accept as many as possible while the accepted hold at most
  5% bads;
- `cost_ratio: 5`: accepting a bad costs five times declining a good; the threshold minimising
  that cost on the holdout (for calibrated scores close to 1 / (1 + 5)).

Decline when score >= threshold, as everywhere. The threshold falls midway between two
distinct holdout scores, so ties never straddle it. Resolved once, at evaluation, and to be
stored with the model: every door must score with the same number.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from modelops.spec.modelling import Evaluation

NEARLY_ALL = 0.99
"""An approval rate at or above this (or at or below 1 minus it) draws a warning."""


@dataclass(frozen=True)
class ResolvedThreshold:
    """The threshold in use and what it does on the holdout."""

    threshold: float
    rule: str
    """'fixed 0.5', 'approval_rate 0.8', ..."""
    approval_rate: float
    bad_rate_among_accepted: float | None
    """None when nothing is accepted."""
    warning: str | None

    def to_dict(self) -> dict[str, float | str | None]:
        return asdict(self)


def resolve_threshold(
    labels: np.ndarray, scores: np.ndarray, evaluation: Evaluation
) -> ResolvedThreshold:
    """The spec's operating threshold, fixed or by its rule, with what it does on the holdout."""
    y = np.asarray(labels).astype(int)
    s = np.asarray(scores, dtype=float)
    if y.shape != s.shape or y.ndim != 1 or y.size == 0:
        raise ValueError(f"labels and scores must be 1-D of one length, got {y.shape}, {s.shape}")
    rule = evaluation.threshold_rule
    if rule is None:
        return _outcome(y, s, evaluation.operating_threshold, "fixed")
    order = np.argsort(s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    cuts = _cuts(s_sorted)  # k rows accepted for each admissible k
    accepted_bads = np.concatenate([[0], np.cumsum(y_sorted)])[cuts]
    if rule.approval_rate is not None:
        k = cuts[np.argmin(np.abs(cuts - rule.approval_rate * y.size))]
        text = f"approval_rate {rule.approval_rate:g}"
    elif rule.bad_rate_among_accepted is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            rates = np.where(cuts > 0, accepted_bads / np.maximum(cuts, 1), 0.0)
        k = cuts[np.flatnonzero(rates <= rule.bad_rate_among_accepted + 1e-12).max()]
        text = f"bad_rate_among_accepted {rule.bad_rate_among_accepted:g}"
    else:
        ratio = float(rule.cost_ratio or 0.0)
        declined_goods = (y.size - y.sum()) - (cuts - accepted_bads)
        cost = ratio * accepted_bads + declined_goods
        k = cuts[int(np.argmin(cost))]
        text = f"cost_ratio {ratio:g}"
    return _outcome(y, s, _between(s_sorted, int(k)), text)


def _cuts(s_sorted: np.ndarray) -> np.ndarray:
    """Numbers of lowest-scored rows that can be accepted without splitting tied scores."""
    change = np.flatnonzero(np.diff(s_sorted)) + 1
    return np.concatenate([[0], change, [s_sorted.size]])


def _between(s_sorted: np.ndarray, k: int) -> float:
    """A threshold accepting exactly the k lowest scores, kept inside (0, 1]."""
    if k <= 0:
        return float(max(s_sorted[0] / 2, 1e-9)) if s_sorted[0] > 0 else 1e-9
    if k >= s_sorted.size:
        return float(min((s_sorted[-1] + 1) / 2, 1.0))
    return float((s_sorted[k - 1] + s_sorted[k]) / 2)


def _outcome(y: np.ndarray, s: np.ndarray, threshold: float, rule: str) -> ResolvedThreshold:
    accepted = s < threshold
    approval = float(accepted.mean())
    bad_rate = float(y[accepted].mean()) if accepted.any() else None
    warning = None
    if approval >= NEARLY_ALL:
        warning = (
            f"threshold {threshold:.4g} accepts {approval:.1%} of the holdout: the confusion "
            "matrix and the fairness figures at it say little; declare evaluation.threshold_rule"
        )
    elif approval <= 1 - NEARLY_ALL:
        warning = (
            f"threshold {threshold:.4g} declines {1 - approval:.1%} of the holdout: check "
            "evaluation.operating_threshold or evaluation.threshold_rule"
        )
    label = f"fixed {threshold:g}" if rule == "fixed" else rule
    return ResolvedThreshold(float(threshold), label, approval, bad_rate, warning)
