"""Fairness where people look: each group's decline rate per protected attribute, with the
largest gap the release allows drawn from the lowest gated group's rate."""

from __future__ import annotations

import numpy as np

from modelops.ml.fairness import FairnessReport
from modelops.ml.plots.canvas import figure, legend_outside, plain, png


def selection_rates_png(report: FairnessReport, *, max_parity_gap: float, title: str) -> bytes:
    attributes = list(report.attributes) or []
    canvas, axes = figure(7.5, 2.6 * max(len(attributes), 1), rows=max(len(attributes), 1))
    for ax, attribute in zip(axes, attributes, strict=False):
        groups = list(attribute.groups)
        x = np.arange(len(groups))
        colours = ["tab:blue" if g.gated else "lightgrey" for g in groups]
        ax.bar(x, [g.selection_rate for g in groups], color=colours, label="decline rate")
        gated = [g.selection_rate for g in groups if g.gated]
        if gated:
            ax.axhline(min(gated) + max_parity_gap, linestyle="--", color="tab:red",
                       label=f"lowest + allowed gap {max_parity_gap:g}")  # fmt: skip
        ax.set_xticks(x, [f"{plain(g.group)[:16]}\n(n={g.n})" for g in groups], fontsize=7)
        ax.set_ylim(0, 1)
        ax.set_title(plain(attribute.attribute) + " (grey: too few to judge)", fontsize=9)
        legend_outside(ax)
    if not attributes:
        axes[0].text(0.5, 0.5, "no protected attribute", ha="center")
    canvas.suptitle(plain(title), fontsize=10)
    return png(canvas)
