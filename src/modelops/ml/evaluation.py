"""Evaluation report of a candidate model on the holdout, against a baseline and the champion.

The report gathers everything a reviewer needs to approve a release: headline metrics next to
a simple baseline and the model in production, the use case's pass/fail thresholds, the
confusion matrix at the operating threshold, calibration and per-segment results. It keeps
only aggregates (the ROC curves are downsampled), so it can be stored and rendered later
without the raw scores.
"""

from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from modelops.ml.metrics import (
    BinaryMetrics,
    CalibrationBin,
    Confusion,
    binary_metrics,
    calibration_table,
    confusion_at,
    roc_auc,
    roc_points,
)

ROC_MAX_POINTS = 200
"""Points kept per ROC curve: enough for a smooth plot, small enough for asset metadata."""

COMPARED_METRICS: tuple[str, ...] = ("auc", "gini", "ks", "brier")
"""Metrics whose differences (candidate minus other) the comparison section reports."""

LOWER_IS_BETTER = frozenset({"brier", "log_loss"})

MISSING_CATEGORY = "(missing)"
"""Segment value shown for null categories, so they form a visible segment of their own."""

_METRIC_LABELS = {
    "auc": "AUC",
    "gini": "Gini",
    "ks": "KS",
    "brier": "Brier",
    "pr_auc": "PR-AUC",
    "log_loss": "Log loss",
}


@dataclass(frozen=True, eq=False)
class ChampionScores:
    """The production model's holdout scores, or why they could not be computed.

    A champion that failed to load or score still belongs in the report (with its error), so
    a reviewer sees that the comparison is missing rather than silently skipped.
    """

    version: str
    scores: np.ndarray | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        if (self.scores is None) == (self.error is None):
            raise ValueError("a champion has either scores or an error, exactly one of them")


@dataclass(frozen=True)
class ChampionResult:
    """The champion's metrics, or the error that prevented scoring it."""

    version: str
    metrics: BinaryMetrics | None
    error: str | None


@dataclass(frozen=True)
class SegmentMetrics:
    """Candidate results on the rows of one value of one segment column."""

    column: str
    value: str
    n: int
    positives: int
    bad_rate: float
    mean_score: float
    auc: float
    approval_rate: float


@dataclass(frozen=True)
class ThresholdResult:
    """One configured acceptance threshold checked against the candidate's metrics."""

    name: str
    limit: float
    actual: float
    passed: bool


@dataclass(frozen=True)
class MetricComparison:
    """Candidate minus baseline (and minus champion when it was scored) for one metric."""

    metric: str
    candidate: float
    baseline: float
    champion: float | None
    vs_baseline: float
    vs_champion: float | None
    higher_is_better: bool


@dataclass(frozen=True)
class RocCurve:
    """A downsampled ROC curve; empty when the labels hold a single class."""

    fpr: tuple[float, ...]
    tpr: tuple[float, ...]
    auc: float


@dataclass(frozen=True)
class EvaluationReport:
    """Everything the release review needs about a candidate, as aggregates only."""

    use_case: str
    model_version: str
    baseline_name: str
    threshold: float
    candidate: BinaryMetrics
    baseline: BinaryMetrics
    champion: ChampionResult | None
    confusion: Confusion
    calibration: tuple[CalibrationBin, ...]
    segments: tuple[SegmentMetrics, ...]
    threshold_results: tuple[ThresholdResult, ...]
    comparison: tuple[MetricComparison, ...]
    roc_curves: dict[str, RocCurve] = field(default_factory=dict)

    @property
    def passed_thresholds(self) -> bool:
        """True when every configured threshold passed (vacuously true when none is set)."""
        return all(result.passed for result in self.threshold_results)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable view of the report; `nan` (undefined metrics) becomes None."""
        confusion = asdict(self.confusion)
        confusion.update(
            precision=self.confusion.precision,
            recall=self.confusion.recall,
            false_positive_rate=self.confusion.false_positive_rate,
            accuracy=self.confusion.accuracy,
            approval_rate=self.confusion.approval_rate,
        )
        data: dict[str, Any] = {
            "use_case": self.use_case,
            "model_version": self.model_version,
            "baseline_name": self.baseline_name,
            "threshold": self.threshold,
            "passed_thresholds": self.passed_thresholds,
            "candidate": self.candidate.as_dict(),
            "baseline": self.baseline.as_dict(),
            "champion": asdict(self.champion) if self.champion is not None else None,
            "confusion": confusion,
            "calibration": [asdict(b) for b in self.calibration],
            "segments": [asdict(s) for s in self.segments],
            "thresholds": [asdict(t) for t in self.threshold_results],
            "comparison": [asdict(c) for c in self.comparison],
            "roc_curves": {name: asdict(curve) for name, curve in self.roc_curves.items()},
        }
        return _jsonable(data)

    def to_markdown(self) -> str:
        """A concise report for the Dagster UI; undefined metrics are shown as 'n/a'."""
        lines = [
            f"# Evaluation of {_cell(self.use_case)} model {_cell(self.model_version)}",
            "",
            f"Holdout: {self.candidate.n} rows, {self.candidate.positives} positives "
            f"(bad rate {_pct(_rate(self.candidate.positives, self.candidate.n))}). "
            f"Thresholds: **{self._threshold_verdict()}**.",
            "",
            *self._headline_markdown(),
            "",
            *self._thresholds_markdown(),
            "",
            *self._confusion_markdown(),
            "",
            *self._calibration_markdown(),
        ]
        if self.segments:
            lines += ["", *self._segments_markdown()]
        return "\n".join(lines) + "\n"

    def roc_plot_png(self) -> bytes:
        """ROC curves of candidate, baseline (and champion) as a PNG image."""
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure

        figure = Figure(figsize=(5, 5), dpi=100)
        axes = figure.add_subplot()
        axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
        names = {
            "candidate": f"candidate {self.model_version}",
            "baseline": f"baseline {self.baseline_name}",
            "champion": f"champion {self._champion_version()}",
        }
        for role, curve in self.roc_curves.items():
            if curve.fpr:
                label = f"{_plain(names.get(role, role))} (AUC {_num(curve.auc)})"
                axes.plot(curve.fpr, curve.tpr, label=label)
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1)
        axes.set_xlabel("False positive rate")
        axes.set_ylabel("True positive rate")
        axes.set_title(f"ROC - {_plain(self.use_case)} {_plain(self.model_version)}")
        axes.legend(loc="lower right")
        return _png(figure)

    def calibration_plot_png(self) -> bytes:
        """Mean predicted vs observed bad rate per score bin of the candidate, as a PNG image."""
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure

        predicted = [b.mean_predicted for b in self.calibration]
        observed = [b.observed_rate for b in self.calibration]
        top = min(1.0, max([*predicted, *observed, 0.01]) * 1.05)
        figure = Figure(figsize=(5, 5), dpi=100)
        axes = figure.add_subplot()
        axes.plot([0, top], [0, top], linestyle="--", color="grey", label="perfect calibration")
        axes.plot(predicted, observed, marker="o", label="candidate")
        axes.set_xlim(0, top)
        axes.set_ylim(0, top)
        axes.set_xlabel("Mean predicted probability")
        axes.set_ylabel("Observed bad rate")
        axes.set_title(f"Calibration - {_plain(self.use_case)} {_plain(self.model_version)}")
        axes.legend(loc="upper left")
        return _png(figure)

    def _threshold_verdict(self) -> str:
        if not self.threshold_results:
            return "none configured"
        return "PASSED" if self.passed_thresholds else "FAILED"

    def _champion_metrics(self) -> BinaryMetrics | None:
        return self.champion.metrics if self.champion is not None else None

    def _champion_version(self) -> str:
        return self.champion.version if self.champion is not None else ""

    def _headline_markdown(self) -> list[str]:
        champion = self._champion_metrics()
        header = ["Metric", "Candidate", f"Baseline ({_cell(self.baseline_name)})", "Δ baseline"]
        if champion is not None:
            header += [f"Champion ({_cell(self._champion_version())})", "Δ champion"]
        deltas = {c.metric: c for c in self.comparison}
        rows = []
        for metric, label in _METRIC_LABELS.items():
            compared = deltas.get(metric)
            row = [
                label + (" (lower is better)" if metric in LOWER_IS_BETTER else ""),
                _num(getattr(self.candidate, metric)),
                _num(getattr(self.baseline, metric)),
                _delta(compared.vs_baseline) if compared else "",
            ]
            if champion is not None:
                row += [
                    _num(getattr(champion, metric)),
                    _delta(compared.vs_champion) if compared else "",
                ]
            rows.append(row)
        lines = ["## Headline metrics", "", *_table(header, rows)]
        if self.champion is None:
            lines += ["", "No champion in production: nothing to compare against."]
        elif self.champion.error is not None:
            lines += [
                "",
                f"Champion {_cell(self.champion.version)} could not be scored: "
                f"{_cell(self.champion.error)}",
            ]
        return lines

    def _thresholds_markdown(self) -> list[str]:
        if not self.threshold_results:
            return ["## Thresholds", "", "No acceptance threshold is configured."]
        rows = [
            [t.name, _num(t.limit), _num(t.actual), "PASS" if t.passed else "FAIL"]
            for t in self.threshold_results
        ]
        return ["## Thresholds", "", *_table(["Threshold", "Limit", "Actual", "Result"], rows)]

    def _confusion_markdown(self) -> list[str]:
        c = self.confusion
        return [
            f"## Confusion at threshold {c.threshold:g}",
            "",
            *_table(
                ["", "Predicted bad (declined)", "Predicted good (approved)"],
                [["Actual bad", str(c.tp), str(c.fn)], ["Actual good", str(c.fp), str(c.tn)]],
            ),
            "",
            f"Precision {_num(c.precision)}, recall {_num(c.recall)}, "
            f"false positive rate {_num(c.false_positive_rate)}, "
            f"accuracy {_num(c.accuracy)}, approval rate {_pct(c.approval_rate)}.",
        ]

    def _calibration_markdown(self) -> list[str]:
        rows = [
            [
                str(i),
                f"{_num(b.lower)} - {_num(b.upper)}",
                str(b.count),
                _num(b.mean_predicted),
                _num(b.observed_rate),
            ]
            for i, b in enumerate(self.calibration, start=1)
        ]
        header = ["Bin", "Scores", "Count", "Mean predicted", "Observed rate"]
        return ["## Calibration", "", *_table(header, rows)]

    def _segments_markdown(self) -> list[str]:
        rows = [
            [
                _cell(s.column),
                _cell(s.value),
                str(s.n),
                str(s.positives),
                _pct(s.bad_rate),
                _num(s.mean_score),
                _num(s.auc),
                _pct(s.approval_rate),
            ]
            for s in self.segments
        ]
        header = ["Segment", "Value", "n", "Bads", "Bad rate", "Mean score", "AUC", "Approval"]
        return ["## Segments", "", *_table(header, rows)]


def build_evaluation_report(
    *,
    use_case: str,
    model_version: str,
    labels: np.ndarray,
    candidate_scores: np.ndarray,
    baseline_scores: np.ndarray,
    baseline_name: str,
    champion: ChampionScores | None,
    segments: dict[str, np.ndarray],
    threshold: float,
    calibration_bins: int,
    thresholds: dict[str, float | None],
) -> EvaluationReport:
    """Evaluate the candidate on the holdout against the baseline and the champion.

    `thresholds` maps names such as "min_auc" or "max_brier" (a "min_"/"max_" prefix and a
    `BinaryMetrics` field) to a limit, None meaning not set; an unknown name raises so a typo
    cannot silently disable a check. A threshold whose metric is undefined (nan) fails.
    """
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"labels must be a 1-D array, got shape {y.shape}")
    n = y.size
    _check_length("candidate_scores", candidate_scores, n)
    _check_length("baseline_scores", baseline_scores, n)
    if champion is not None and champion.scores is not None:
        _check_length(f"champion {champion.version} scores", champion.scores, n)
    for column, values in segments.items():
        _check_length(f"segment '{column}'", values, n)

    candidate = binary_metrics(y, candidate_scores)
    baseline = binary_metrics(y, baseline_scores)
    champion_result = _champion_result(y, champion)
    champion_metrics = champion_result.metrics if champion_result is not None else None

    curves = {
        "candidate": _roc(y, candidate_scores, candidate.auc),
        "baseline": _roc(y, baseline_scores, baseline.auc),
    }
    if champion is not None and champion.scores is not None and champion_metrics is not None:
        curves["champion"] = _roc(y, champion.scores, champion_metrics.auc)

    return EvaluationReport(
        use_case=use_case,
        model_version=model_version,
        baseline_name=baseline_name,
        threshold=float(threshold),
        candidate=candidate,
        baseline=baseline,
        champion=champion_result,
        confusion=confusion_at(y, candidate_scores, threshold),
        calibration=tuple(calibration_table(y, candidate_scores, calibration_bins)),
        segments=_segment_metrics(y, np.asarray(candidate_scores, float), segments, threshold),
        threshold_results=_check_thresholds(candidate, thresholds),
        comparison=_compare(candidate, baseline, champion_metrics),
        roc_curves=curves,
    )


def _check_length(name: str, values: np.ndarray, n: int) -> None:
    """Misaligned arrays would silently mix rows up: refuse them with a precise message."""
    shape = np.shape(values)
    if shape != (n,):
        raise ValueError(f"{name} must hold one value per label, shape ({n},); got {shape}")


def _champion_result(y: np.ndarray, champion: ChampionScores | None) -> ChampionResult | None:
    if champion is None:
        return None
    if champion.scores is None:
        return ChampionResult(version=champion.version, metrics=None, error=champion.error)
    return ChampionResult(
        version=champion.version, metrics=binary_metrics(y, champion.scores), error=None
    )


def _roc(y: np.ndarray, scores: np.ndarray, auc: float) -> RocCurve:
    fpr, tpr = roc_points(y, scores, max_points=ROC_MAX_POINTS)
    return RocCurve(fpr=tuple(fpr.tolist()), tpr=tuple(tpr.tolist()), auc=auc)


def _category_labels(values: np.ndarray) -> np.ndarray:
    """Segment values as strings; nulls (None, NaN) become one explicit missing category."""

    def label(value: object) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return MISSING_CATEGORY
        return str(value)

    return np.array([label(v) for v in np.asarray(values, dtype=object)], dtype=object)


def _segment_metrics(
    y: np.ndarray, scores: np.ndarray, segments: dict[str, np.ndarray], threshold: float
) -> tuple[SegmentMetrics, ...]:
    results: list[SegmentMetrics] = []
    for column in sorted(segments):
        categories = _category_labels(segments[column])
        for value in sorted(set(categories.tolist())):
            mask = categories == value
            seg_y, seg_p = y[mask], scores[mask]
            positives = int(seg_y.sum())
            results.append(
                SegmentMetrics(
                    column=column,
                    value=value,
                    n=int(seg_y.size),
                    positives=positives,
                    bad_rate=positives / seg_y.size,
                    mean_score=float(seg_p.mean()),
                    auc=roc_auc(seg_y, seg_p),
                    approval_rate=float(np.mean(seg_p < threshold)),
                )
            )
    return tuple(results)


def _parse_threshold_name(name: str) -> tuple[str, str]:
    """Split 'min_auc' into ('min', 'auc'), refusing names that would check nothing."""
    direction, _, metric = name.partition("_")
    if direction not in ("min", "max") or metric not in _METRIC_LABELS:
        known = ", ".join(f"min_{m}/max_{m}" for m in _METRIC_LABELS)
        raise ValueError(f"unknown threshold {name!r}; expected one of {known}")
    return direction, metric


def _check_thresholds(
    metrics: BinaryMetrics, thresholds: dict[str, float | None]
) -> tuple[ThresholdResult, ...]:
    results: list[ThresholdResult] = []
    for name, limit in thresholds.items():
        direction, metric = _parse_threshold_name(name)
        if limit is None:
            continue
        actual = float(getattr(metrics, metric))
        # A nan actual compares False either way: an undefined metric never passes.
        passed = actual >= limit if direction == "min" else actual <= limit
        results.append(
            ThresholdResult(name=name, limit=float(limit), actual=actual, passed=bool(passed))
        )
    return tuple(results)


def _compare(
    candidate: BinaryMetrics, baseline: BinaryMetrics, champion: BinaryMetrics | None
) -> tuple[MetricComparison, ...]:
    comparisons = []
    for metric in COMPARED_METRICS:
        ours = float(getattr(candidate, metric))
        theirs = float(getattr(baseline, metric))
        champ = float(getattr(champion, metric)) if champion is not None else None
        comparisons.append(
            MetricComparison(
                metric=metric,
                candidate=ours,
                baseline=theirs,
                champion=champ,
                vs_baseline=ours - theirs,
                vs_champion=ours - champ if champ is not None else None,
                higher_is_better=metric not in LOWER_IS_BETTER,
            )
        )
    return tuple(comparisons)


def _jsonable(value: Any) -> Any:
    """Replace nan/inf with None and numpy scalars with Python ones, recursively."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    return value


def _rate(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else math.nan


def _num(value: float | None) -> str:
    """Four decimals; undefined (nan) or absent values read 'n/a'."""
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:.4f}"


def _delta(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:+.4f}"


def _pct(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1%}"


def _cell(text: str) -> str:
    """Make data-derived text (segment values, error messages) inert inside a markdown table."""
    replacements = {c: "\\" + c for c in "\\|`*[]"}
    escaped = "".join(replacements.get(char, char) for char in text)
    escaped = escaped.replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(escaped.split())


def _plain(text: str) -> str:
    """Plot labels: a '$' would switch matplotlib into math mode."""
    return text.replace("$", r"\$")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()
