"""Data sources: where a use case's raw batch comes from, per environment.

A source hands over the batch exactly as delivered (its bytes). The platform keeps those
bytes as the raw dataset, so what was validated and trained on can be shown byte for byte
later, and `parse_batch` turns them into a table the same way wherever they came from.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import polars as pl

from modelops.spec import Source, UseCaseSpec


class EmptySourceError(ValueError):
    """The source has no rows: there is nothing to validate, train or score."""


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


class DataSource(dg.ConfigurableResource):
    """Reads a spec's `source`: the batch as delivered, and where it was read from."""

    def read_bytes(self, source: Source, spec: UseCaseSpec | None = None) -> bytes:
        """The batch as delivered. `spec` lets a query-based source (BigQuery) select only the
        declared columns; file sources deliver the file as it is."""
        raise NotImplementedError

    def location(self, source: Source) -> str:
        """Where the data is read from, for lineage (MLflow dataset source, asset metadata)."""
        raise NotImplementedError

    def probe(self, source: Source) -> str | None:
        """A cheap token that changes when the file changes (None: not there yet), so a
        sensor can notice a new or replaced batch without reading it."""
        raise NotImplementedError

    def read(self, source: Source) -> pl.DataFrame:
        """The batch as a table; refuses an empty batch."""
        content = self.read_bytes(source)
        frame = parse_batch(content, source)
        if frame.height == 0:
            raise EmptySourceError(f"source {self.location(source)} has no rows")
        return frame


class LocalFileSource(DataSource):
    """CSV or Parquet files; relative paths are resolved from `root` (the project folder)."""

    root: str

    def _path(self, source: Source) -> Path:
        if source.path is None:
            raise ValueError(
                f"a BigQuery source ({source.description}) cannot be read by the local file "
                "source; run with MODELOPS_ENV=gcp"
            )
        path = Path(source.path)
        return path if path.is_absolute() else Path(self.root) / path

    def location(self, source: Source) -> str:
        return self._path(source).resolve().as_uri()

    def probe(self, source: Source) -> str | None:
        try:
            stat = self._path(source).stat()
        except FileNotFoundError:
            return None
        return f"{stat.st_size}-{stat.st_mtime_ns}"

    def read_bytes(self, source: Source, spec: UseCaseSpec | None = None) -> bytes:
        path = self._path(source)
        if not path.is_file():
            raise FileNotFoundError(f"source file {path} does not exist (spec source.path)")
        return path.read_bytes()
