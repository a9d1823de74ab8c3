"""The plots people look at: real PNGs of a sane size (small enough to embed in the UI),
legends beside the axes (never over a curve or a bar), user text shown as text."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl
import pytest

from modelops.defs.plot_metadata import MAX_EMBEDDED_BYTES
from modelops.ml.evaluation import build_evaluation_report
from modelops.ml.fairness import fairness_report
from modelops.ml.plots import drift_plots, evaluation_plots, fairness_plots
from modelops.ml.plots.canvas import png as real_png

PNG = b"\x89PNG\r\n\x1a\n"
RNG = np.random.default_rng(0)


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list:
    """Every figure the plot functions turn into PNG bytes, kept to look at its layout."""
    figures = []

    def keep(canvas):
        figures.append(canvas)
        return real_png(canvas)

    for module in (drift_plots, evaluation_plots, fairness_plots):
        monkeypatch.setattr(module, "png", keep)
    return figures


def _evaluation_report():
    labels = RNG.integers(0, 2, 600)
    scores = np.clip(labels * 0.3 + RNG.random(600) * 0.7, 0, 1)
    return build_evaluation_report(
        use_case="uc$",
        model_version="3",
        labels=labels,
        candidate_scores=scores,
        baseline_scores=RNG.random(600),
        baseline_name="DummyClassifier",
        champion=None,
        segments={},
        threshold=0.5,
        calibration_bins=10,
        thresholds={},
    )


def _fairness_report():
    return fairness_report(
        RNG.integers(0, 2, 900),
        RNG.random(900),
        {"sex": RNG.choice(["a", "b", "c"], 900, p=[0.5, 0.48, 0.02])},
        threshold=0.5,
        min_group_size=30,
        min_outcome_count=5,
    )


PLOTS: dict[str, Callable[[], bytes]] = {
    "feature shift": lambda: drift_plots.feature_shift_png(
        pl.DataFrame({"amount": RNG.normal(3000, 800, 2000), "purpose": ["car", "tv"] * 1000}),
        pl.DataFrame({"amount": RNG.normal(3, 1, 500), "purpose": ["car", "$vac$"] * 250}),
        ["amount", "purpose"],
        title="2025-04",
    ),
    "PSI and CSI over months": lambda: drift_plots.drift_over_months_png(
        ["2025-01", "2025-02", "2025-03"],
        [0.01, None, 0.4],
        [0.02, 0.3, 0.9],
        psi_breach=0.25,
        csi_breach=0.2,
        title="german_credit",
    ),
    "scores by month": lambda: drift_plots.score_distribution_png(
        {"2025-01": RNG.beta(2, 5, 3000), "2025-02": RNG.beta(2, 3, 3000)},
        reference=RNG.beta(2, 5, 3000),
        title="german_credit",
    ),
    "fairness": lambda: fairness_plots.selection_rates_png(
        _fairness_report(), max_parity_gap=0.1, max_odds_gap=0.15, title="v1"
    ),
    "ROC": lambda: evaluation_plots.roc_plot_png(_evaluation_report()),
    "calibration": lambda: evaluation_plots.calibration_plot_png(_evaluation_report()),
}


@pytest.mark.parametrize("name", PLOTS)
def test_each_plot_is_a_small_png_with_its_legends_beside_the_axes(name: str, drawn) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    image = PLOTS[name]()
    assert image.startswith(PNG) and 5_000 < len(image) < MAX_EMBEDDED_BYTES
    (canvas,) = drawn
    renderer = FigureCanvasAgg(canvas).get_renderer()
    legends = [a for a in canvas.axes if a.get_legend() is not None]
    assert legends, f"{name}: no legend"
    for axes in legends:
        legend = axes.get_legend().get_window_extent(renderer)
        frame = axes.get_window_extent(renderer)
        assert legend.x0 >= frame.x1, f"{name}: the legend overlaps the axes"


def test_empty_inputs_still_draw_a_plot_that_says_so() -> None:
    empty = drift_plots.feature_shift_png(pl.DataFrame(), pl.DataFrame(), [], title="nothing")
    assert empty.startswith(PNG)
    assert drift_plots.score_distribution_png({}, reference=None, title="none").startswith(PNG)


def test_a_drifted_month_draws_a_different_picture_than_a_stable_one() -> None:
    reference = pl.DataFrame({"amount": RNG.normal(3000, 800, 2000)})
    stable = pl.DataFrame({"amount": RNG.normal(3000, 800, 500)})
    moved = pl.DataFrame({"amount": RNG.normal(6000, 800, 500)})
    draw = drift_plots.feature_shift_png
    assert draw(reference, stable, ["amount"], title="m") != draw(
        reference, moved, ["amount"], title="m"
    )
