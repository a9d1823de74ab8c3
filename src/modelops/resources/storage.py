"""Versioned artifact storage: every asset output is kept under its version, never overwritten.

Layout (the same on every backend):

    <root>/<use case>/<asset>/<version>/<file>     one immutable folder per version
    <root>/<use case>/<asset>/CURRENT              the version downstream assets read

A version folder is written first and published (CURRENT replaced atomically) last, so a run
that fails half-way leaves the previous outputs and the previous CURRENT untouched.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import polars as pl

from modelops.ml.fingerprint import bytes_fingerprint, frame_fingerprint

TABLE_FILE = "table.parquet"
_CURRENT = "CURRENT"


class _RecentTables:
    """The last few tables written by this process, so that the next step of an in-process
    run reads them from memory instead of decoding the file it just wrote. Versions are
    immutable, so a cached table can never be stale; other processes simply miss."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._tables: OrderedDict[tuple[str, ...], pl.DataFrame] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, key: tuple[str, ...], table: pl.DataFrame) -> None:
        with self._lock:
            self._tables[key] = table
            self._tables.move_to_end(key)
            while len(self._tables) > self.size:
                self._tables.popitem(last=False)

    def get(self, key: tuple[str, ...]) -> pl.DataFrame | None:
        with self._lock:
            return self._tables.get(key)


_RECENT = _RecentTables(size=6)


@dataclass(frozen=True)
class StoredTable:
    version: str
    uri: str


class ArtifactStore(dg.ConfigurableResource):
    """Where datasets, reports and cards live. Subclasses implement the byte-level calls."""

    def write_bytes(
        self, use_case: str, asset: str, version: str, filename: str, content: bytes
    ) -> str:
        """Create a file in a version folder; a file that already exists is kept as it is."""
        raise NotImplementedError

    def read_bytes(self, use_case: str, asset: str, version: str, filename: str) -> bytes:
        raise NotImplementedError

    def exists(self, use_case: str, asset: str, version: str, filename: str) -> bool:
        raise NotImplementedError

    def publish(self, use_case: str, asset: str, version: str) -> None:
        """Make `version` the one downstream assets read (atomically)."""
        raise NotImplementedError

    def current_version(self, use_case: str, asset: str) -> str | None:
        raise NotImplementedError

    def uri(self, use_case: str, asset: str, version: str, filename: str) -> str:
        raise NotImplementedError

    def link(self, use_case: str, asset: str, version: str, filename: str) -> str:
        """The address a person opens from the UI (http, never `file://`); by default the
        storage URI."""
        return self.uri(use_case, asset, version, filename)

    # Tables are parquet files written through the byte-level calls above.

    def write_table(self, use_case: str, asset: str, version: str, table: pl.DataFrame) -> str:
        """Store a table under its version; an identical version already stored is kept as is."""
        if not self.exists(use_case, asset, version, TABLE_FILE):
            buffer = io.BytesIO()
            table.write_parquet(buffer, compression="lz4", statistics=False)
            self.write_bytes(use_case, asset, version, TABLE_FILE, buffer.getvalue())
        return self.uri(use_case, asset, version, TABLE_FILE)

    def read_table(self, use_case: str, asset: str, version: str | None = None) -> pl.DataFrame:
        version = version or self.require_current(use_case, asset)
        return pl.read_parquet(io.BytesIO(self.read_bytes(use_case, asset, version, TABLE_FILE)))

    # One call per output: the version folder is written first, then published.

    def store_files(
        self,
        use_case: str,
        asset: str,
        files: Mapping[str, bytes],
        *,
        version: str | None = None,
        publish: bool = True,
    ) -> str:
        """Write a document output (a report and its renderings) as one version and publish
        it (unless told not to); returns the version. Unless given, the version is the
        fingerprint of the first file, the report's data, which its renderings follow from."""
        if not files:
            raise ValueError(f"nothing to store for {use_case}/{asset}")
        version = version or bytes_fingerprint(next(iter(files.values())))
        for filename, content in files.items():
            self.write_bytes(use_case, asset, version, filename, content)
        if publish:
            self.publish(use_case, asset, version)
        return version

    def store_table(self, use_case: str, asset: str, table: pl.DataFrame) -> StoredTable:
        """Write a table under its content fingerprint and publish it."""
        version = frame_fingerprint(table)
        uri = self.write_table(use_case, asset, version, table)
        self.publish(use_case, asset, version)
        return StoredTable(version, uri)

    def require_current(self, use_case: str, asset: str) -> str:
        version = self.current_version(use_case, asset)
        if version is None:
            raise FileNotFoundError(
                f"'{use_case}/{asset}' has never been materialized here; materialize it first"
            )
        return version


class LocalArtifactStore(ArtifactStore):
    """Files under a local folder, written atomically (temp file + rename)."""

    root: str
    reports_url: str | None = None
    """The report server's address (`modelops reports`): links open over http from there."""

    def _path(self, *parts: str) -> Path:
        return Path(self.root, *parts)

    def write_bytes(
        self, use_case: str, asset: str, version: str, filename: str, content: bytes
    ) -> str:
        target = self._path(use_case, asset, version, filename)
        if not target.exists():
            _atomic_write(target, content)
        return target.resolve().as_uri()

    def read_bytes(self, use_case: str, asset: str, version: str, filename: str) -> bytes:
        return self._path(use_case, asset, version, filename).read_bytes()

    def exists(self, use_case: str, asset: str, version: str, filename: str) -> bool:
        return self._path(use_case, asset, version, filename).is_file()

    def publish(self, use_case: str, asset: str, version: str) -> None:
        _atomic_write(self._path(use_case, asset, _CURRENT), version.encode())

    def current_version(self, use_case: str, asset: str) -> str | None:
        pointer = self._path(use_case, asset, _CURRENT)
        return pointer.read_text().strip() if pointer.is_file() else None

    def uri(self, use_case: str, asset: str, version: str, filename: str) -> str:
        return self._path(use_case, asset, version, filename).resolve().as_uri()

    def link(self, use_case: str, asset: str, version: str, filename: str) -> str:
        if self.reports_url is None:
            return self.uri(use_case, asset, version, filename)
        from modelops.report_server import report_link

        return report_link(self.reports_url, use_case, asset, version, filename)

    # Fast path: polars writes parquet straight to a temp file instead of through memory.
    def write_table(self, use_case: str, asset: str, version: str, table: pl.DataFrame) -> str:
        target = self._path(use_case, asset, version, TABLE_FILE)
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            with _temp_beside(target) as temp:
                table.write_parquet(temp, compression="lz4", statistics=False)
                os.replace(temp, target)
            _RECENT.put((self.root, use_case, asset, version), table)
        return target.resolve().as_uri()

    def read_table(self, use_case: str, asset: str, version: str | None = None) -> pl.DataFrame:
        version = version or self.require_current(use_case, asset)
        cached = _RECENT.get((self.root, use_case, asset, version))
        if cached is not None:
            return cached
        return pl.read_parquet(self._path(use_case, asset, version, TABLE_FILE))


def _atomic_write(target: Path, content: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with _temp_beside(target) as temp:
        Path(temp).write_bytes(content)
        os.replace(temp, target)


@contextlib.contextmanager
def _temp_beside(target: Path) -> Iterator[str]:
    """A temp file in the target's folder (same filesystem, so os.replace is atomic), removed
    if anything fails before the rename, so no half-written file is left behind."""
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    try:
        yield name
    finally:
        if os.path.exists(name):
            os.unlink(name)
