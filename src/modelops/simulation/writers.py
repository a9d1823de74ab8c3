"""Where simulated traffic files go, each appearing whole or not at all.

`Layout` names the files under a prefix; a `TrafficWriter` publishes them, on a local folder
here or in a GCS bucket (`modelops.simulation.gcs_writer`, which alone imports the Google
client). `write_month` writes one month's two files at once, for a backfill.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from modelops.simulation.batch import MonthlyBatch, stream_to_parquet

_UNSAFE_PARTS = ("", ".", "..")


@dataclass(frozen=True)
class Layout:
    """File names of the simulated traffic, under an optional prefix (e.g. the use case id)."""

    prefix: str = ""
    production: str = "production"
    labels_dir: str = "labels"

    def applications(self, month: str) -> str:
        return self._name(self.production, f"{month}.parquet")

    def labels(self, month: str) -> str:
        return self._name(self.labels_dir, f"{month}.parquet")

    def _name(self, *parts: str) -> str:
        return "/".join(p.strip("/") for p in (self.prefix, *parts) if p.strip("/"))


class TrafficWriter(ABC):
    """Where simulated files go. A file appears whole or not at all and is never replaced:
    readers polling for a month never see half a file, and a rerun keeps what exists."""

    @abstractmethod
    def exists(self, name: str) -> bool: ...

    @abstractmethod
    def create(self, name: str) -> contextlib.AbstractContextManager[Path]:
        """A local path to write `name` into; published when the block exits cleanly, else
        discarded. If `name` exists meanwhile, the existing file is kept."""

    @abstractmethod
    def uri(self, name: str) -> str: ...


def check_name(name: str) -> str:
    parts = name.split("/")
    if any(p in _UNSAFE_PARTS for p in parts):
        raise ValueError(f"{name!r} is not a safe relative file name")
    return name


class LocalTrafficWriter(TrafficWriter):
    """Files under a local folder: written to a temp file beside the target, then linked into
    place (create-only and atomic; a rename where hard links are unsupported)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, name: str) -> Path:
        return self.root / check_name(name)

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    @contextlib.contextmanager
    def create(self, name: str) -> Iterator[Path]:
        target = self.path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(handle)
        try:
            yield Path(temp)
            try:
                os.link(temp, target)  # fails if the target exists: create-only
            except FileExistsError:
                pass
            except OSError:
                if not target.exists():
                    os.replace(temp, target)
        finally:
            if os.path.exists(temp):
                os.unlink(temp)

    def uri(self, name: str) -> str:
        return self.path(name).resolve().as_uri()


def as_writer(writer: TrafficWriter | str | Path) -> TrafficWriter:
    return writer if isinstance(writer, TrafficWriter) else LocalTrafficWriter(writer)


@dataclass(frozen=True)
class MonthFiles:
    applications: str
    labels: str


def write_month(
    batch: MonthlyBatch | Iterable[MonthlyBatch],
    writer: TrafficWriter | str | Path,
    layout: Layout | None = None,
) -> MonthFiles:
    """Write one month's applications and labels now (labels already matured, e.g. a backfill).

    `batch` is a month or its chunks (`TrafficSimulator.iter_month`), streamed to the files.
    """
    writer = as_writer(writer)
    layout = layout or Layout()
    chunks = iter([batch] if isinstance(batch, MonthlyBatch) else batch)
    first = next(chunks, None)
    if first is None:
        raise ValueError("write_month needs at least one batch")
    month = first.month
    apps_name, labels_name = layout.applications(month), layout.labels(month)
    with (
        tempfile.TemporaryDirectory(prefix="modelops-labels-") as staging,
        writer.create(apps_name) as apps_path,
    ):
        staged_labels = Path(staging, "labels.parquet")
        stream_to_parquet(_same_month(first, chunks), apps_path, staged_labels)
        with writer.create(labels_name) as labels_path:
            shutil.move(staged_labels, labels_path)
    return MonthFiles(writer.uri(apps_name), writer.uri(labels_name))


def _same_month(first: MonthlyBatch, rest: Iterator[MonthlyBatch]) -> Iterator[MonthlyBatch]:
    yield first
    for chunk in rest:
        if chunk.month != first.month:
            raise ValueError(f"chunks of months {first.month} and {chunk.month} mixed")
        yield chunk
