"""Fairness where people look: per protected attribute, each group's decline rate, TPR and
FPR (groups too small to judge in grey), and the gaps between groups against the limits the
release allows."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from modelops.ml.fairness import AttributeFairness, FairnessReport
from modelops.ml.plots.canvas import figure, legend_outside, plain, png

if TYPE_CHECKING:
    from matplotlib.axes import Axes

RATES = (("selection_rate", "decline rate"), ("tpr", "TPR (bads declined)"),
         ("fpr", "FPR (goods declined)"))  # fmt: skip


def selection_rates_png(
    report: FairnessReport,
    *,
    max_parity_gap: float,
    title: str,
    max_odds_gap: float | None = None,
) -> bytes:
    """One row per attribute: its groups' rates, with the highest decline rate the parity
    limit allows above the lowest gated group; beside it the gaps against their limits."""
    attributes = list(report.attributes)
    rows = max(len(attributes), 1)
    canvas, axes = figure(10.0, 3.0 * rows, rows=rows, columns=2, width_ratios=[2.2, 1.0])
    for row, attribute in enumerate(attributes):
        rates, gaps = axes[2 * row], axes[2 * row + 1]
        _rates(rates, attribute, max_parity_gap)
        _gaps(gaps, attribute, max_parity_gap, max_odds_gap)
    if not attributes:
        axes[0].text(0.5, 0.5, "no protected attribute", ha="center")
        axes[1].set_visible(False)
    canvas.suptitle(plain(title), fontsize=10)
    return png(canvas)


def _rates(ax: Axes, attribute: AttributeFairness, max_parity_gap: float) -> None:
    from matplotlib.patches import Patch

    groups = list(attribute.groups)
    x = np.arange(len(groups))
    width = 0.8 / len(RATES)
    handles = []
    for offset, (field, label) in enumerate(RATES):
        values = [getattr(g, field) for g in groups]
        heights = [np.nan if v is None else v for v in values]
        colours = [f"C{offset}" if g.gated else "lightgrey" for g in groups]
        ax.bar(x + (offset - 1) * width, heights, width=width, color=colours)
        handles.append(Patch(color=f"C{offset}", label=label))
    handles.append(Patch(color="lightgrey", label="group too small to judge"))
    gated = [g.selection_rate for g in groups if g.gated]
    if gated:
        limit = min(gated) + max_parity_gap
        handles.append(ax.axhline(limit, linestyle="--", color="tab:red",
                                  label=f"parity limit: lowest + {max_parity_gap:g}"))  # fmt: skip
    ax.set_xticks(x, [f"{plain(g.group)[:22]} (n={g.n})" for g in groups], rotation=20,
                  ha="right", fontsize=7)  # fmt: skip
    ax.set_ylim(0, 1)
    ax.set_title(f"{plain(attribute.attribute)}: rates per group", fontsize=9)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0,
              fontsize=8)  # fmt: skip


def _gaps(
    ax: Axes, attribute: AttributeFairness, max_parity_gap: float, max_odds_gap: float | None
) -> None:
    gaps = [
        ("parity gap", attribute.demographic_parity_difference, max_parity_gap),
        ("odds gap", attribute.equalized_odds_difference, max_odds_gap),
    ]
    y = np.arange(len(gaps))
    values = [np.nan if v is None else v for _, v, _ in gaps]
    over = [v is not None and limit is not None and v > limit for _, v, limit in gaps]
    ax.barh(
        y, values, color=["tab:red" if o else "tab:green" for o in over], label="gap (red: over)"
    )
    limits = [(i, limit) for i, (_, _, limit) in enumerate(gaps) if limit is not None]
    if limits:
        ax.vlines([limit for _, limit in limits], [i - 0.45 for i, _ in limits],
                  [i + 0.45 for i, _ in limits], color="black", linewidth=2, label="limit",
                  zorder=3)  # fmt: skip
    ax.set_yticks(y, [name for name, _, _ in gaps], fontsize=8)
    top = max([0.1, *[v for v in values if v == v], *[limit for _, limit in limits]])
    ax.set_xlim(0, top * 1.15)
    ax.set_title("gaps between gated groups", fontsize=9)
    legend_outside(ax)
