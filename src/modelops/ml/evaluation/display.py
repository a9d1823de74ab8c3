"""The evaluation report shown to a reviewer: markdown for the Dagster UI (its ROC and
calibration plots are drawn by `ml/plots/evaluation_plots.py`).

Kept apart from the report's computation: a report read back from `evaluation.json` renders
the same as the one just computed. Figures read with four decimals.
"""

from __future__ import annotations

from modelops.formatting import cell, number, pass_fail, percent, signed, table
from modelops.ml.evaluation.report import LOWER_IS_BETTER, METRIC_LABELS, EvaluationReport


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
