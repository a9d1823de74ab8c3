"""Drift where people look: each most-moved input's reference against the month (histograms
for numbers, shares for categories); over the months, score PSI and largest CSI, and the
distribution of the scores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from modelops.ml.plots.canvas import figure, legend_outside, plain, png


def feature_shift_png(
    reference: pl.DataFrame,
    current: pl.DataFrame,
    columns: Sequence[str],
    *,
    title: str,
    sides: tuple[str, str] = ("reference", "month"),
) -> bytes:
    """Reference against current for each of `columns` (at most 4 are drawn); `sides` names
    the two in the legend."""
    shown = [c for c in columns if c in reference.columns and c in current.columns][:4]
    canvas, axes = figure(7.0, 2.4 * max(len(shown), 1), rows=max(len(shown), 1))
    for ax, column in zip(axes, shown, strict=False):
        ref, cur = reference.get_column(column), current.get_column(column)
        if ref.dtype.is_numeric() and cur.dtype.is_numeric():
            values = [s.cast(pl.Float64).drop_nulls().drop_nans().to_numpy() for s in (ref, cur)]
            both = np.concatenate(values) if any(v.size for v in values) else np.zeros(1)
            low, high = np.quantile(both, [0.005, 0.995]) if both.size else (0.0, 1.0)
            bins = np.linspace(low, high if high > low else low + 1, 30)
            for data, label in zip(values, sides, strict=True):
                ax.hist(np.clip(data, low, high), bins=bins, density=True, alpha=0.5, label=label)
        else:
            shares = [s.cast(pl.String).fill_null("(missing)").value_counts(normalize=True)
                      for s in (ref, cur)]  # fmt: skip
            names = sorted(set(shares[0].to_series(0)) | set(shares[1].to_series(0)))[:12]
            positions = np.arange(len(names))
            for offset, (table, label) in enumerate(zip(shares, sides, strict=True)):
                lookup = dict(table.iter_rows())
                heights = [lookup.get(n, 0.0) for n in names]
                ax.bar(positions + (offset - 0.5) * 0.4, heights, width=0.4, label=label)
            ax.set_xticks(positions, [plain(n)[:18] for n in names], rotation=30, ha="right",
                          fontsize=7)  # fmt: skip
        ax.set_title(plain(column), fontsize=9)
        legend_outside(ax)
    if not shown:
        axes[0].text(0.5, 0.5, "no input to compare", ha="center")
    canvas.suptitle(plain(title), fontsize=10)
    return png(canvas)


def drift_over_months_png(
    months: Sequence[str],
    score_psi: Sequence[float | None],
    max_csi: Sequence[float | None],
    *,
    psi_breach: float,
    csi_breach: float,
    title: str,
) -> bytes:
    """Score PSI and the largest input CSI per month, with the lines at which a month
    breaches."""
    canvas, (ax,) = figure(7.5, 3.2)
    x = np.arange(len(months))
    for values, label in ((score_psi, "score PSI"), (max_csi, "largest input CSI")):
        y = np.array([np.nan if v is None else v for v in values], dtype=float)
        ax.plot(x, y, marker="o", label=label)
    ax.axhline(psi_breach, linestyle="--", color="grey", label=f"PSI breach {psi_breach:g}")
    if csi_breach != psi_breach:
        ax.axhline(csi_breach, linestyle=":", color="grey", label=f"CSI breach {csi_breach:g}")
    ax.set_xticks(x, [plain(m) for m in months], rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("PSI / CSI")
    ax.set_title(plain(title), fontsize=10)
    legend_outside(ax)
    return png(canvas)


def score_distribution_png(
    scores_by_month: Mapping[str, np.ndarray], *, reference: np.ndarray | None, title: str
) -> bytes:
    """Each month's scores as a box (quartiles, median, whiskers at the 5th and 95th
    percentiles), beside the champion's reference scores when given."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    labelled = ([("reference", reference)] if reference is not None else []) + [
        (month, values) for month, values in scores_by_month.items()
    ]
    shown = [(m, v[np.isfinite(v)]) for m, v in labelled if v.size]
    canvas, (ax,) = figure(7.5, 3.2)
    if shown:
        boxes = ax.boxplot(
            [v for _, v in shown], whis=(5, 95), showfliers=False, patch_artist=True,
            medianprops={"color": "black"},
        )  # fmt: skip
        for box, (name, _) in zip(boxes["boxes"], shown, strict=True):
            box.set_facecolor("lightgrey" if name == "reference" else "tab:blue")
            box.set_alpha(0.6)
        ax.set_xticks(range(1, len(shown) + 1), [plain(m) for m, _ in shown], rotation=45,
                      ha="right", fontsize=8)  # fmt: skip
        ax.legend(
            handles=[
                Patch(facecolor="lightgrey", label="reference (training)"),
                Patch(facecolor="tab:blue", alpha=0.6, label="month: quartiles"),
                Line2D([], [], color="black", label="median"),
                Line2D([], [], color="grey", label="5th-95th percentile"),
            ][(0 if reference is not None else 1) :],
            loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, fontsize=8,
        )  # fmt: skip
    else:
        ax.text(0.5, 0.5, "no scored month", ha="center")
    ax.set_ylabel("score (probability of bad)")
    ax.set_title(plain(title), fontsize=10)
    return png(canvas)
