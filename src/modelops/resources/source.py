"""Data sources: where a use case's raw batch comes from, per environment."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl

from modelops.spec.model import Source


class EmptySourceError(ValueError):
    """The source has no rows: there is nothing to validate, train or score."""


class DataSource(dg.ConfigurableResource):
    """Reads a spec's `source` into a polars DataFrame with the source's own headers.

    CSV columns are read as text: typing is validation's job, so a stray 'abc' in a numeric
    column becomes a quarantined row instead of a failed read.
    """

    def read(self, source: Source) -> pl.DataFrame:
        raise NotImplementedError

    def location(self, source: Source) -> str:
        """Where the data is read from, for lineage (MLflow dataset source, asset metadata)."""
        raise NotImplementedError


class LocalFileSource(DataSource):
    """CSV or Parquet files; relative paths are resolved from `root` (the project folder)."""

    root: str

    def _path(self, source: Source) -> Path:
        path = Path(source.path)
        return path if path.is_absolute() else Path(self.root) / path

    def location(self, source: Source) -> str:
        return self._path(source).resolve().as_uri()

    def read(self, source: Source) -> pl.DataFrame:
        path = self._path(source)
        if not path.is_file():
            raise FileNotFoundError(f"source file {path} does not exist (spec source.path)")
        if source.resolved_format == "parquet":
            frame = pl.read_parquet(path)
        else:
            frame = pl.read_csv(
                path,
                infer_schema=False,
                separator=source.csv_separator,
                null_values=source.null_values,
            )
        if frame.height == 0:
            raise EmptySourceError(f"source {path} has no rows")
        return frame
