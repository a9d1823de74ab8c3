"""One month of traffic as it travels from the simulator to the files.

The applications and the labels of a month are two tables joined by `APPLICATION_ID`: the
platform scores the applications when they arrive and joins the labels when they mature.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

APPLICATION_ID = "application_id"
"""Column that identifies an application across the production and labels files."""


@dataclass(frozen=True)
class MonthlyBatch:
    """One month of production traffic (or one chunk of it)."""

    month: str
    """YYYY-MM"""
    applications: pl.DataFrame
    """`application_id` then the source headers, without the target."""
    labels: pl.DataFrame
    """`application_id` and the target (source header), one row per application."""


def stream_to_parquet(
    chunks: Iterable[MonthlyBatch], applications: Path | None, labels: Path | None
) -> None:
    """Write chunks' applications and/or labels to parquet files as they are generated."""
    import pyarrow.parquet as pq

    writers: dict[str, pq.ParquetWriter] = {}
    try:
        for chunk in chunks:
            for key, path, frame in (
                ("applications", applications, chunk.applications),
                ("labels", labels, chunk.labels),
            ):
                if path is None:
                    continue
                table = frame.to_arrow(compat_level=pl.CompatLevel.newest())
                if key not in writers:
                    writers[key] = pq.ParquetWriter(path, table.schema, compression="zstd")
                writers[key].write_table(table)
                del table
            del chunk  # free this chunk before the next one is generated
    finally:
        for w in writers.values():
            w.close()
