"""One production month compared with what the champion was trained on.

Per input: the fast engine's drift test on every row (Evidently's default tests) and its CSI;
for the score: PSI against the champion's own holdout scores; and Evidently's HTML report on a
sample, for the histograms. A month *breaches* when its inputs drifted as a dataset, the score
moved significantly or one input did (`ml.retraining.drift_breach`): the retraining sensor
counts breaches. Everything the comparison needs of the champion comes from its serving
bundle, written at training: nothing is refitted here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl
from pydantic import BaseModel, ConfigDict, JsonValue

from modelops.formatting import percent

if TYPE_CHECKING:
    from modelops.ml.drift import DriftResult
    from modelops.ml.serving_bundle import ServingBundle
    from modelops.spec import UseCaseSpec

DRIFT_FILE = "drift.json"


class MonthlyDrift(BaseModel):
    """What `monthly_drift` stores for a month (`drift.json`), and the histories read back."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    month: str
    model_version: str
    rows: int
    drifted_share: float
    dataset_drift: bool
    drifted_columns: list[str]
    score_psi: float | None
    score_psi_band: str | None
    max_csi: float | None
    max_csi_column: str | None
    breach: bool
    columns: dict[str, JsonValue] = {}
    """The engine's per-column results (`DriftResult.to_dict()`)."""
    note: str | None = None

    @classmethod
    def nothing_to_compare(cls, month: str, model_version: str) -> MonthlyDrift:
        """Every application was quarantined (e.g. an upstream feature broke): nothing to
        compare, which is itself the worst possible drift."""
        return cls(
            month=month,
            model_version=model_version,
            rows=0,
            drifted_share=1.0,
            dataset_drift=True,
            drifted_columns=[],
            score_psi=None,
            score_psi_band=None,
            max_csi=None,
            max_csi_column=None,
            breach=True,
            note=f"{month}: no valid application to compare; every row was "
            "quarantined (see production_quarantine)",
        )

    @classmethod
    def not_measured(cls, month: str, model_version: str, reason: str) -> MonthlyDrift:
        """The champion's bundle cannot be read (tampered, missing): there is no reference
        to compare with. Not a breach (retraining would not mend it); the month was answered
        with the fallback and the owners were alerted by the scoring step."""
        return cls(
            month=month,
            model_version=model_version,
            rows=0,
            drifted_share=0.0,
            dataset_drift=False,
            drifted_columns=[],
            score_psi=None,
            score_psi_band=None,
            max_csi=None,
            max_csi_column=None,
            breach=False,
            note=f"{month}: drift not measured: {reason}",
        )

    def headline(self) -> str:
        """One line with a bar of the drifted share, for the UI above the per-column table."""
        filled = round(self.drifted_share * 20)
        bar = "█" * filled + "░" * (20 - filled)
        psi = (
            f", score PSI {self.score_psi:.3f} ({self.score_psi_band})"
            if self.score_psi is not None
            else ""
        )
        return (
            f"**{self.month}** vs the training data of model {self.model_version}: "
            f"`{bar}` {percent(self.drifted_share, 0)} of features drifted{psi}"
        )

    def breach_reason(self) -> str:
        """Why the month breached, in a few words."""
        if self.note:
            return self.note.split("; ", 1)[-1]
        if self.max_csi is not None and self.max_csi >= 0.25:
            return f"largest CSI {self.max_csi:.2f} ({self.max_csi_column})"
        return f"{len(self.drifted_columns)} feature(s) drifted"


@dataclass(frozen=True, eq=False)
class MonthDriftMeasure:
    summary: MonthlyDrift
    result: DriftResult
    """The engine's per-column result, on every row."""
    report: DriftResult
    """Evidently's report on a sample, for its HTML."""


def measure_month_drift(
    bundle: ServingBundle,
    features: pl.DataFrame,
    scores: pl.Series,
    spec: UseCaseSpec,
    month: str,
) -> MonthDriftMeasure:
    """Compare a month's valid applications (`features`, at least one row) and their scores
    with the champion's training data."""
    from modelops.ml.drift import drift_report_for, score_psi
    from modelops.ml.retraining import drift_breach

    result = bundle.drift_reference.compare(
        features,
        stattest_threshold=spec.drift.stattest_threshold,
        drift_share=spec.drift.drift_share,
    )
    scored = scores.drop_nulls()
    stability = score_psi(bundle.reference_scores(spec), scored) if scored.len() else None
    inputs = [c for c in spec.model_inputs if features.get_column(c).null_count() < features.height]
    report = drift_report_for(
        spec, bundle.reference_sample.select(inputs), features.select(inputs), inputs=inputs
    )
    top_csi = max(result.features, key=lambda c: c.psi if c.psi == c.psi else -1.0)
    summary = MonthlyDrift(
        month=month,
        model_version=bundle.model_version,
        rows=features.height,
        drifted_share=result.drifted_share,
        dataset_drift=result.dataset_drift,
        drifted_columns=result.drifted_columns,
        score_psi=stability.psi if stability else None,
        score_psi_band=stability.band if stability else None,
        max_csi=top_csi.psi,
        max_csi_column=top_csi.column,
        breach=drift_breach(
            dataset_drift=result.dataset_drift,
            score_psi=stability.psi if stability else None,
            max_csi=top_csi.psi,
            drift=spec.drift,
        ),
        columns=result.to_dict(),
    )
    return MonthDriftMeasure(summary, result, report)
