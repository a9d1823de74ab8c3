"""How stored outputs appear in Dagster: versions, row counts, schemas, readable tables.

Shared by every asset that writes through the artifact store, so a table looks the same in
the UI whichever asset produced it.
"""

import json
from dataclasses import dataclass
from typing import Any

import dagster as dg
import polars as pl

from modelops.ml.fingerprint import frame_fingerprint
from modelops.resources.storage import ArtifactStore


@dataclass
class TableResult:
    version: str
    metadata: dict[str, Any]


def store_table(store: ArtifactStore, uc: str, name: str, table: pl.DataFrame) -> TableResult:
    """Write a table under its fingerprint, publish it, and describe it for the Dagster UI."""
    version = frame_fingerprint(table)
    uri = store.write_table(uc, name, version, table)
    store.publish(uc, name, version)
    return TableResult(
        version,
        {
            "dagster/row_count": table.height,
            "dagster/column_schema": table_schema({c: str(t) for c, t in table.schema.items()}),
            "uri": dg.MetadataValue.url(uri),
        },
    )


def table_schema(columns: dict[str, str]) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name=c, type=t) for c, t in columns.items()])


def table_result(asset_key: dg.AssetKey, table: TableResult) -> dg.MaterializeResult:
    return dg.MaterializeResult(
        asset_key=asset_key, data_version=dg.DataVersion(table.version), metadata=table.metadata
    )


def json_bytes(data: Any) -> bytes:
    return json.dumps(data, indent=2, sort_keys=True, default=str).encode()


def markdown_table(frame: pl.DataFrame, *, limit: int) -> str:
    if frame.height == 0:
        return "_none_"
    shown = frame.head(limit)
    header = "| " + " | ".join(shown.columns) + " |"
    rule = "|" + "---|" * len(shown.columns)
    rows = [
        "| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |"
        for row in shown.iter_rows()
    ]
    more = [f"\n_{frame.height - limit} more rows not shown_"] if frame.height > limit else []
    return "\n".join([header, rule, *rows, *more])
