"""The monitoring histories (`drift_history`, `performance_history`): one table across every
month of a partitioned asset, refreshed whenever a month changes.

The factories that own the monthly assets declare their history with `history_asset`, so the
UI links each history to the factory that wires it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import dagster as dg
import polars as pl

from modelops import names
from modelops.defs.kubernetes import pod_tags
from modelops.defs.outputs import stored_table, table_markdown
from modelops.defs.plot_metadata import image_metadata
from modelops.defs.versioning import code_version
from modelops.resources.storage import ArtifactStore
from modelops.spec import UseCaseSpec

DESCRIPTIONS = {
    names.DRIFT_HISTORY: "Drift of every scored month, as the retraining sensor reads it.",
    names.PERFORMANCE_HISTORY: "Realised performance of every labelled vintage.",
}


def history_asset(
    spec: UseCaseSpec, name: str, monthly: str
) -> Callable[[Callable[[ArtifactStore], dg.MaterializeResult]], dg.AssetsDefinition]:
    """`@dg.asset` for the history `name` of the monthly asset `monthly`: refreshed whenever a
    month of it is, owned by the model's owners."""
    return dg.asset(
        key=dg.AssetKey([spec.id, name]),
        automation_condition=dg.AutomationCondition.eager(),
        deps=[dg.AssetKey([spec.id, monthly])],
        owners=spec.owners.dagster_owners,
        kinds={"polars"},
        code_version=code_version(("modelops.monitoring.history",)),
        description=DESCRIPTIONS[name],
        group_name=spec.id,
        op_tags=pod_tags(spec.compute.default),
    )


def stored_history(
    store: ArtifactStore,
    key: dg.AssetKey,
    table: pl.DataFrame,
    plots: Mapping[str, bytes] | None = None,
) -> dg.MaterializeResult:
    """Store a history under its asset's name, with up to 36 months shown in the UI, and its
    `plots` (label: PNG) beside the table, shown above it."""
    result = stored_table(
        store, key, key.path[-1], table, {"history": table_markdown(table, limit=36)}
    )
    if not plots or result.data_version is None:
        return result
    uc, version = key.path[0], result.data_version.value
    images = {}
    for label, png in plots.items():
        filename = f"{label}.png"
        store.write_bytes(uc, key.path[-1], version, filename, png)
        address = store.link(uc, key.path[-1], version, filename)
        images[label] = image_metadata(label, png, address)
    return dg.MaterializeResult(
        asset_key=result.asset_key,
        data_version=result.data_version,
        metadata={**images, **(result.metadata or {})},
    )
