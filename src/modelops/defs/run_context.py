"""What a step learns from the Dagster run it is part of: who it acts for, and which version
of an upstream asset this run produced."""

from __future__ import annotations

import dagster as dg

from modelops import names
from modelops.governance.model_record import ModelRecord, read_model_record
from modelops.resources.storage import ArtifactStore


def run_actor(context: dg.AssetExecutionContext) -> str:
    """Who a run acts for: the launching person's tag, else the sensor or 'dagster'."""
    tags = context.run.tags
    if tags.get(names.ACTOR_TAG):
        return tags[names.ACTOR_TAG]
    sensor = tags.get("dagster/sensor_name")
    return f"dagster:sensor/{sensor}" if sensor else f"dagster:run/{context.run.run_id[:8]}"


def version_for_run(
    context: dg.AssetExecutionContext, store: ArtifactStore, use_case: str, asset: str
) -> str:
    """The version of `<use case>/<asset>` this run materialized, else the current one.

    Reading CURRENT alone would let a step of one run pick up the output of another run of
    the same use case that finished in between (the production queue runs them one at a
    time, but a backfill or a CLI run need not): the release gates must judge the model this
    run trained, with this run's evaluation."""
    key = dg.AssetKey([use_case, asset])
    records = context.instance.get_records_for_run(
        context.run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=1000
    ).records
    for record in reversed(records):
        materialization = record.event_log_entry.asset_materialization
        if materialization is not None and materialization.asset_key == key:
            version = materialization.tags.get("dagster/data_version")
            if version:
                return version
    return store.require_current(use_case, asset)


def this_run_file(
    context: dg.AssetExecutionContext,
    store: ArtifactStore,
    use_case: str,
    asset: str,
    filename: str,
) -> bytes:
    """A file of the version of `asset` this run produced (see `version_for_run`)."""
    return store.read_bytes(
        use_case, asset, version_for_run(context, store, use_case, asset), filename
    )


def this_run_model(
    context: dg.AssetExecutionContext, store: ArtifactStore, use_case: str
) -> ModelRecord:
    """The record of the model this run trained (the current one when it trained none)."""
    return read_model_record(
        store, use_case, version_for_run(context, store, use_case, names.MODEL)
    )
