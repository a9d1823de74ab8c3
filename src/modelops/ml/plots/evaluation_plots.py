"""The evaluation report's plots: ROC curves and calibration of a candidate, square, with the
legend beside the axes so it never hides a curve."""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelops.formatting import number
from modelops.ml.plots.canvas import figure, legend_outside, plain, png

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from modelops.ml.evaluation.report import EvaluationReport


def roc_plot_png(report: EvaluationReport) -> bytes:
    """ROC curves of candidate, baseline (and champion) as a PNG image."""
    canvas, (axes,) = figure(6.2, 4.2)
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
    names = {
        "candidate": f"candidate {report.model_version}",
        "baseline": f"baseline {report.baseline_name}",
        "champion": f"champion {report.champion.version if report.champion else ''}",
    }
    for role, curve in report.roc_curves.items():
        if curve.fpr:
            label = f"{plain(names.get(role, role))} (AUC {number(curve.auc)})"
            axes.plot(curve.fpr, curve.tpr, label=label)
    axes.set_xlabel("False positive rate")
    axes.set_ylabel("True positive rate")
    return _square(canvas, axes, f"ROC - {_title(report)}", top=1.0)


def calibration_plot_png(report: EvaluationReport) -> bytes:
    """Mean predicted vs observed bad rate per score bin of the candidate, as a PNG image."""
    predicted = [b.mean_predicted for b in report.calibration]
    observed = [b.observed_rate for b in report.calibration]
    top = min(1.0, max([*predicted, *observed, 0.01]) * 1.05)
    canvas, (axes,) = figure(6.2, 4.2)
    axes.plot([0, top], [0, top], linestyle="--", color="grey", label="perfect calibration")
    axes.plot(predicted, observed, marker="o", label=f"candidate {plain(report.model_version)}")
    axes.set_xlabel("Mean predicted probability")
    axes.set_ylabel("Observed bad rate")
    return _square(canvas, axes, f"Calibration - {_title(report)}", top=top)


def _title(report: EvaluationReport) -> str:
    return f"{plain(report.use_case)} {plain(report.model_version)}"


def _square(canvas: Figure, axes: Axes, title: str, *, top: float) -> bytes:
    """From 0 to `top` on both axes, equal scales, titled, legend to the right."""
    axes.set_xlim(0, top)
    axes.set_ylim(0, top)
    axes.set_aspect("equal")
    axes.set_title(title, fontsize=10)
    legend_outside(axes)
    return png(canvas)
