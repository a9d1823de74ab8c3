"""Fairness after release, on made-up months: a protected group's share moving is seen, a
gap beyond the release's limit is a breach, a group too small to judge never is."""

from __future__ import annotations

import numpy as np
import pytest

from modelops.ml.fairness import fairness_report
from modelops.ml.fairness_in_production import (
    MonthFairness,
    attribute_mix,
    fairness_breaches,
    group_shares,
)


def test_group_shares_count_missing_values_as_a_group() -> None:
    shares = group_shares(["a", "a", "b", None])
    assert shares == {"a": 0.5, "b": 0.25, "(missing)": 0.25}


def test_the_same_mix_is_quiet_and_a_moved_mix_is_shifted() -> None:
    training = {"young": 0.2, "older": 0.8}
    same = attribute_mix("age_band", training, {"young": 0.21, "older": 0.79}, psi_limit=0.25)
    assert same.psi < 0.01 and not same.shifted
    moved = attribute_mix("age_band", training, {"young": 0.6, "older": 0.4}, psi_limit=0.25)
    assert moved.psi > 0.25 and moved.shifted
    new_group = attribute_mix("age_band", training, {"young": 0.2, "teen": 0.8}, psi_limit=0.25)
    assert new_group.shifted  # a group training never had
    assert {g.group for g in new_group.groups} == {"young", "older", "teen"}


def _decisions(rng: np.random.Generator, n: int, decline_a: float, decline_b: float):
    """Two groups of n rows each whose decline rates are `decline_a` and `decline_b`."""
    groups = np.array(["a"] * n + ["b"] * n)
    labels = rng.integers(0, 2, size=2 * n)
    declined = np.concatenate([rng.random(n) < decline_a, rng.random(n) < decline_b])
    scores = np.where(declined, 0.9, 0.1)
    return labels, scores, groups


def test_a_gap_beyond_the_release_limit_is_a_breach() -> None:
    labels, scores, groups = _decisions(np.random.default_rng(0), 400, 0.6, 0.2)
    report = fairness_report(
        labels, scores, {"sex": groups}, threshold=0.5, min_group_size=30, min_outcome_count=20
    )
    (breach, *_) = fairness_breaches(report, max_parity_gap=0.1, max_odds_gap=0.9)
    assert breach.attribute == "sex" and breach.measure == "demographic parity difference"
    assert breach.value == pytest.approx(0.4, abs=0.08)
    assert "above the limit 0.1" in breach.text()
    assert not fairness_breaches(report, max_parity_gap=0.6, max_odds_gap=0.9)


def test_a_group_too_small_to_judge_never_breaches() -> None:
    labels, scores, groups = _decisions(np.random.default_rng(1), 400, 0.2, 0.2)
    small = np.array(["c"] * 10)
    report = fairness_report(
        np.concatenate([labels, np.ones(10, dtype=int)]),
        np.concatenate([scores, np.full(10, 0.9)]),  # every one of them declined
        {"sex": np.concatenate([groups, small])},
        threshold=0.5,
        min_group_size=30,
        min_outcome_count=20,
    )
    assert not fairness_breaches(report, max_parity_gap=0.1, max_odds_gap=0.2)


def test_a_month_record_round_trips_and_says_what_is_wrong() -> None:
    labels, scores, groups = _decisions(np.random.default_rng(2), 300, 0.6, 0.2)
    report = fairness_report(
        labels, scores, {"sex": groups}, threshold=0.5, min_group_size=30, min_outcome_count=20
    )
    record = MonthFairness(
        month="2025-07",
        model_version="2",
        labelled_rows=600,
        threshold=0.5,
        max_parity_gap=0.1,
        mix=(attribute_mix("sex", {"a": 0.5, "b": 0.5}, {"a": 0.9, "b": 0.1}, psi_limit=0.25),),
        breaches=tuple(fairness_breaches(report, max_parity_gap=0.1, max_odds_gap=0.9)),
        report=report.to_dict(),
    )
    again = MonthFairness.model_validate_json(record.model_dump_json())
    assert again == record
    problems = again.problems()
    assert any("demographic parity" in p for p in problems)
    assert any("group mix moved" in p for p in problems)
    text = again.markdown()
    assert "Group mix against training" in text and "2025-07" in text
