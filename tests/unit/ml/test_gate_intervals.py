"""Confidence intervals of the gated figures, the slice/group minimum of bads and goods, and
the interval rule (ml/release_gates/intervals.py, slice_gate.py, fairness_gate.py)."""

from __future__ import annotations

import time
from dataclasses import replace
from statistics import NormalDist

import numpy as np
import polars as pl
import pytest
from test_release_gates import make_evaluation, make_plan, segment

from modelops.ml.fairness import fairness_report
from modelops.ml.metrics import binary_metrics
from modelops.ml.release_gates.fairness_gate import fairness
from modelops.ml.release_gates.intervals import (
    GroupCounts,
    Interval,
    auc_standard_error,
    bootstrap_metrics,
    decides_fail,
    gap_intervals,
    holdout_intervals,
)
from modelops.ml.release_gates.slice_gate import not_gated_reason, slice_floors
from modelops.ml.training import labels
from modelops.spec import UseCaseSpec
from modelops.spec.risk import load_risk_policy


def binormal(rng: np.random.Generator, bads: int, goods: int, d: float):
    y = np.r_[np.ones(bads, int), np.zeros(goods, int)]
    s = np.r_[rng.normal(d, 1, bads), rng.normal(0, 1, goods)]
    return y, 1 / (1 + np.exp(-s))


def test_auc_interval_covers_the_true_auc_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(7)
    d = 1.0
    true_auc = NormalDist().cdf(d / np.sqrt(2))
    hits = 0
    for _ in range(150):
        y, s = binormal(rng, 60, 240, d)
        interval = bootstrap_metrics(y, s, resamples=300, seed=int(rng.integers(1e9)))["auc"]
        hits += interval.low <= true_auc <= interval.high
    assert 0.88 <= hits / 150 <= 0.99


def test_the_same_seed_gives_the_same_interval_and_it_brackets_the_holdout_figures() -> None:
    y, s = binormal(np.random.default_rng(1), 80, 320, 1.2)
    first, again = bootstrap_metrics(y, s), bootstrap_metrics(y, s)
    other = bootstrap_metrics(y, s, seed=99)
    assert first == again
    assert first["auc"] != other["auc"]
    point = binary_metrics(y, s)
    for name in ("auc", "ks", "brier"):
        assert first[name].low < getattr(point, name) < first[name].high


def test_ties_are_counted_half_as_the_auc_counts_them() -> None:
    y, s = binormal(np.random.default_rng(2), 100, 400, 0.8)
    s = np.round(s, 1)  # few distinct scores: many ties
    interval = bootstrap_metrics(y, s, resamples=400)["auc"]
    assert interval.low < binary_metrics(y, s).auc < interval.high
    assert interval.high - interval.low < 0.2


def test_a_single_class_has_no_interval() -> None:
    assert bootstrap_metrics(np.zeros(50, int), np.linspace(0, 1, 50)) == {}


def test_a_100k_row_holdout_takes_a_few_seconds() -> None:
    rng = np.random.default_rng(3)
    y = (rng.random(100_000) < 0.014).astype(int)
    s = 1 / (1 + np.exp(-(rng.normal(0, 1, y.size) + 1.2 * y - 4)))
    started = time.perf_counter()
    bootstrap_metrics(y, s)
    assert time.perf_counter() - started < 6


def test_hanley_mcneil_standard_error() -> None:
    assert auc_standard_error(0.5, 50, 50) == pytest.approx(0.0580, abs=1e-4)


def test_gap_intervals_are_seeded_and_bracket_the_observed_gap() -> None:
    groups = [GroupCounts("a", 60, 140, 30, 20), GroupCounts("b", 50, 150, 15, 15)]
    dpd, eod = gap_intervals(groups, groups)
    assert (dpd, eod) == gap_intervals(groups, groups)
    observed_dpd = 50 / 200 - 30 / 200
    observed_eod = max(30 / 60 - 15 / 50, 20 / 140 - 15 / 150)
    assert dpd is not None and dpd.low <= observed_dpd <= dpd.high
    assert eod is not None and eod.low <= observed_eod <= eod.high
    assert gap_intervals(groups[:1], groups[:1]) == (None, None)


@pytest.mark.parametrize(
    ("point", "low", "high", "rule", "fails"),
    [
        (0.62, 0.55, 0.70, False, True),  # point below the floor of 0.65: fails
        (0.62, 0.55, 0.70, True, False),  # the interval reaches the floor: passes
        (0.60, 0.52, 0.64, True, True),  # the whole interval is below: fails
        (0.70, 0.66, 0.74, True, False),
    ],
)
def test_the_interval_rule(point: float, low: float, high: float, rule: bool, fails: bool) -> None:
    interval = Interval(low, high, "test")
    assert decides_fail(point, interval, 0.65, lower_is_limit=True, interval_rule=rule) is fails


def test_a_slice_with_too_few_bads_is_reported_not_gated() -> None:
    plan = make_plan(min_slice_bads=15, min_slice_goods=15)
    segments = (
        replace(segment("purpose", "car", 300, 0.75), positives=90),
        replace(segment("purpose", "education", 200, 0.40), positives=12),
    )
    gate = slice_floors(plan, make_evaluation(segments=segments))
    assert gate.passed
    assert "| purpose | education | 200 | 0.4000 | not gated (12 bads < 15) |" in gate.details
    assert ">= 15 bads and >= 15 goods" in gate.summary
    old_rule = slice_floors(make_plan(), make_evaluation(segments=segments))  # rows only
    assert not old_rule.passed


def test_a_failing_slice_says_by_how_much_with_its_interval() -> None:
    plan = make_plan(min_slice_bads=15, min_slice_goods=15)
    seg = replace(segment("purpose", "education", 200, 0.55), positives=40)
    found = holdout_intervals_for(seg)
    gate = slice_floors(plan, make_evaluation(segments=(seg,)), found)
    assert not gate.passed
    assert gate.summary.startswith("purpose=education AUC 0.550 [0.500, 0.600] below 0.60 by 0.050")
    lenient = slice_floors(
        make_plan(
            min_slice_bads=15, min_slice_goods=15, fail_only_when_interval_excludes_limit=True
        ),
        make_evaluation(segments=(seg,)),
        found,
    )
    assert lenient.passed  # 0.60 is inside [0.50, 0.60]


def holdout_intervals_for(seg):
    from modelops.ml.release_gates.intervals import HoldoutIntervals

    name = f"{seg.column}={seg.value}"
    return HoldoutIntervals({}, {name: Interval(0.50, 0.60, "test")})


def test_equalized_odds_leaves_out_groups_with_too_few_bads() -> None:
    rng = np.random.default_rng(5)
    y = np.r_[np.ones(40), np.zeros(160), np.ones(17), np.zeros(83)].astype(int)
    s = np.clip(rng.normal(0.3 + 0.3 * y, 0.2), 0.001, 0.999)
    groups = {"sex": np.array(["a"] * 200 + ["b"] * 100, dtype=object)}
    report = fairness_report(y, s, groups, threshold=0.5, min_group_size=30, min_outcome_count=1)
    plan = make_plan(min_slice_bads=20, min_slice_goods=20)
    gate = fairness(plan, report, with_intervals=True)
    assert gate.measured["sex.equalized_odds_difference"] is None  # b has 17 bads
    assert "b (17 bads &lt; 20)" in gate.details
    assert "sex.demographic_parity_low" in gate.measured
    before = fairness(make_plan(), report)
    assert before.measured["sex.equalized_odds_difference"] is not None


def test_the_policy_minimum_keeps_the_german_credit_slices_gated_as_before(
    german_split: tuple[pl.DataFrame, pl.DataFrame], german_spec: UseCaseSpec
) -> None:
    """The default min_slice_bads / goods gate exactly the slices the rows-only rule gated."""
    _, holdout = german_split
    y = labels(holdout)
    policy = load_risk_policy().for_tier("high")
    new = make_plan(min_slice_bads=policy.min_slice_bads, min_slice_goods=policy.min_slice_goods)
    old = make_plan()
    for column in german_spec.evaluation.segments:
        values = holdout.get_column(column).cast(pl.String).to_numpy()
        for value in set(values.tolist()):
            mask = values == value
            rows, bads = int(mask.sum()), int(y[mask].sum())
            assert (not_gated_reason(new, rows, bads) is None) == (
                not_gated_reason(old, rows, bads) is None
            ), f"{column}={value}: {rows} rows, {bads} bads"


def test_holdout_intervals_skip_slices_below_the_minimum() -> None:
    y, s = binormal(np.random.default_rng(4), 60, 240, 1.0)
    column = np.array(["x"] * 250 + ["y"] * 50, dtype=object)
    found = holdout_intervals(y, s, {"c": column}, min_bads=15, min_goods=15, resamples=100)
    assert set(found.candidate) == {"auc", "ks", "brier"}
    assert "c=x" in found.slices and "c=y" not in found.slices  # y holds no bad at all


def test_the_fairness_gate_warns_when_the_threshold_accepts_nearly_everyone() -> None:
    rng = np.random.default_rng(6)
    y = (rng.random(600) < 0.02).astype(int)
    s = rng.uniform(0.0, 0.3, 600)  # nobody reaches 0.5
    groups = {"sex": np.array(["a", "b"] * 300, dtype=object)}
    report = fairness_report(y, s, groups, threshold=0.5, min_group_size=30)
    gate = fairness(make_plan(), report)
    assert gate.passed
    assert "threshold 0.5 accepts 100.0% of the holdout" in gate.summary
    sensible = fairness_report(y, s, groups, threshold=0.15, min_group_size=30)
    assert "accepts" not in fairness(make_plan(), sensible).summary


def test_a_plan_recorded_before_the_new_settings_keeps_its_fingerprint() -> None:
    from modelops.ml.release_gates.plan import GatePlan

    old = make_plan()  # no min_slice_bads / goods / interval rule: as recorded before
    stored = old.to_dict()
    assert "min_slice_bads" not in stored and "fail_only_when_interval_excludes_limit" not in stored
    assert GatePlan.from_dict(stored).fingerprint() == old.fingerprint()
    new = make_plan(
        min_slice_bads=15, min_slice_goods=15, fail_only_when_interval_excludes_limit=False
    )
    assert GatePlan.from_dict(new.to_dict()) == new
    assert new.fingerprint() != old.fingerprint()


def test_the_score_psi_interval_brackets_the_psi_and_widens_on_a_small_holdout() -> None:
    from modelops.ml.drift import score_psi
    from modelops.ml.release_gates.intervals import psi_interval

    rng = np.random.default_rng(0)
    reference = rng.beta(2, 5, 5000)
    large, small = rng.beta(2, 5, 4000), rng.beta(2, 5, 300)
    wide, narrow = psi_interval(reference, small), psi_interval(reference, large)
    assert wide is not None and narrow is not None
    psi = score_psi(reference, large).psi
    assert narrow.low <= psi <= narrow.high
    assert wide.high - wide.low > narrow.high - narrow.low
    assert psi_interval(reference, small) == wide  # seeded
