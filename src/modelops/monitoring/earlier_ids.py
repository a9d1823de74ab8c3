"""The application ids already answered in the months before a batch, so a repeated
application is never scored twice silently (`monitoring.incidents.duplicate_window_months`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from modelops.names import PREDICTIONS, monthly
from modelops.spec import UseCaseSpec

if TYPE_CHECKING:
    from modelops.resources.storage import ArtifactStore


def months_before(month: str, count: int) -> list[str]:
    """The `count` calendar months before `month` (YYYY-MM), most recent first."""
    year, number = map(int, month.split("-"))
    index = year * 12 + number - 1
    return [f"{(i // 12):04d}-{(i % 12) + 1:02d}" for i in range(index - 1, index - 1 - count, -1)]


def earlier_answered_ids(
    store: ArtifactStore, spec: UseCaseSpec, month: str
) -> dict[str, pl.Series]:
    """Month -> the ids its stored predictions answered, for the window before `month`
    (months never scored are skipped)."""
    monitoring = spec.monitoring
    assert monitoring is not None
    window = monitoring.incidents.duplicate_window_months
    found = {}
    for earlier in months_before(month, window):
        name = monthly(PREDICTIONS, earlier)
        if store.current_version(spec.id, name) is None:
            continue
        table = store.read_table(spec.id, name)
        if monitoring.id_column in table.columns:
            found[earlier] = table.get_column(monitoring.id_column).drop_nulls().unique()
    return found
