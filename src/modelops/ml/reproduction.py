"""Does a retrain from the recorded inputs give the same model?

Compared on the recorded holdout: the headline metrics against those recorded at release, and
every prediction against the registered model's, both within a stated tolerance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from modelops.ml.metrics import binary_metrics

COMPARED = ("auc", "gini", "ks", "brier")
DEFAULT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class MetricCheck:
    metric: str
    recorded: float | None
    """The figure recorded at release; None when it was not recorded (then never within)."""
    reproduced: float
    difference: float | None
    within_tolerance: bool


@dataclass(frozen=True)
class ReproductionReport:
    version: str
    tolerance: float
    """The largest difference accepted, for each metric and for each prediction."""
    metrics: tuple[MetricCheck, ...]
    max_prediction_difference: float
    rows: int
    """The holdout rows scored by both models."""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def predictions_match(self) -> bool:
        return self.max_prediction_difference <= self.tolerance

    @property
    def matches(self) -> bool:
        return self.predictions_match and all(m.within_tolerance for m in self.metrics)

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "matches": self.matches,
            "predictions_match": self.predictions_match,
        }

    def to_text(self) -> str:
        verdict = "REPRODUCED" if self.matches else "NOT REPRODUCED"
        lines = [
            f"version {self.version}: {verdict} within tolerance {self.tolerance:g}",
            f"  predictions on {self.rows} holdout rows: largest difference "
            f"{self.max_prediction_difference:.3g}",
        ]
        for m in self.metrics:
            recorded = "not recorded" if m.recorded is None else f"{m.recorded:.6f}"
            diff = "" if m.difference is None else f" (difference {m.difference:.3g})"
            mark = "ok" if m.within_tolerance else "DIFFERS"
            lines.append(
                f"  {m.metric:<6} recorded {recorded}, reproduced {m.reproduced:.6f}{diff} {mark}"
            )
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def compare_reproduction(
    *,
    version: str,
    labels: np.ndarray,
    original_scores: np.ndarray,
    reproduced_scores: np.ndarray,
    recorded_metrics: Mapping[str, float],
    tolerance: float = DEFAULT_TOLERANCE,
    notes: tuple[str, ...] = (),
) -> ReproductionReport:
    """`recorded_metrics` are the release figures by name (auc, gini, ks, brier)."""
    if len(original_scores) != len(reproduced_scores):
        raise ValueError("original and reproduced scores have different lengths")
    reproduced = binary_metrics(labels, reproduced_scores).as_dict()
    checks = []
    for metric in COMPARED:
        recorded = recorded_metrics.get(metric)
        difference = None if recorded is None else abs(reproduced[metric] - recorded)
        checks.append(
            MetricCheck(
                metric=metric,
                recorded=recorded,
                reproduced=float(reproduced[metric]),
                difference=difference,
                within_tolerance=difference is not None and difference <= tolerance,
            )
        )
    gap = np.abs(np.asarray(original_scores, float) - np.asarray(reproduced_scores, float))
    return ReproductionReport(
        version=version,
        tolerance=tolerance,
        metrics=tuple(checks),
        max_prediction_difference=float(gap.max()) if gap.size else 0.0,
        rows=len(labels),
        notes=notes,
    )
