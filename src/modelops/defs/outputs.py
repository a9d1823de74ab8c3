"""How stored outputs appear in Dagster: versions, row counts, schemas, links.

Shared by every asset that writes through the artifact store, so a table looks the same in
the UI whichever asset produced it.
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg
import polars as pl

from modelops.formatting import frame_table
from modelops.resources.storage import ArtifactStore
from modelops.spec import UseCaseSpec

MetadataEntry = dg.MetadataValue | dg.TableSchema | str | int | float | bool | list[str] | None
Metadata = dict[str, MetadataEntry]
"""What an asset reports to the UI (Dagster turns plain values into metadata values)."""


def table_schema(columns: Mapping[str, str]) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name=c, type=t) for c, t in columns.items()])


def dataset_spec(
    spec: UseCaseSpec,
    name: str,
    deps: list[dg.AssetKey],
    kinds: set[str],
    version: str,
    description: str,
) -> dg.AssetSpec:
    """One of the datasets a multi-asset step writes: `<use case>/<name>`, in the use case's
    group, owned by the spec's dataset owners."""
    return dg.AssetSpec(
        dg.AssetKey([spec.id, name]),
        deps=deps,
        owners=spec.owners.dataset_owners,
        kinds=kinds,
        code_version=version,
        description=description,
        group_name=spec.id,
    )


def stored_table(
    store: ArtifactStore,
    key: dg.AssetKey,
    path: str,
    table: pl.DataFrame,
    metadata: Metadata | None = None,
) -> dg.MaterializeResult:
    """Store a table as a new version of `<use case>/<path>` and describe it for the UI."""
    stored = store.store_table(key.path[0], path, table)
    return dg.MaterializeResult(
        asset_key=key,
        data_version=dg.DataVersion(stored.version),
        metadata={
            "dagster/row_count": table.height,
            "dagster/column_schema": table_schema({c: str(t) for c, t in table.schema.items()}),
            "uri": dg.MetadataValue.url(stored.uri),
            **(metadata or {}),
        },
    )


def stored_report(
    store: ArtifactStore,
    key: dg.AssetKey,
    path: str,
    files: Mapping[str, bytes],
    metadata: Metadata | None = None,
    *,
    links: Mapping[str, str] | None = None,
) -> dg.MaterializeResult:
    """Store a report (its data first, then its renderings) as a new version of
    `<use case>/<path>`; `links` maps a metadata label to one of the files."""
    use_case = key.path[0]
    version = store.store_files(use_case, path, files)
    urls = {
        label: dg.MetadataValue.url(store.uri(use_case, path, version, filename))
        for label, filename in (links or {}).items()
    }
    return dg.MaterializeResult(
        asset_key=key, data_version=dg.DataVersion(version), metadata={**(metadata or {}), **urls}
    )


def markdown(text: str) -> dg.MetadataValue:
    return dg.MetadataValue.md(text)


def table_markdown(frame: pl.DataFrame, *, limit: int) -> dg.MetadataValue:
    return dg.MetadataValue.md(frame_table(frame, limit=limit))
