"""The evaluation of a candidate on the holdout, against a simple baseline and the champion."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from modelops.ml.evaluation.report import (
    LOWER_IS_BETTER,
    METRIC_LABELS,
    ChampionResult,
    EvaluationReport,
    MetricComparison,
    RocCurve,
    SegmentMetrics,
    ThresholdResult,
)
from modelops.ml.metrics import (
    BinaryMetrics,
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

MISSING_CATEGORY = "(missing)"
"""Segment value (and fairness group) shown for nulls, so they form a visible one of their own."""


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


def category_labels(values: np.ndarray) -> np.ndarray:
    """Category values as strings; nulls (None, NaN) become one explicit missing category."""

    def label(value: object) -> str:
        if value is None or (isinstance(value, float | np.floating) and math.isnan(value)):
            return MISSING_CATEGORY
        return str(value)

    return np.array([label(v) for v in np.asarray(values, dtype=object)], dtype=object)


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


def _segment_metrics(
    y: np.ndarray, scores: np.ndarray, segments: dict[str, np.ndarray], threshold: float
) -> tuple[SegmentMetrics, ...]:
    results: list[SegmentMetrics] = []
    for column in sorted(segments):
        categories = category_labels(segments[column])
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
    if direction not in ("min", "max") or metric not in METRIC_LABELS:
        known = ", ".join(f"min_{m}/max_{m}" for m in METRIC_LABELS)
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
