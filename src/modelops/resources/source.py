"""Data sources: where a use case's raw batch comes from, per environment.

A source hands over the batch exactly as delivered (its bytes). The platform keeps those
bytes as the raw dataset, so what was validated and trained on can be shown byte for byte
later; `ml.batch_parsing` turns them into a table the same way wherever they came from.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl

from modelops.ml.batch_parsing import parse_batch
from modelops.spec import Source, UseCaseSpec
from modelops.spec.source_roots import SourceRoots


class EmptySourceError(ValueError):
    """The source has no rows: there is nothing to validate, train or score."""


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
    """CSV or Parquet files; relative paths are resolved from `root` (the project folder).

    With `allowed_roots` (the settings' source roots), a path that resolves outside them,
    through `..` or a symlink, is refused before it is opened: the spec loader refuses it
    already, this is the second line.
    """

    root: str
    allowed_roots: list[str] | None = None
    """Folders files may be read from; None: not restricted (a source built by hand)."""

    def _path(self, source: Source) -> Path:
        if source.path is None:
            raise ValueError(
                f"a BigQuery source ({source.description}) cannot be read by the local file "
                "source; run with MODELOPS_ENV=gcp"
            )
        if self.allowed_roots is not None:
            roots = SourceRoots.of(Path(self.root), tuple(self.allowed_roots))
            return roots.checked(source.path)
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
