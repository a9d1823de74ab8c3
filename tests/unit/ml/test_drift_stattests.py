"""Tests for Evidently's default tests as the engine computes them
(`modelops.ml.drift.stattests`), against scipy and Evidently's rules."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import spatial, stats

from modelops.ml.drift import stattests
from modelops.ml.drift.stattests import (
    METHOD_CHI_SQUARE,
    METHOD_JENSEN_SHANNON,
    METHOD_KS,
    METHOD_WASSERSTEIN,
    METHOD_Z,
    choose_method,
    count_test,
    is_drifted,
    numeric_score,
    threshold_for,
)
from modelops.ml.drift.summaries import compress


def test_wasserstein_matches_scipy_across_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny blocks force every carry-over path: ties, one side past the other, unequal sizes."""
    monkeypatch.setattr(stattests, "_BLOCK", 7)
    rng = np.random.default_rng(0)
    cases = [
        (rng.normal(size=300), rng.normal(0.3, 1.2, size=170)),
        (rng.integers(0, 20, 400).astype(float), rng.integers(5, 30, 90).astype(float)),
        (rng.normal(size=100), rng.normal(50.0, 1.0, size=260)),  # disjoint supports
        (rng.normal(size=5), rng.normal(size=3)),
    ]
    for ref, cur in cases:
        ref_values, ref_counts = compress(np.sort(ref))
        cur_values, cur_counts = compress(np.sort(cur))
        ours = stattests.wasserstein(ref_values, ref_counts, cur_values, cur_counts)
        assert ours == pytest.approx(stats.wasserstein_distance(ref, cur), rel=1e-12)


def test_choice_follows_reference_size_and_distinct_values() -> None:
    assert choose_method("numeric", 1000, 6) == METHOD_KS
    assert choose_method("numeric", 1000, 5) == METHOD_CHI_SQUARE
    assert choose_method("numeric", 1000, 2) == METHOD_Z
    assert choose_method("categorical", 1000, 40) == METHOD_CHI_SQUARE
    assert choose_method("categorical", 1000, 2) == METHOD_Z
    assert choose_method("numeric", 1001, 6) == METHOD_WASSERSTEIN
    assert choose_method("numeric", 1001, 5) == METHOD_JENSEN_SHANNON
    assert choose_method("categorical", 1001, 40) == METHOD_JENSEN_SHANNON


def test_thresholds_and_verdicts() -> None:
    assert threshold_for(METHOD_KS, None) == 0.05
    assert threshold_for(METHOD_WASSERSTEIN, None) == 0.1
    assert threshold_for(METHOD_Z, 0.3) == 0.3
    assert is_drifted(METHOD_KS, 0.05, 0.05)  # K-S: <=
    assert not is_drifted(METHOD_CHI_SQUARE, 0.05, 0.05)  # chi-square and Z: <
    assert not is_drifted(METHOD_Z, 0.05, 0.05)
    assert is_drifted(METHOD_JENSEN_SHANNON, 0.1, 0.1)  # distances: >=


def test_count_tests_match_scipy() -> None:
    ref, cur = np.array([50, 30, 20, 0]), np.array([20, 30, 40, 10])

    js = count_test(METHOD_JENSEN_SHANNON, ref, cur)
    chi = count_test(METHOD_CHI_SQUARE, ref[:3], cur[:3])

    assert js == pytest.approx(spatial.distance.jensenshannon(ref / 100, cur / 100))
    expected = stats.chisquare(cur[:3], ref[:3] * cur[:3].sum() / ref[:3].sum())
    assert chi == pytest.approx(expected.pvalue)
    assert count_test(METHOD_CHI_SQUARE, ref, cur) == 0.0  # a category new to the current side
    assert count_test(METHOD_Z, np.array([7]), np.array([3])) == 1.0  # one value on both sides
    with pytest.raises(AssertionError):
        count_test(METHOD_KS, ref, cur)


def test_z_test_is_the_two_proportion_test() -> None:
    ref, cur = np.array([60, 40]), np.array([45, 55])
    p1, p2 = 0.4, 0.55
    pooled = (40 + 55) / 200
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / 100 + 1 / 100))

    assert count_test(METHOD_Z, ref, cur) == pytest.approx(2 * stats.norm.sf(abs(z)))


def test_numeric_scores_from_summaries_match_the_raw_values() -> None:
    rng = np.random.default_rng(1)
    ref, cur = rng.integers(0, 40, 300).astype(float), rng.integers(3, 45, 200).astype(float)
    ref_summary, cur_summary = compress(np.sort(ref)), compress(np.sort(cur))

    ks = numeric_score(METHOD_KS, ref_summary, cur_summary, float(np.std(ref)))
    normed = numeric_score(METHOD_WASSERSTEIN, ref_summary, cur_summary, float(np.std(ref)))
    constant = numeric_score(METHOD_WASSERSTEIN, ref_summary, cur_summary, 0.0)

    assert ks == pytest.approx(stats.ks_2samp(ref, cur).pvalue)
    distance = stats.wasserstein_distance(ref, cur)
    assert normed == pytest.approx(distance / np.std(ref))
    assert constant == pytest.approx(distance / 0.001)  # the norm never falls below 0.001
