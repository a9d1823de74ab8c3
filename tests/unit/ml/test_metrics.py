"""Metrics checked against values computed by hand on tiny arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import ks_2samp

from modelops.ml.metrics import (
    BinaryMetrics,
    binary_metrics,
    brier_score,
    calibration_table,
    confusion_at,
    gini,
    ks_statistic,
    log_loss,
    pr_auc,
    roc_auc,
    roc_points,
)

# The reference example used throughout.
# Sorted by score (descending): 0.8 (bad), 0.4 (good), 0.35 (bad), 0.1 (good).
Y = np.array([0, 0, 1, 1])
P = np.array([0.1, 0.4, 0.35, 0.8])


def test_auc_and_gini_by_hand() -> None:
    # (bad, good) pairs ranked correctly: 0.35>0.1 yes, 0.35>0.4 no, 0.8>0.1 yes, 0.8>0.4 yes
    # -> AUC = 3/4 = 0.75 and Gini = 2 * 0.75 - 1 = 0.5
    assert roc_auc(Y, P) == pytest.approx(0.75)
    assert gini(Y, P) == pytest.approx(0.5)


def test_auc_counts_ties_as_half() -> None:
    # bads {0.5, 0.9}, goods {0.5, 0.2}: 0.5 vs 0.5 tie = 0.5, the 3 other pairs win
    # -> AUC = (0.5 + 3) / 4 = 0.875
    assert roc_auc(np.array([0, 1, 0, 1]), np.array([0.5, 0.5, 0.2, 0.9])) == pytest.approx(0.875)


def test_ks_by_hand() -> None:
    # threshold >=0.8: TPR 1/2, FPR 0   -> 0.5
    # threshold >=0.4: TPR 1/2, FPR 1/2 -> 0
    # threshold >=0.35: TPR 1, FPR 1/2  -> 0.5
    # threshold >=0.1: TPR 1, FPR 1     -> 0
    assert ks_statistic(Y, P) == pytest.approx(0.5)


def test_ks_asymmetric_example_by_hand() -> None:
    # Sorted: 0.9 bad, 0.6 good, 0.3 bad, 0.2 good, 0.1 good (2 bads, 3 goods)
    # >=0.9: 1/2 - 0 = 0.5; >=0.6: 1/2 - 1/3; >=0.3: 1 - 1/3 = 2/3; >=0.2: 1 - 2/3; >=0.1: 0
    y = np.array([0, 0, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.6, 0.3, 0.9])
    assert ks_statistic(y, p) == pytest.approx(2 / 3)


def test_ks_is_a_distance_so_inverted_scores_give_the_same_value() -> None:
    assert ks_statistic(1 - Y, P) == pytest.approx(ks_statistic(Y, P))
    assert roc_auc(1 - Y, P) == pytest.approx(0.25)


def test_ks_matches_the_two_sample_ks_test_and_auc_matches_pair_counting() -> None:
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 300)
    p = np.round(np.clip(0.25 * y + rng.uniform(0, 0.75, 300), 0, 1), 1)  # many ties
    expected_ks = ks_2samp(p[y == 1], p[y == 0]).statistic
    assert ks_statistic(y, p) == pytest.approx(expected_ks)
    bads, goods = p[y == 1][:, None], p[y == 0][None, :]
    expected_auc = ((bads > goods).sum() + 0.5 * (bads == goods).sum()) / (bads.size * goods.size)
    assert roc_auc(y, p) == pytest.approx(expected_auc)


def test_brier_by_hand() -> None:
    # (0.1-0)^2 + (0.4-0)^2 + (0.35-1)^2 + (0.8-1)^2 = 0.01 + 0.16 + 0.4225 + 0.04 = 0.6325
    # / 4 = 0.158125
    assert brier_score(Y, P) == pytest.approx(0.158125)


def test_pr_auc_by_hand() -> None:
    # Walking down the scores: 0.8 bad -> precision 1, recall 1/2; 0.4 good (recall unchanged);
    # 0.35 bad -> precision 2/3, recall 1. AP = 1/2 * 1 + 1/2 * 2/3 = 5/6
    assert pr_auc(Y, P) == pytest.approx(5 / 6)


def test_log_loss_by_hand() -> None:
    # -(ln(1-0.1) + ln(1-0.4) + ln(0.35) + ln(0.8)) / 4
    expected = -(math.log(0.9) + math.log(0.6) + math.log(0.35) + math.log(0.8)) / 4
    assert log_loss(Y, P) == pytest.approx(expected)
    assert log_loss(Y, P) == pytest.approx(0.472288, abs=1e-6)


def test_log_loss_clips_confident_mistakes_to_a_finite_loss() -> None:
    # p = 0 for a bad is clipped to 1e-15: loss = -ln(1e-15) = 15 ln 10 ~ 34.54
    assert log_loss(np.array([1]), np.array([0.0])) == pytest.approx(15 * math.log(10))
    # p = 1 for a good: 1 - (1 - 1e-15) is 1e-15 up to float rounding near 1
    assert log_loss(np.array([0]), np.array([1.0])) == pytest.approx(15 * math.log(10), rel=1e-2)


@pytest.mark.parametrize("label", [0, 1])
def test_single_class_gives_nan_ranking_metrics_but_defined_probability_metrics(
    label: int,
) -> None:
    y = np.full(4, label)
    assert math.isnan(roc_auc(y, P))
    assert math.isnan(gini(y, P))
    assert math.isnan(ks_statistic(y, P))
    assert math.isnan(pr_auc(y, P))
    assert brier_score(y, P) == pytest.approx(np.mean((P - label) ** 2))
    metrics = binary_metrics(y, P)
    assert math.isnan(metrics.auc) and math.isnan(metrics.ks) and math.isnan(metrics.pr_auc)
    assert math.isfinite(metrics.brier) and math.isfinite(metrics.log_loss)
    assert metrics.positives == 4 * label


def test_binary_metrics_gathers_the_individual_metrics() -> None:
    metrics = binary_metrics(Y, P)
    assert isinstance(metrics, BinaryMetrics)
    assert metrics.n == 4
    assert metrics.positives == 2
    assert metrics.auc == pytest.approx(0.75)
    assert metrics.gini == pytest.approx(0.5)
    assert metrics.ks == pytest.approx(0.5)
    assert metrics.brier == pytest.approx(0.158125)
    assert metrics.pr_auc == pytest.approx(5 / 6)
    assert metrics.log_loss == pytest.approx(log_loss(Y, P))
    as_dict = metrics.as_dict()
    assert set(as_dict) == {"n", "positives", "auc", "gini", "ks", "brier", "pr_auc", "log_loss"}
    assert as_dict["auc"] == metrics.auc


def test_confusion_counts_by_hand() -> None:
    # p >= 0.35 is predicted bad: 0.4 (good) -> FP, 0.35 and 0.8 (bads) -> TP, 0.1 -> TN
    c = confusion_at(Y, P, 0.35)
    assert (c.tp, c.fp, c.tn, c.fn) == (2, 1, 1, 0)
    assert c.precision == pytest.approx(2 / 3)
    assert c.recall == pytest.approx(1.0)
    assert c.false_positive_rate == pytest.approx(0.5)
    assert c.accuracy == pytest.approx(3 / 4)
    assert c.approval_rate == pytest.approx(1 / 4)
    assert c.threshold == 0.35


def test_confusion_threshold_is_inclusive() -> None:
    # Just above 0.35, the bad scored 0.35 is approved: it becomes a false negative.
    c = confusion_at(Y, P, 0.3500001)
    assert (c.tp, c.fp, c.tn, c.fn) == (1, 1, 1, 1)
    assert c.approval_rate == pytest.approx(0.5)


def test_confusion_rates_with_zero_denominator_are_nan() -> None:
    c = confusion_at(Y, P, 0.95)  # nothing is declined
    assert (c.tp, c.fp, c.tn, c.fn) == (0, 0, 2, 2)
    assert math.isnan(c.precision)
    assert c.recall == 0.0
    assert c.approval_rate == 1.0


def test_calibration_bins_never_split_ties_nor_come_out_empty() -> None:
    # Four scores tie at 0.2: the first cut (after 2 rows) would split them, so it moves to the
    # end of the tie (after 4 rows); the second cut lands there too and is merged.
    # Bin 1: 0.2 x4, labels 0,0,1,0 -> mean predicted 0.2, observed 1/4
    # Bin 2: 0.5, 0.9, labels 1,1   -> mean predicted 0.7, observed 1
    y = np.array([0, 0, 1, 0, 1, 1])
    p = np.array([0.2, 0.2, 0.2, 0.2, 0.5, 0.9])
    table = calibration_table(y, p, 3)
    assert [(b.lower, b.upper, b.count) for b in table] == [(0.2, 0.2, 4), (0.5, 0.9, 2)]
    assert table[0].mean_predicted == pytest.approx(0.2)
    assert table[0].observed_rate == pytest.approx(0.25)
    assert table[1].mean_predicted == pytest.approx(0.7)
    assert table[1].observed_rate == pytest.approx(1.0)


def test_calibration_bins_are_equal_frequency_without_ties() -> None:
    # 10 distinct scores, 5 bins -> 2 rows per bin, in score order
    p = np.arange(10) / 10
    y = np.array([0, 0, 0, 1, 0, 1, 1, 1, 1, 1])
    table = calibration_table(y, p, 5)
    assert [b.count for b in table] == [2, 2, 2, 2, 2]
    assert [b.lower for b in table] == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8])
    assert [b.upper for b in table] == pytest.approx([0.1, 0.3, 0.5, 0.7, 0.9])
    assert [b.observed_rate for b in table] == pytest.approx([0.0, 0.5, 0.5, 1.0, 1.0])
    assert [b.mean_predicted for b in table] == pytest.approx([0.05, 0.25, 0.45, 0.65, 0.85])


@pytest.mark.parametrize(
    ("p", "bins", "expected_counts"),
    [
        ([0.0, 1.0], 4, [1, 1]),  # more bins than rows: one row per bin, none empty
        ([0.3, 0.3, 0.3], 5, [3]),  # a constant score is one bin
        ([0.1, 0.1, 0.1, 0.9], 2, [3, 1]),  # the median falls inside the tie
    ],
)
def test_calibration_bins_on_degenerate_scores(
    p: list[float], bins: int, expected_counts: list[int]
) -> None:
    y = np.zeros(len(p), dtype=int)
    table = calibration_table(y, np.array(p), bins)
    assert [b.count for b in table] == expected_counts


def test_calibration_rejects_zero_bins() -> None:
    with pytest.raises(ValueError, match="bins"):
        calibration_table(Y, P, 0)


def test_roc_points_are_downsampled_and_keep_the_end_points() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 5000)
    p = np.clip(0.2 * y + rng.uniform(0, 0.8, 5000), 0, 1)
    fpr, tpr = roc_points(y, p, max_points=200)
    assert 2 <= fpr.size <= 200
    assert fpr.size == tpr.size
    assert (fpr[0], tpr[0]) == (0.0, 0.0)
    assert (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)


def test_roc_points_of_the_reference_example() -> None:
    # Vertices: (0,0), (0,1/2) after 0.8, (1/2,1/2) after 0.4, (1/2,1) after 0.35, (1,1)
    fpr, tpr = roc_points(Y, P)
    assert fpr.tolist() == pytest.approx([0.0, 0.0, 0.5, 0.5, 1.0])
    assert tpr.tolist() == pytest.approx([0.0, 0.5, 0.5, 1.0, 1.0])


def test_roc_points_are_empty_on_a_single_class() -> None:
    fpr, tpr = roc_points(np.zeros(4, dtype=int), P)
    assert fpr.size == 0 and tpr.size == 0


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        ([0, 1], [0.5], "differ in length"),
        ([], [], "empty"),
        ([0, 2], [0.1, 0.2], "0 or 1"),
        ([0, 1], [0.1, float("nan")], "finite"),
        ([0, 1], [0.1, 1.2], r"\[0, 1\]"),
        ([[0, 1]], [[0.1, 0.2]], "1-D"),
    ],
)
def test_invalid_inputs_are_refused(y: list, p: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        binary_metrics(np.array(y), np.array(p))
