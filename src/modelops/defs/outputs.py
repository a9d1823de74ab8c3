"""How stored outputs appear in Dagster: versions, row counts, schemas, links.

Shared by every asset that writes through the artifact store, so a table looks the same in
the UI whichever asset produced it.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping

import dagster as dg
import polars as pl

from modelops.defs.plot_metadata import image_metadata
from modelops.formatting import for_people, frame_table
from modelops.resources.storage import TABLE_FILE, ArtifactStore
from modelops.spec import UseCaseSpec

MetadataEntry = dg.MetadataValue | dg.TableSchema | str | int | float | bool | list[str] | None
Metadata = dict[str, MetadataEntry]
"""What an asset reports to the UI (Dagster turns plain values into metadata values)."""


def for_the_ui(metadata: Mapping[str, object] | None) -> Metadata:
    """Metadata as people read it: floats rounded (`formatting.for_people`); the stored
    files keep full precision. Every result the platform yields goes through here."""
    return {k: for_people(v) for k, v in (metadata or {}).items()}  # type: ignore[misc]


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
            "uri": dg.MetadataValue.url(store.link(key.path[0], path, stored.version, TABLE_FILE)),
            **for_the_ui(metadata),
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
    images: Mapping[str, str] | None = None,
) -> dg.MaterializeResult:
    """Store a report (its data first, then its renderings) as a new version of
    `<use case>/<path>`; `links` maps a metadata label to one of the files, `images` to a
    PNG among them shown in the UI (`plot_metadata.image_metadata`)."""
    use_case = key.path[0]
    version = store.store_files(use_case, path, files)
    urls = {
        label: dg.MetadataValue.url(store.link(use_case, path, version, filename))
        for label, filename in (links or {}).items()
    }
    for label, filename in (images or {}).items():
        address = store.link(use_case, path, version, filename)
        urls[label] = image_metadata(label, files[filename], address)
    return dg.MaterializeResult(
        asset_key=key,
        data_version=dg.DataVersion(version),
        metadata={**for_the_ui(metadata), **urls},
    )


def markdown(text: str) -> dg.MetadataValue:
    return dg.MetadataValue.md(text)


def table_markdown(frame: pl.DataFrame, *, limit: int) -> dg.MetadataValue:
    return dg.MetadataValue.md(frame_table(frame, limit=limit))


def location_metadata(location: str) -> dg.MetadataValue:
    """Where data was read from: a link when a browser can open it, else the path as text
    (a browser refuses `file://` links from a web page)."""
    if location.startswith("file://"):
        return dg.MetadataValue.path(urllib.parse.unquote(location.removeprefix("file://")))
    return dg.MetadataValue.url(location)
