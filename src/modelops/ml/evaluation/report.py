"""What the evaluation report holds, and its stored JSON (`evaluation.json`) both ways.

Only aggregates (the ROC curves are downsampled), so the report can be stored and rendered or
gated later without the raw scores. Undefined metrics (one class only) are NaN in the report
and null in the JSON; reading the JSON back turns them into NaN again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar, get_type_hints

import numpy as np
from pydantic import JsonValue

from modelops.ml.metrics import BinaryMetrics, CalibrationBin, Confusion

LOWER_IS_BETTER = frozenset({"brier", "log_loss"})

METRIC_LABELS = {
    "auc": "AUC",
    "gini": "Gini",
    "ks": "KS",
    "brier": "Brier",
    "pr_auc": "PR-AUC",
    "log_loss": "Log loss",
}
"""The `BinaryMetrics` a report shows and a threshold may name, with their display labels."""


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

    def to_dict(self) -> dict[str, JsonValue]:
        """JSON-serialisable view of the report; `nan` (undefined metrics) becomes None."""
        confusion = asdict(self.confusion)
        confusion.update(
            precision=self.confusion.precision,
            recall=self.confusion.recall,
            false_positive_rate=self.confusion.false_positive_rate,
            accuracy=self.confusion.accuracy,
            approval_rate=self.confusion.approval_rate,
        )
        data = {
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
        return {key: _jsonable(value) for key, value in data.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvaluationReport:
        """The report `to_dict` stored, read back; a missing key raises (a damaged report).

        Derived figures (`passed_thresholds`, the confusion's rates) are recomputed, not read.
        A champion figure that was undefined reads back as None, like a champion not scored.
        """
        return cls(
            use_case=str(data["use_case"]),
            model_version=str(data["model_version"]),
            baseline_name=str(data["baseline_name"]),
            threshold=float(data["threshold"]),
            candidate=_restore(BinaryMetrics, data["candidate"]),
            baseline=_restore(BinaryMetrics, data["baseline"]),
            champion=_champion(data["champion"]),
            confusion=_restore(Confusion, data["confusion"]),
            calibration=tuple(_restore(CalibrationBin, b) for b in data["calibration"]),
            segments=tuple(_restore(SegmentMetrics, s) for s in data["segments"]),
            threshold_results=tuple(_restore(ThresholdResult, t) for t in data["thresholds"]),
            comparison=tuple(_restore(MetricComparison, c) for c in data["comparison"]),
            roc_curves={
                name: _restore(RocCurve, curve) for name, curve in data["roc_curves"].items()
            },
        )


Record = TypeVar("Record")


def _champion(data: Mapping[str, Any] | None) -> ChampionResult | None:
    if data is None:
        return None
    metrics = data["metrics"]
    return ChampionResult(
        version=str(data["version"]),
        metrics=None if metrics is None else _restore(BinaryMetrics, metrics),
        error=data["error"],
    )


def _restore(kind: type[Record], data: Mapping[str, Any]) -> Record:
    """One record of `to_dict` as its dataclass again: a null float was NaN, a list a tuple.
    Keys that are not fields (a confusion's rates) are derived and left out."""
    types = get_type_hints(kind)
    values: dict[str, object] = {}
    for item in fields(kind):
        value = data[item.name]
        if types[item.name] is float:
            value = math.nan if value is None else float(value)
        elif types[item.name] is int:
            value = int(value)
        elif isinstance(value, list):
            value = tuple(value)
        values[item.name] = value
    return kind(**values)


def _jsonable(value: object) -> JsonValue:
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
