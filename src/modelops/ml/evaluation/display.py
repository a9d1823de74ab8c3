"""The evaluation report shown to a reviewer: markdown for the Dagster UI and two PNG plots.

Kept apart from the report's computation: a report read back from `evaluation.json` renders
the same as the one just computed. Figures read with four decimals; matplotlib is imported
only when a plot is drawn.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from modelops.formatting import cell, number, pass_fail, percent, signed, table
from modelops.ml.evaluation.report import LOWER_IS_BETTER, METRIC_LABELS, EvaluationReport

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def evaluation_markdown(report: EvaluationReport) -> str:
    """A concise report for the Dagster UI; undefined metrics are shown as 'n/a'."""
    holdout = report.candidate
    bad_rate = holdout.positives / holdout.n if holdout.n else None
    lines = [
        f"# Evaluation of {cell(report.use_case)} model {cell(report.model_version)}",
        "",
        f"Holdout: {holdout.n} rows, {holdout.positives} positives "
        f"(bad rate {percent(bad_rate)}). Thresholds: **{_threshold_verdict(report)}**.",
        "",
        *_headline(report),
        "",
        *_thresholds(report),
        "",
        *_confusion(report),
        "",
        *_calibration(report),
    ]
    if report.segments:
        lines += ["", *_segments(report)]
    return "\n".join(lines) + "\n"


def roc_plot_png(report: EvaluationReport) -> bytes:
    """ROC curves of candidate, baseline (and champion) as a PNG image."""
    figure, axes = _figure()
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
    names = {
        "candidate": f"candidate {report.model_version}",
        "baseline": f"baseline {report.baseline_name}",
        "champion": f"champion {report.champion.version if report.champion else ''}",
    }
    for role, curve in report.roc_curves.items():
        if curve.fpr:
            label = f"{_plain(names.get(role, role))} (AUC {number(curve.auc)})"
            axes.plot(curve.fpr, curve.tpr, label=label)
    axes.set_xlabel("False positive rate")
    axes.set_ylabel("True positive rate")
    return _png(figure, axes, f"ROC - {_title(report)}", top=1.0, legend="lower right")


def calibration_plot_png(report: EvaluationReport) -> bytes:
    """Mean predicted vs observed bad rate per score bin of the candidate, as a PNG image."""
    predicted = [b.mean_predicted for b in report.calibration]
    observed = [b.observed_rate for b in report.calibration]
    top = min(1.0, max([*predicted, *observed, 0.01]) * 1.05)
    figure, axes = _figure()
    axes.plot([0, top], [0, top], linestyle="--", color="grey", label="perfect calibration")
    axes.plot(predicted, observed, marker="o", label="candidate")
    axes.set_xlabel("Mean predicted probability")
    axes.set_ylabel("Observed bad rate")
    return _png(figure, axes, f"Calibration - {_title(report)}", top=top, legend="upper left")


def _threshold_verdict(report: EvaluationReport) -> str:
    if not report.threshold_results:
        return "none configured"
    return "PASSED" if report.passed_thresholds else "FAILED"


def _headline(report: EvaluationReport) -> list[str]:
    champion = report.champion.metrics if report.champion is not None else None
    header = ["Metric", "Candidate", f"Baseline ({report.baseline_name})", "Δ baseline"]
    if report.champion is not None and champion is not None:
        header += [f"Champion ({report.champion.version})", "Δ champion"]
    deltas = {c.metric: c for c in report.comparison}
    rows = []
    for metric, label in METRIC_LABELS.items():
        compared = deltas.get(metric)
        row = [
            label + (" (lower is better)" if metric in LOWER_IS_BETTER else ""),
            number(getattr(report.candidate, metric)),
            number(getattr(report.baseline, metric)),
            signed(compared.vs_baseline) if compared else "",
        ]
        if champion is not None:
            row += [
                number(getattr(champion, metric)),
                signed(compared.vs_champion) if compared else "",
            ]
        rows.append(row)
    lines = ["## Headline metrics", "", *table(header, rows)]
    if report.champion is None:
        lines += ["", "No champion in production: nothing to compare against."]
    elif report.champion.error is not None:
        lines += [
            "",
            f"Champion {cell(report.champion.version)} could not be scored: "
            f"{cell(report.champion.error)}",
        ]
    return lines


def _thresholds(report: EvaluationReport) -> list[str]:
    if not report.threshold_results:
        return ["## Thresholds", "", "No acceptance threshold is configured."]
    rows = [
        [t.name, number(t.limit), number(t.actual), pass_fail(t.passed)]
        for t in report.threshold_results
    ]
    return ["## Thresholds", "", *table(["Threshold", "Limit", "Actual", "Result"], rows)]


def _confusion(report: EvaluationReport) -> list[str]:
    c = report.confusion
    return [
        f"## Confusion at threshold {c.threshold:g}",
        "",
        *table(
            ["", "Predicted bad (declined)", "Predicted good (approved)"],
            [["Actual bad", c.tp, c.fn], ["Actual good", c.fp, c.tn]],
        ),
        "",
        f"Precision {number(c.precision)}, recall {number(c.recall)}, "
        f"false positive rate {number(c.false_positive_rate)}, "
        f"accuracy {number(c.accuracy)}, approval rate {percent(c.approval_rate)}.",
    ]


def _calibration(report: EvaluationReport) -> list[str]:
    rows = [
        [
            i,
            f"{number(b.lower)} - {number(b.upper)}",
            b.count,
            number(b.mean_predicted),
            number(b.observed_rate),
        ]
        for i, b in enumerate(report.calibration, start=1)
    ]
    header = ["Bin", "Scores", "Count", "Mean predicted", "Observed rate"]
    return ["## Calibration", "", *table(header, rows)]


def _segments(report: EvaluationReport) -> list[str]:
    rows = [
        [
            s.column,
            s.value,
            s.n,
            s.positives,
            percent(s.bad_rate),
            number(s.mean_score),
            number(s.auc),
            percent(s.approval_rate),
        ]
        for s in report.segments
    ]
    header = ["Segment", "Value", "n", "Bads", "Bad rate", "Mean score", "AUC", "Approval"]
    return ["## Segments", "", *table(header, rows)]


def _figure() -> tuple[Figure, Axes]:
    """A square figure with one set of axes, drawn off-screen."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5, 5), dpi=100)
    return figure, figure.add_subplot()


def _title(report: EvaluationReport) -> str:
    return f"{_plain(report.use_case)} {_plain(report.model_version)}"


def _plain(text: str) -> str:
    """Plot text: a '$' would switch matplotlib into math mode."""
    return text.replace("$", r"\$")


def _png(figure: Figure, axes: Axes, title: str, *, top: float, legend: str) -> bytes:
    """The square plot from 0 to `top` on both axes, titled, as PNG bytes."""
    axes.set_xlim(0, top)
    axes.set_ylim(0, top)
    axes.set_title(title)
    axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, fontsize=8)
    del legend  # beside the axes, never on the curves
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()
