"""Each scored month's performance estimated before its labels, read back beside what was
realised once they arrived: the backtest that says whether the estimates can be trusted."""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelops.ml.performance_alerts import ESTIMATE_FILE, BacktestRow, MonthEstimate
from modelops.monitoring.history import (
    performance_summaries,
    stored_months,
    unjudged_incident,
)
from modelops.names import ESTIMATED_PERFORMANCE, monthly
from modelops.spec import UseCaseSpec

if TYPE_CHECKING:
    from modelops.resources.storage import ArtifactStore


def month_estimate(store: ArtifactStore, spec: UseCaseSpec, month: str) -> MonthEstimate | None:
    name = monthly(ESTIMATED_PERFORMANCE, month)
    version = store.current_version(spec.id, name)
    if version is None or not store.exists(spec.id, name, version, ESTIMATE_FILE):
        return None
    return MonthEstimate.model_validate_json(
        store.read_bytes(spec.id, name, version, ESTIMATE_FILE)
    )


def backtest(store: ArtifactStore, spec: UseCaseSpec) -> list[BacktestRow]:
    """Every estimated month, with the realised AUC and bad rate where labels arrived; a
    month with an unreleased data incident is marked (its scores reflect the broken data)."""
    realised = {s.month: s for s in performance_summaries(store, spec)}
    rows = []
    for month in stored_months(store, spec, ESTIMATED_PERFORMANCE):
        record = month_estimate(store, spec, month)
        if record is None:
            continue
        done = realised.get(month)
        rows.append(
            BacktestRow(
                month=f"{month} (incident)" if unjudged_incident(store, spec, month) else month,
                estimate=record.estimate,
                realised_auc=done.auc if done else None,
                observed_bad_rate=done.positives / done.n if done and done.n else None,
            )
        )
    return rows
