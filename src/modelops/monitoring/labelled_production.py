"""Labelled production months, and the training data they join.

When a use case monitors with labels, each month's applications come back with their
outcomes months later; the last `retraining.window_months` of them are appended to the
training source, so a retrained model learns from the population it now scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from modelops.ml.batch_parsing import batch_filename, parse_batch
from modelops.ml.duplicate_ids import require_unique_ids
from modelops.monitoring.history import incident_months, stored_months
from modelops.monitoring.trusted_rows import trusted_features
from modelops.names import BATCH, LABELLED_PRODUCTION, LABELS, RAW, monthly
from modelops.spec import UseCaseSpec
from modelops.spec.columns import ROW_ID

if TYPE_CHECKING:
    from modelops.resources.storage import ArtifactStore


PRODUCTION_MONTH = "production_month"
"""The column of `labelled_production` naming each row's month: which months fed a version."""


@dataclass(frozen=True, eq=False)
class LabelledMonths:
    """The labelled production rows the next retraining learns from, and their lineage."""

    table: pl.DataFrame
    months_used: tuple[str, ...]
    months_left_out: dict[str, str]
    """Month -> why it does not teach (a data incident nobody released for training)."""
    rows_left_out: int
    """Labelled rows of the used months left out: quarantined or flagged as outliers when
    the month was scored."""


def assemble_labelled_production(store: ArtifactStore, spec: UseCaseSpec) -> LabelledMonths:
    """The last `window_months` months that have both a batch and labels, joined, in the
    training source's columns (the id dropped) and `production_month`, every value as text.
    A month with a data incident never teaches (unless a person released it for training),
    nor does a row that was quarantined or flagged as an outlier for a value."""
    monitoring = spec.monitoring
    assert monitoring is not None
    headers = [c.header for c in spec.data_schema.columns]
    months = [
        m
        for m in stored_months(store, spec, LABELS)
        if store.current_version(spec.id, monthly(BATCH, m)) is not None
    ]
    incidents = incident_months(store, spec)
    left_out = {
        m: incidents[m].headline() for m in months if m in incidents and not incidents[m].teaches
    }
    months = [m for m in months if m not in left_out]
    parts, dropped = [], 0
    for month in months[-monitoring.retraining.window_months :]:
        batch_source = monitoring.batches.source_for(month, spec.source)
        name = monthly(BATCH, month)
        content = store.read_bytes(
            spec.id, name, store.require_current(spec.id, name), batch_filename(batch_source)
        )
        kept, left = _labelled_rows(store, spec, month, parse_batch(content, batch_source))
        dropped += left
        parts.append(
            kept.select(
                *[pl.col(h).cast(pl.String) for h in headers],
                pl.lit(month, dtype=pl.String).alias(PRODUCTION_MONTH),
            )
        )
    used = tuple(months[-monitoring.retraining.window_months :])
    if not parts:
        empty = pl.DataFrame(schema=dict.fromkeys([*headers, PRODUCTION_MONTH], pl.String))
        return LabelledMonths(empty, used, left_out, dropped)
    return LabelledMonths(pl.concat(parts, how="vertical"), used, left_out, dropped)


def _labelled_rows(
    store: ArtifactStore, spec: UseCaseSpec, month: str, batch: pl.DataFrame
) -> tuple[pl.DataFrame, int]:
    """The month's trusted batch rows (`trusted_features`) joined one to one with their
    outcomes, and how many labelled rows were left out. Rows are matched to what was scored
    by their position (`row_id`), not their id: a quarantined row repeating a valid row's id
    stays out."""
    monitoring = spec.monitoring
    assert monitoring is not None
    id_column = monitoring.id_column
    outcome = store.read_table(spec.id, monthly(LABELS, month))
    require_unique_ids(outcome, id_column, file=f"{month}: the labels")
    numbered = batch.with_row_index(ROW_ID, offset=1).with_columns(pl.col(ROW_ID).cast(pl.Int64))
    labelled = numbered.join(outcome.select(id_column), on=id_column, how="semi")
    kept = labelled.filter(
        pl.col(ROW_ID).is_in(trusted_features(store, spec, month).get_column(ROW_ID).implode())
    )
    require_unique_ids(kept, id_column, file=f"{month}: the valid rows of the batch")
    joined = kept.join(outcome, on=id_column, how="inner", validate="1:1")
    return joined, labelled.height - kept.height


def production_months(store: ArtifactStore, spec: UseCaseSpec) -> tuple[str, ...]:
    """The production months the current labelled production data holds (its lineage)."""
    if store.current_version(spec.id, LABELLED_PRODUCTION) is None:
        return ()
    table = store.read_table(spec.id, LABELLED_PRODUCTION)
    if PRODUCTION_MONTH not in table.columns:  # stored before months were kept
        return ()
    return tuple(sorted(table.get_column(PRODUCTION_MONTH).drop_nulls().unique()))


def training_batch(
    store: ArtifactStore, spec: UseCaseSpec, *, with_production: bool
) -> tuple[pl.DataFrame, int]:
    """The stored raw batch, plus the labelled production rows when the use case learns from
    them; returns the batch and how many production rows were added. Everything is read as
    text, so both parts go through the same parsing and checks."""
    raw = store.read_bytes(
        spec.id, RAW, store.require_current(spec.id, RAW), batch_filename(spec.source)
    )
    batch = parse_batch(raw, spec.source)
    if not with_production or store.current_version(spec.id, LABELLED_PRODUCTION) is None:
        return batch, 0
    produced = store.read_table(spec.id, LABELLED_PRODUCTION)
    combined = pl.concat(
        [batch.select(pl.all().cast(pl.String)), produced.select(batch.columns)], how="vertical"
    )
    return combined, produced.height
