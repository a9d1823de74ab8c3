"""Evaluation report of a candidate model on the holdout, against a baseline and the champion.

The report gathers everything a reviewer needs to approve a release: headline metrics next to
a simple baseline and the model in production, the use case's pass/fail thresholds, the
confusion matrix at the operating threshold, calibration and per-segment results.

- `report`: what the report holds, and its JSON both ways (the release gates read it back);
- `build`: computing it from the holdout's labels and scores;
- `display`: its markdown (its ROC and calibration plots: `ml/plots/evaluation_plots.py`).

The package exports what the pipeline and the release steps use; the report's parts and the
constants are imported from the modules.
"""

from modelops.ml.evaluation.build import ChampionScores, build_evaluation_report, category_labels
from modelops.ml.evaluation.display import evaluation_markdown
from modelops.ml.evaluation.report import EvaluationReport
from modelops.ml.plots.evaluation_plots import calibration_plot_png, roc_plot_png

__all__ = [
    "ChampionScores",
    "EvaluationReport",
    "build_evaluation_report",
    "calibration_plot_png",
    "category_labels",
    "evaluation_markdown",
    "roc_plot_png",
]
