"""What a retrained champion's drift is judged against: the valid production months it was
trained to cover (`drift.reference: recent_production`), so a shift the model has learned stops
breaching. Incident months, quarantined rows and rows flagged as outliers never form a
reference (`trusted_features`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from modelops.monitoring.history import stored_months, untaught_months
from modelops.monitoring.trusted_rows import trusted_features
from modelops.names import LABELLED_PRODUCTION, PRODUCTION_FEATURES
from modelops.spec import UseCaseSpec

if TYPE_CHECKING:
    from modelops.resources.storage import ArtifactStore


@dataclass(frozen=True, eq=False)
class ProductionReference:
    """The rows drift is judged against and the months they came from (kept in the bundle)."""

    frame: pl.DataFrame
    months: tuple[str, ...]


def recent_production_reference(
    store: ArtifactStore, spec: UseCaseSpec, *, min_rows: int = 200
) -> ProductionReference | None:
    """The last `drift.reference_months` scored months that may teach, their valid rows;
    None when the spec compares with training data, when the model does not learn from
    labelled production (it was not trained to cover those months), or when there are none
    (a first release) or too few rows to be a reference."""
    if spec.drift.reference != "recent_production" or spec.monitoring is None:
        return None
    if spec.monitoring.labels is None or not _learns_from_production(store, spec):
        return None
    untaught = untaught_months(store, spec)
    months = [m for m in stored_months(store, spec, PRODUCTION_FEATURES) if m not in untaught]
    chosen = months[-spec.drift.reference_months :]
    parts = []
    for month in chosen:
        features = trusted_features(store, spec, month)
        parts.append(features.select(spec.model_inputs))
    frame = pl.concat(parts, how="vertical_relaxed") if parts else None
    if frame is None or frame.height < min_rows:
        return None
    return ProductionReference(frame, tuple(chosen))


def _learns_from_production(store: ArtifactStore, spec: UseCaseSpec) -> bool:
    """Whether the training about to run gains labelled production rows."""
    if store.current_version(spec.id, LABELLED_PRODUCTION) is None:
        return False
    return store.read_table(spec.id, LABELLED_PRODUCTION).height > 0
