"""Life after release: monthly production files, drift thresholds, freshness SLAs and the
signals that retrain a model."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from modelops.spec.allowances import allowances_in
from modelops.spec.base import SAFE_NAME_PATTERN, SpecModel
from modelops.spec.duration import Duration
from modelops.spec.incidents import Incidents, PerformanceAlerts
from modelops.spec.sources import Source


class Drift(SpecModel):
    """Thresholds of the drift report; per-feature tests follow Evidently's defaults."""

    drift_share: Annotated[float, Field(gt=0, le=1)] = 0.5
    stattest_threshold: Annotated[float, Field(gt=0, lt=1)] | None = None
    max_rows: Annotated[int, Field(ge=100)] = 50_000
    """Rows per side in Evidently's HTML report (the fast engine always uses every row)."""
    psi_breach: Annotated[float, Field(gt=0)] = 0.25
    """PSI of the score at which a month is a drift breach (0.25: 'significant shift')."""
    csi_breach: Annotated[float, Field(gt=0)] = 0.25
    """CSI of any single model input at which a month is a drift breach."""
    reference: Literal["training", "recent_production"] = "recent_production"
    """What a month is compared with: the champion's training data, or (when the champion was
    trained with labelled production months) the valid production months it was trained to
    cover: the valid (not quarantined) rows of the last `reference_months` scored months before
    its training, without incident months nobody released to teach. Rows flagged as outliers
    stay, as in the labelled production data: a new segment is unusual to the old model by
    definition. The second lets a shift the model has learned stop breaching; with no such
    months (or a model that does not learn from labelled production) it falls back to the
    training data."""
    reference_months: Annotated[int, Field(ge=1, le=24)] = 2


class Freshness(SpecModel):
    """How old the source data, the predictions and the model may get before the SLA is
    breached (and the owners are alerted)."""

    source_max_age: Duration = timedelta(days=31)
    model_max_age: Duration = timedelta(days=90)
    predictions_max_age: Duration = timedelta(days=35)


MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
SAMPLE_MONTH = "2000-01"
"""Stands for {month} when a monthly path is checked against the roots."""


class MonthlyFiles(SpecModel):
    """Files that land once a month: `path` contains `{month}` (YYYY-MM)."""

    path: Annotated[str, Field(min_length=1)]
    format: Literal["csv", "parquet"] | None = None

    @field_validator("path")
    @classmethod
    def _a_monthly_path_inside_the_roots(cls, path: str, info: ValidationInfo) -> str:
        if "{month}" not in path:
            raise ValueError("must contain {month}, e.g. data/production/{month}.parquet")
        try:
            sample = path.format(month=SAMPLE_MONTH)
        except (KeyError, IndexError, ValueError):
            raise ValueError(
                "{month} is the only placeholder a path may hold (write other braces as {{ and }})"
            ) from None
        refusal = allowances_in(info).path_refusal(sample, written=path)
        if refusal is not None:
            raise ValueError(refusal)
        return path

    def source_for(self, month: str, template: Source) -> Source:
        """The month's file as a `Source`, read like the training source (separator, nulls)."""
        return template.model_copy(
            update={"path": self.path.format(month=month), "bigquery": None, "format": self.format}
        )


class Retraining(SpecModel):
    """When a new model is trained without anyone asking, and how often at most."""

    drift_breaches: Annotated[int, Field(ge=1)] = 2
    """Retrain when the dataset drifted in this many of the last `drift_window` months..."""
    drift_window: Annotated[int, Field(ge=1)] = 3
    min_auc: Annotated[float, Field(gt=0, le=1)] | None = 0.65
    """...or when the realised AUC of a month falls below this floor..."""
    min_new_labelled_rows: Annotated[int, Field(ge=1)] | None = None
    """...or when this many newly labelled rows arrived since the last training..."""
    schedule: str | None = None
    """...or on this cron schedule (e.g. '0 4 1 */3 *', quarterly)."""
    cooldown: Duration = timedelta(hours=1)
    """At most one retraining per cooldown of wall-clock time, however many signals arrive
    (a guard against a storm of requests)."""
    cooldown_months: Annotated[int, Field(ge=0, le=24)] = 3
    """...and at most one per this many scored months (batches), counted on the partition
    calendar, so a replayed year and a real year retrain alike."""
    drift_only_from_population: bool = True
    """Months with a data incident never count as drift breaches (retraining does not mend a
    broken feed)."""
    window_months: Annotated[int, Field(ge=1, le=120)] = 12
    """Labelled production months added to the training data when retraining."""

    @model_validator(mode="after")
    def _window_fits(self) -> Retraining:
        if self.drift_breaches > self.drift_window:
            raise ValueError("'drift_breaches' cannot exceed 'drift_window'")
        return self


class Monitoring(SpecModel):
    """Production scoring and monitoring, one partition per calendar month (UTC)."""

    start_month: Annotated[str, Field(pattern=MONTH_PATTERN)]
    batches: MonthlyFiles
    labels: MonthlyFiles | None = None
    id_column: Annotated[str, Field(pattern=SAFE_NAME_PATTERN)] = "application_id"
    """Identifies an application in batches and labels (carried, never a model input)."""
    reason_codes: Annotated[int, Field(ge=1, le=10)] = 3
    outlier_threshold: Annotated[float, Field(gt=0)] = 6.0
    retraining: Retraining = Retraining()
    incidents: Incidents = Incidents()
    performance: PerformanceAlerts = PerformanceAlerts()
