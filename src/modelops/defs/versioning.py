"""Code versions of assets: a hash of the logic that computes them and of the spec they follow.

Dagster marks an asset "Unsynced" when its code version changes, so a new model parameter in
the spec or an edit of the training module flags the model for retraining. Module files are
read, not imported, so this costs nothing at load time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from functools import cache
from typing import Any

from pydantic import BaseModel


@cache
def _module_source(module: str) -> bytes:
    found = importlib.util.find_spec(module)
    if found is None or found.origin is None:
        raise ModuleNotFoundError(module)
    with open(found.origin, "rb") as handle:
        return handle.read()


def code_version(modules: tuple[str, ...], *spec_parts: BaseModel | Any) -> str:
    """12 hex digits over the modules' source and the JSON of the spec sections given."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(module.encode())
        digest.update(_module_source(module))
    for part in spec_parts:
        data = part.model_dump(mode="json") if isinstance(part, BaseModel) else part
        digest.update(json.dumps(data, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:12]


def version_for_run(context: Any, store: Any, use_case: str, asset: str) -> str:
    """The version of `<use case>/<asset>` this run materialized, else the current one.

    Reading CURRENT alone would let a step of one run pick up the output of another run of
    the same use case that finished in between (the production queue runs them one at a
    time, but a backfill or a CLI run need not): the release gates must judge the model this
    run trained, with this run's evaluation."""
    import dagster as dg

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
