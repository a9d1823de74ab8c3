"""The monitoring histories: every scored month's drift and every labelled vintage's
realised performance, as the sensors, the history assets and the demo read them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import polars as pl

from modelops.ml.incident_record import INCIDENTS_FILE, RELEASE_FILE, MonthIncidents, Release
from modelops.ml.monthly_drift import DRIFT_FILE, MonthlyDrift
from modelops.ml.realised_performance import PERFORMANCE_FILE, RealisedPerformance
from modelops.names import DATA_INCIDENTS, INCIDENT_RELEASE, MONTHLY_DRIFT, PERFORMANCE, monthly
from modelops.spec import UseCaseSpec
from modelops.spec.calendar import ended_months

if TYPE_CHECKING:
    from modelops.resources.storage import ArtifactStore

DRIFT_HISTORY_SCHEMA = {
    "month": pl.String,
    "model_version": pl.String,
    "rows": pl.Int64,
    "drifted_share": pl.Float64,
    "dataset_drift": pl.Boolean,
    "score_psi": pl.Float64,
    "max_csi": pl.Float64,
    "breach": pl.Boolean,
    "drifted_columns": pl.String,
}
PERFORMANCE_HISTORY_SCHEMA = {
    "month": pl.String,
    "model_version": pl.String,
    "labelled_rows": pl.Int64,
    "auc": pl.Float64,
    "gini": pl.Float64,
    "ks": pl.Float64,
    "release_auc": pl.Float64,
}


def stored_months(
    store: ArtifactStore, spec: UseCaseSpec, asset: str, now: datetime | None = None
) -> list[str]:
    """Months of the spec's calendar for which `asset` has a published version."""
    assert spec.monitoring is not None
    months = ended_months(spec.monitoring.start_month, now)
    return [m for m in months if store.current_version(spec.id, monthly(asset, m)) is not None]


def _current(store: ArtifactStore, spec: UseCaseSpec, asset: str, month: str, file: str) -> bytes:
    name = monthly(asset, month)
    return store.read_bytes(spec.id, name, store.require_current(spec.id, name), file)


def monthly_drift(store: ArtifactStore, spec: UseCaseSpec, month: str) -> MonthlyDrift:
    return MonthlyDrift.model_validate_json(_current(store, spec, MONTHLY_DRIFT, month, DRIFT_FILE))


def drift_summaries(store: ArtifactStore, spec: UseCaseSpec) -> list[MonthlyDrift]:
    return [monthly_drift(store, spec, m) for m in stored_months(store, spec, MONTHLY_DRIFT)]


def performance_summaries(store: ArtifactStore, spec: UseCaseSpec) -> list[RealisedPerformance]:
    return [
        RealisedPerformance.from_json(_current(store, spec, PERFORMANCE, month, PERFORMANCE_FILE))
        for month in stored_months(store, spec, PERFORMANCE)
    ]


def drift_history(store: ArtifactStore, spec: UseCaseSpec) -> pl.DataFrame:
    """One row per scored month (the `drift_history` asset)."""
    rows = [
        {
            "month": s.month,
            "model_version": s.model_version,
            "rows": s.rows,
            "drifted_share": s.drifted_share,
            "dataset_drift": s.dataset_drift,
            "score_psi": s.score_psi,
            "max_csi": s.max_csi,
            "breach": s.breach,
            "drifted_columns": ", ".join(s.drifted_columns),
        }
        for s in drift_summaries(store, spec)
    ]
    return pl.DataFrame(rows, schema=DRIFT_HISTORY_SCHEMA)


def performance_history(store: ArtifactStore, spec: UseCaseSpec) -> pl.DataFrame:
    """One row per labelled vintage (the `performance_history` asset)."""
    rows = [
        {name: getattr(summary, name) for name in PERFORMANCE_HISTORY_SCHEMA}
        for summary in performance_summaries(store, spec)
    ]
    return pl.DataFrame(rows, schema=PERFORMANCE_HISTORY_SCHEMA)


def month_incidents(store: ArtifactStore, spec: UseCaseSpec, month: str) -> MonthIncidents | None:
    """The month's classification with its release, if a person gave one (kept apart, so a
    re-run of the month's checks does not undo it); None if the month was not classified."""
    if store.current_version(spec.id, monthly(DATA_INCIDENTS, month)) is None:
        return None
    record = MonthIncidents.model_validate_json(
        _current(store, spec, DATA_INCIDENTS, month, INCIDENTS_FILE)
    )
    if store.current_version(spec.id, monthly(INCIDENT_RELEASE, month)) is None:
        return record
    release = Release.model_validate_json(
        _current(store, spec, INCIDENT_RELEASE, month, RELEASE_FILE)
    )
    return record.model_copy(update={"release": release})


def incident_months(store: ArtifactStore, spec: UseCaseSpec) -> dict[str, MonthIncidents]:
    """Every classified month that had a data incident, by month."""
    found = (month_incidents(store, spec, m) for m in stored_months(store, spec, DATA_INCIDENTS))
    return {r.month: r for r in found if r is not None and r.is_incident}


def unjudged_incident(store: ArtifactStore, spec: UseCaseSpec, month: str) -> str | None:
    """The month's incident headline when nobody released it: its scores say more about the
    broken data than about the model, so decay is not judged on them (None otherwise)."""
    record = month_incidents(store, spec, month)
    if record is None or not record.is_incident or record.release is not None:
        return None
    return record.headline()


def untaught_months(store: ArtifactStore, spec: UseCaseSpec) -> set[str]:
    """Months that may not teach: an incident nobody released for training."""
    return {m for m, r in incident_months(store, spec).items() if not r.teaches}
