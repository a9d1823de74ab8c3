"""The shared canvas: an off-screen figure, plain text for titles, PNG bytes out."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def figure(
    width: float = 7.0,
    height: float = 4.0,
    *,
    rows: int = 1,
    columns: int = 1,
    width_ratios: list[float] | None = None,
) -> tuple[Figure, list[Axes]]:
    """A figure and its axes (a flat list, row by row), drawn with the Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    canvas = Figure(figsize=(width, height), dpi=90)
    axes = canvas.subplots(rows, columns, squeeze=False, width_ratios=width_ratios)
    return canvas, [a for row in axes for a in row]


def plain(text: object) -> str:
    """Plot text: a '$' would switch matplotlib into math mode."""
    return str(text).replace("$", r"\$")


def legend_outside(axes: Axes) -> None:
    """The legend to the right of the axes: it never hides a curve or a bar."""
    if axes.get_legend_handles_labels()[0]:
        axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, fontsize=8)


def png(canvas: Figure) -> bytes:
    canvas.tight_layout()
    buffer = io.BytesIO()
    canvas.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()
