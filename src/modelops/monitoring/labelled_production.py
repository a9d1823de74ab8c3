"""Labelled production months, and the training data they join.

When a use case monitors with labels, each month's applications come back with their
outcomes months later; the last `retraining.window_months` of them are appended to the
training source, so a retrained model learns from the population it now scores.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from modelops.ml.batch_parsing import batch_filename, parse_batch
from modelops.monitoring.history import stored_months
from modelops.names import BATCH, LABELLED_PRODUCTION, LABELS, RAW, monthly
from modelops.spec import UseCaseSpec

if TYPE_CHECKING:
    from modelops.resources.storage import ArtifactStore


def assemble_labelled_production(store: ArtifactStore, spec: UseCaseSpec) -> pl.DataFrame:
    """The last `window_months` months that have both a batch and labels, joined, in the
    training source's columns (the id dropped), every value as text."""
    monitoring = spec.monitoring
    assert monitoring is not None
    headers = [c.header for c in spec.data_schema.columns]
    months = [
        m
        for m in stored_months(store, spec, LABELS)
        if store.current_version(spec.id, monthly(BATCH, m)) is not None
    ]
    parts = []
    for month in months[-monitoring.retraining.window_months :]:
        batch_source = monitoring.batches.source_for(month, spec.source)
        name = monthly(BATCH, month)
        content = store.read_bytes(
            spec.id, name, store.require_current(spec.id, name), batch_filename(batch_source)
        )
        outcome = store.read_table(spec.id, monthly(LABELS, month))
        joined = parse_batch(content, batch_source).join(
            outcome, on=monitoring.id_column, how="inner"
        )
        parts.append(joined.select([pl.col(h).cast(pl.String) for h in headers]))
    if not parts:
        return pl.DataFrame(schema=dict.fromkeys(headers, pl.String))
    return pl.concat(parts, how="vertical")


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
