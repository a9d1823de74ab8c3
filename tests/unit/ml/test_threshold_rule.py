"""The operating threshold chosen by a declared rule (ml/evaluation/threshold_rule.py)."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from modelops.ml.evaluation.threshold_rule import resolve_threshold
from modelops.spec.base import SpecProblems
from modelops.spec.modelling import Evaluation


def calibrated(n: int = 20_000, bad_rate: float = 0.1, seed: int = 0):
    """Scores that are true probabilities, and labels drawn from them."""
    rng = np.random.default_rng(seed)
    p = rng.beta(1, (1 - bad_rate) / bad_rate, n)
    return (rng.random(n) < p).astype(int), p


def evaluation(**rule: float) -> Evaluation:
    return Evaluation(threshold_rule=rule)


def test_approval_rate_accepts_that_share() -> None:
    y, s = calibrated()
    resolved = resolve_threshold(y, s, evaluation(approval_rate=0.8))
    assert resolved.approval_rate == pytest.approx(0.8, abs=0.001)
    assert (s < resolved.threshold).mean() == resolved.approval_rate
    assert resolved.rule == "approval_rate 0.8" and resolved.warning is None


def test_bad_rate_among_accepted_is_met_with_the_most_approvals() -> None:
    y, s = calibrated()
    resolved = resolve_threshold(y, s, evaluation(bad_rate_among_accepted=0.05))
    assert resolved.bad_rate_among_accepted is not None
    assert 0.045 <= resolved.bad_rate_among_accepted <= 0.05
    looser = s < resolved.threshold + 0.01  # accepting more would break the target
    assert y[looser].mean() > 0.05 or looser.all()


def test_cost_ratio_lands_near_the_bayes_threshold_on_calibrated_scores() -> None:
    y, s = calibrated(n=50_000)
    resolved = resolve_threshold(y, s, evaluation(cost_ratio=5))
    assert resolved.threshold == pytest.approx(1 / 6, abs=0.03)


def test_a_fixed_half_on_a_low_default_book_warns_that_it_accepts_everything() -> None:
    y, s = calibrated(bad_rate=0.014)
    resolved = resolve_threshold(y, s, Evaluation())
    assert resolved.rule == "fixed 0.5"
    assert resolved.approval_rate > 0.99
    assert resolved.warning is not None and "threshold_rule" in resolved.warning


def test_ties_are_never_split() -> None:
    y, s = calibrated(n=2_000)
    s = np.round(s, 1)
    resolved = resolve_threshold(y, s, evaluation(approval_rate=0.5))
    assert not np.isin(resolved.threshold, s)


def test_the_spec_takes_one_rule_and_not_with_an_explicit_threshold() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        Evaluation(threshold_rule={"approval_rate": 0.8, "cost_ratio": 5})
    with pytest.raises((ValidationError, SpecProblems), match="threshold_rule"):
        Evaluation(operating_threshold=0.3, threshold_rule={"approval_rate": 0.8})
    assert Evaluation().threshold_rule is None  # default: today's fixed 0.5
