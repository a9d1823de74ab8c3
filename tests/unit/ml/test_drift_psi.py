"""Tests for PSI (`modelops.ml.drift.psi`): the score's stability index against hand-computed
values, and its bands."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from modelops.ml.drift import psi, psi_band, score_psi
from modelops.ml.drift.psi import PSI_BANDS_TEXT, bin_counts, quantile_edges


def test_score_psi_on_hand_computed_bins() -> None:
    # reference 1..10, 5 bins: edges at positions 1.8, 3.6, 5.4, 7.2 -> 2.8, 4.6, 6.4, 8.2,
    # two values (20 %) per bin; current: {1,1,1,1,2} {3} {5} {7} {9,10}
    result = score_psi(np.arange(1.0, 11.0), [1, 1, 1, 1, 2, 3, 5, 7, 9, 10], bins=5)

    expected = 0.3 * math.log(0.5 / 0.2) + 3 * (0.1 - 0.2) * math.log(0.1 / 0.2)
    assert result.edges.tolist() == pytest.approx([2.8, 4.6, 6.4, 8.2])
    assert result.reference_share.tolist() == pytest.approx([0.2] * 5)
    assert result.current_share.tolist() == pytest.approx([0.5, 0.1, 0.1, 0.1, 0.2])
    assert result.psi == pytest.approx(expected)  # 0.4828
    assert result.band == "significant"


def test_score_psi_gives_empty_bins_epsilon_and_identical_scores_zero() -> None:
    everything_low = score_psi(np.arange(1.0, 11.0), [1.0] * 10, bins=5)
    same = score_psi(np.arange(1.0, 11.0), np.arange(1.0, 11.0), bins=5)

    eps = 1e-4  # the documented share given to an empty bin
    expected = (1 - 0.2) * math.log(1 / 0.2) + 4 * (eps - 0.2) * math.log(eps / 0.2)
    assert everything_low.psi == pytest.approx(expected)
    assert same.psi == 0.0 and same.band == "stable"
    with pytest.raises(ValueError, match="NaN"):
        score_psi([0.1, 0.2], [0.1, float("nan")])


def test_psi_bands() -> None:
    assert [psi_band(v) for v in (0.0, 0.0999, 0.1, 0.25, 0.2501)] == [
        "stable", "stable", "moderate", "moderate", "significant",
    ]  # fmt: skip


def test_psi_of_one_sided_and_empty_bins() -> None:
    eps = 1e-4
    assert psi(np.array([0.5, 0.5, 0.0]), np.array([0.5, 0.5, 0.0])) == 0.0  # empty on both
    assert psi(np.array([1.0, 0.0]), np.array([0.9, 0.1])) == pytest.approx(
        -0.1 * math.log(0.9) + (0.1 - eps) * math.log(0.1 / eps)
    )


def test_score_psi_takes_series_and_rejects_bad_input() -> None:
    reference = pl.Series("score", np.linspace(0.0, 1.0, 101))
    current = pl.Series("score", np.linspace(0.2, 1.0, 81))

    result = score_psi(reference, current, bins=4)

    assert result.edges.tolist() == pytest.approx([0.25, 0.5, 0.75])
    assert result.current_share.sum() == pytest.approx(1.0)
    assert result.band == psi_band(result.psi)
    with pytest.raises(ValueError, match="bins must be at least 2"):
        score_psi(reference, current, bins=1)
    with pytest.raises(ValueError, match="non-empty"):
        score_psi([], current)
    with pytest.raises(ValueError, match="nulls"):
        score_psi(reference, pl.Series([0.1, None]))


def test_bins_are_right_closed_and_ties_merge_edges() -> None:
    values = np.array([1.0, 1.0, 1.0, 1.0, 2.0, 3.0])

    edges = quantile_edges(values, 4)  # quartiles 1, 1, 1.5 (and 2.75 at 3/4)

    assert edges.tolist() == pytest.approx([1.0, 1.75])
    # (-inf, 1], (1, 1.75], (1.75, inf), here from distinct values and their counts
    assert bin_counts(np.array([1.0, 2.0, 3.0]), np.array([4, 1, 1]), edges).tolist() == [
        4.0, 0.0, 2.0,
    ]  # fmt: skip


def test_bands_as_reports_state_them() -> None:
    assert PSI_BANDS_TEXT == "< 0.1 stable, 0.1–0.25 moderate, > 0.25 significant"
