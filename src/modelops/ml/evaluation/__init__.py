"""Evaluation report of a candidate model on the holdout, against a baseline and the champion.

The report gathers everything a reviewer needs to approve a release: headline metrics next to
a simple baseline and the model in production, the use case's pass/fail thresholds, the
confusion matrix at the operating threshold, calibration and per-segment results.

- `report`: what the report holds, and its JSON both ways (the release gates read it back);
- `build`: computing it from the holdout's labels and scores;
- `display`: its markdown and its ROC and calibration plots.
"""

from modelops.ml.evaluation.build import (
    COMPARED_METRICS,
    MISSING_CATEGORY,
    ROC_MAX_POINTS,
    ChampionScores,
    build_evaluation_report,
    category_labels,
)
from modelops.ml.evaluation.display import (
    calibration_plot_png,
    evaluation_markdown,
    roc_plot_png,
)
from modelops.ml.evaluation.report import (
    LOWER_IS_BETTER,
    ChampionResult,
    EvaluationReport,
    MetricComparison,
    RocCurve,
    SegmentMetrics,
    ThresholdResult,
)

__all__ = [
    "COMPARED_METRICS",
    "LOWER_IS_BETTER",
    "MISSING_CATEGORY",
    "ROC_MAX_POINTS",
    "ChampionResult",
    "ChampionScores",
    "EvaluationReport",
    "MetricComparison",
    "RocCurve",
    "SegmentMetrics",
    "ThresholdResult",
    "build_evaluation_report",
    "calibration_plot_png",
    "category_labels",
    "evaluation_markdown",
    "roc_plot_png",
]
