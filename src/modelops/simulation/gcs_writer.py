"""Simulated traffic written to a GCS bucket; the only module that needs the Google client."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from google.api_core.exceptions import PreconditionFailed

from modelops.simulation.writers import TrafficWriter, check_name

if TYPE_CHECKING:
    from google.cloud import storage


class GcsTrafficWriter(TrafficWriter):
    """Objects in a GCS bucket (a `google.cloud.storage.Bucket`), under `prefix`.

    A file is staged locally, then uploaded with `if_generation_match=0`: GCS creates the object
    only if none exists (a concurrent writer's object is kept) and an object appears only when
    its upload completes, so a crash never leaves a truncated month.
    """

    def __init__(
        self, bucket: storage.Bucket, prefix: str = "", *, chunk_size: int | None = None
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.chunk_size = chunk_size

    def object_name(self, name: str) -> str:
        return "/".join(p for p in (self.prefix, check_name(name)) if p)

    def _blob(self, name: str) -> storage.Blob:
        return self.bucket.blob(self.object_name(name), chunk_size=self.chunk_size)

    def exists(self, name: str) -> bool:
        return self._blob(name).exists()

    @contextlib.contextmanager
    def create(self, name: str) -> Iterator[Path]:
        blob = self._blob(name)
        with tempfile.TemporaryDirectory(prefix="modelops-gcs-") as staging:
            path = Path(staging, Path(name).name)
            path.touch()
            yield path
            with contextlib.suppress(PreconditionFailed):  # someone created it: theirs is kept
                blob.upload_from_filename(
                    str(path), content_type="application/vnd.apache.parquet", if_generation_match=0
                )

    def uri(self, name: str) -> str:
        return f"gs://{self.bucket.name}/{self.object_name(name)}"
