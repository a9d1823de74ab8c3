"""A batch as delivered, turned into a table the same way wherever it came from.

The platform keeps a source's bytes as they were delivered (the raw dataset), so what was
validated and trained on can be shown byte for byte later; these functions read those bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import polars as pl

from modelops.spec import Source


@dataclass(frozen=True)
class BatchFacts:
    rows: int
    schema: dict[str, str]


def batch_filename(source: Source) -> str:
    return f"batch.{source.resolved_format}"


def parse_batch(content: bytes, source: Source) -> pl.DataFrame:
    """The batch as a table with the source's own headers.

    CSV columns are read as text: typing is validation's job, so a stray 'abc' in a numeric
    column becomes a quarantined row instead of a failed read. Parquet keeps its types.
    """
    if source.resolved_format == "parquet":
        return pl.read_parquet(io.BytesIO(content))
    return pl.read_csv(
        io.BytesIO(content),
        infer_schema=False,
        separator=source.csv_separator,
        null_values=source.null_values,
    )


def batch_facts(content: bytes, source: Source) -> BatchFacts:
    """Row count and columns, from the Parquet footer when there is one (no full read)."""
    if source.resolved_format == "parquet":
        import pyarrow.parquet as pq

        metadata = pq.ParquetFile(io.BytesIO(content)).metadata
        schema = metadata.schema.to_arrow_schema()
        return BatchFacts(metadata.num_rows, {f.name: str(f.type) for f in schema})
    frame = parse_batch(content, source)
    return BatchFacts(frame.height, {name: str(dtype) for name, dtype in frame.schema.items()})
