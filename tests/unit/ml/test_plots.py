"""The plots people look at: real PNGs of a sane size, legends beside the axes (never over a
curve), user text shown as text."""

from __future__ import annotations

import numpy as np
import polars as pl

from modelops.ml.fairness import fairness_report
from modelops.ml.plots.canvas import figure, legend_outside
from modelops.ml.plots.drift_plots import drift_over_months_png, feature_shift_png
from modelops.ml.plots.fairness_plots import selection_rates_png

PNG = b"\x89PNG\r\n\x1a\n"


def _is_png(data: bytes) -> bool:
    return data.startswith(PNG) and 5_000 < len(data) < 400_000


def test_the_most_moved_inputs_compare_reference_and_month() -> None:
    rng = np.random.default_rng(0)
    reference = pl.DataFrame(
        {"amount": rng.normal(3000, 800, 2000), "purpose": rng.choice(["car", "tv"], 2000)}
    )
    month = pl.DataFrame(
        {"amount": rng.normal(3, 1, 500), "purpose": rng.choice(["car", "$vacation$"], 500)}
    )
    assert _is_png(feature_shift_png(reference, month, ["amount", "purpose"], title="2025-04"))
    assert _is_png(feature_shift_png(reference, month, [], title="nothing"))


def test_drift_over_months_draws_missing_months_as_gaps() -> None:
    png = drift_over_months_png(
        ["2025-01", "2025-02", "2025-03"],
        [0.01, None, 0.4],
        [0.02, 0.3, 0.9],
        psi_breach=0.25,
        csi_breach=0.25,
        title="german_credit",
    )
    assert _is_png(png)


def test_decline_rates_per_group_with_the_allowed_gap() -> None:
    rng = np.random.default_rng(1)
    groups = rng.choice(["a", "b", "c"], 900, p=[0.5, 0.48, 0.02])
    report = fairness_report(
        rng.integers(0, 2, 900),
        rng.random(900),
        {"sex": groups},
        threshold=0.5,
        min_group_size=30,
        min_outcome_count=5,
    )
    assert _is_png(selection_rates_png(report, max_parity_gap=0.1, title="v1"))


def test_the_legend_sits_beside_the_axes() -> None:
    canvas, (axes,) = figure()
    axes.plot([0, 1], [0, 1], label="a curve")
    legend_outside(axes)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(canvas).get_renderer()
    legend = axes.get_legend().get_window_extent(renderer)
    assert legend.x0 >= axes.get_window_extent(renderer).x1
