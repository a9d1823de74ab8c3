"""The `gcp` environment: artifacts in Google Cloud Storage, sources in GCS or BigQuery.

Only imported when MODELOPS_ENV is `gcp` or `k8s` (`defs/environments.py`), so the Google
clients are imported at module top here and never by the local code location.

Layout in the bucket (the same as the local store, under a prefix):

    <prefix>/<use case>/<asset>/<version>/<file>     immutable: created once, never replaced
    <prefix>/<use case>/<asset>/CURRENT              the published version, replaced atomically

A GCS object appears only when its upload completes (single request or finalized resumable
upload), so a crashed step never leaves a truncated file under a good name; `CURRENT` is one
object, so publishing is atomic too.
"""

from __future__ import annotations

import contextlib
import hashlib
import mimetypes
from typing import Any

from dagster_gcp import BigQueryResource, GCSResource
from google.api_core.exceptions import NotFound, PreconditionFailed
from google.cloud import storage
from google.cloud.storage.retry import DEFAULT_RETRY
from pydantic import PrivateAttr

from modelops.resources.bigquery import read_source
from modelops.resources.source import DataSource
from modelops.resources.storage import ArtifactStore
from modelops.settings import GcpSettings
from modelops.spec import Source, UseCaseSpec

_CURRENT = "CURRENT"
_UNSAFE_PARTS = ("", ".", "..")


class GcsArtifactStore(ArtifactStore):
    """Versioned artifacts in a GCS bucket: create-only version objects, one CURRENT pointer."""

    gcs: GCSResource
    bucket: str
    prefix: str = "modelops"
    chunk_size: int | None = None
    """Bytes per request of a resumable upload (objects over 8 MiB), a multiple of 256 KiB;
    None = the client's default (100 MiB)."""

    _bucket: Any = PrivateAttr(default=None)

    def _bucket_handle(self) -> storage.Bucket:
        # One client per resource instance: creating it resolves credentials.
        if self._bucket is None:
            self._bucket = self.gcs.get_client().bucket(self.bucket)
        return self._bucket

    def object_name(self, use_case: str, asset: str, *rest: str) -> str:
        parts = (use_case, asset, *rest)
        for part in parts:
            if part in _UNSAFE_PARTS or "/" in part:
                raise ValueError(f"{part!r} cannot be part of an artifact name ({parts})")
        return "/".join(p for p in (self.prefix.strip("/"), *parts) if p)

    def _blob(self, name: str) -> storage.Blob:
        return self._bucket_handle().blob(name, chunk_size=self.chunk_size)

    def write_bytes(
        self, use_case: str, asset: str, version: str, filename: str, content: bytes
    ) -> str:
        """Create the object unless it exists. `if_generation_match=0` makes GCS refuse the
        upload if another writer created the object meanwhile (their copy is kept) and makes
        the upload safe for the client to retry; the `exists` check first avoids sending a
        large unchanged batch again."""
        name = self.object_name(use_case, asset, version, filename)
        blob = self._blob(name)
        if not blob.exists():
            content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
            # PreconditionFailed: a concurrent writer created this version; theirs is kept.
            with contextlib.suppress(PreconditionFailed):
                blob.upload_from_string(content, content_type=content_type, if_generation_match=0)
        return self._uri(name)

    def read_bytes(self, use_case: str, asset: str, version: str, filename: str) -> bytes:
        name = self.object_name(use_case, asset, version, filename)
        try:
            return self._blob(name).download_as_bytes()
        except NotFound:
            raise FileNotFoundError(
                f"{self._uri(name)} does not exist: version '{version}' of "
                f"'{use_case}/{asset}' was never written to this store"
            ) from None

    def exists(self, use_case: str, asset: str, version: str, filename: str) -> bool:
        return self._blob(self.object_name(use_case, asset, version, filename)).exists()

    def publish(self, use_case: str, asset: str, version: str) -> None:
        # Writing the same pointer twice is harmless, so a retried upload is safe: the client
        # only retries uploads without a precondition when told to.
        self._blob(self.object_name(use_case, asset, _CURRENT)).upload_from_string(
            version.encode(), content_type="text/plain", retry=DEFAULT_RETRY
        )

    def current_version(self, use_case: str, asset: str) -> str | None:
        try:
            content = self._blob(self.object_name(use_case, asset, _CURRENT)).download_as_bytes()
        except NotFound:
            return None
        return content.decode().strip() or None

    def uri(self, use_case: str, asset: str, version: str, filename: str) -> str:
        return self._uri(self.object_name(use_case, asset, version, filename))

    def _uri(self, name: str) -> str:
        return f"gs://{self.bucket}/{name}"

    def link(self, use_case: str, asset: str, version: str, filename: str) -> str:
        """The object in the Cloud console's authenticated browser view (https)."""
        name = self.object_name(use_case, asset, version, filename)
        return f"https://storage.cloud.google.com/{self.bucket}/{name}"


class GcsFileSource(DataSource):
    """Raw batches on GCP: a file in GCS (`source.path`: `gs://bucket/object`, or an object
    name in `bucket`), or a BigQuery table/query (`source.bigquery`) read as Parquet."""

    gcs: GCSResource
    bigquery: BigQueryResource
    bucket: str
    maximum_bytes_billed: int | None = None
    """Cost guard for BigQuery sources: a query that would scan more fails instead."""

    _client: Any = PrivateAttr(default=None)

    def _storage(self) -> storage.Client:
        if self._client is None:
            self._client = self.gcs.get_client()
        return self._client

    def _object(self, source: Source) -> tuple[str, str]:
        if source.path is None:
            raise ValueError(f"source {source.description} is not a file")
        if source.path.startswith("gs://"):
            bucket, _, name = source.path.removeprefix("gs://").partition("/")
            if not bucket or not name:
                raise ValueError(f"{source.path!r} is not a gs://bucket/object URI")
            return bucket, name
        return self.bucket, source.path.lstrip("/")

    def location(self, source: Source) -> str:
        bigquery = source.bigquery
        if bigquery is None:
            bucket, name = self._object(source)
            return f"gs://{bucket}/{name}"
        if bigquery.table is not None:
            return f"bigquery://{bigquery.table}"
        digest = hashlib.sha256((bigquery.query or "").encode()).hexdigest()[:12]
        return f"bigquery://{self.bigquery.project or 'default'}/query/{digest}"

    def probe(self, source: Source) -> str | None:
        """The object's generation (a new upload is a new generation); None if absent.
        A BigQuery source has no cheap change token: None, so sensors do not poll it."""
        if source.bigquery is not None:
            return None
        bucket, name = self._object(source)
        blob = self._storage().bucket(bucket).get_blob(name)
        return None if blob is None else str(blob.generation)

    def read_bytes(self, source: Source, spec: UseCaseSpec | None = None) -> bytes:
        """The batch as delivered: the object's bytes, or a BigQuery result as Parquet.

        A BigQuery source needs the use case's `spec`: only its declared columns are selected.
        """
        if source.bigquery is not None:
            if spec is None:
                raise ValueError(
                    f"reading BigQuery source {source.description} needs the use case's spec "
                    "(its declared columns are what the query selects): call "
                    "read_bytes(source, spec)"
                )
            with self.bigquery.get_client() as client:
                return read_source(
                    client, source, spec, maximum_bytes_billed=self.maximum_bytes_billed
                )
        bucket, name = self._object(source)
        try:
            return self._storage().bucket(bucket).blob(name).download_as_bytes()
        except NotFound:
            raise FileNotFoundError(
                f"source object gs://{bucket}/{name} does not exist (spec source.path)"
            ) from None


def gcp_resources(gcp: GcpSettings) -> tuple[GcsArtifactStore, GcsFileSource]:
    """The store and the source for MODELOPS_ENV=gcp/k8s; credentials come from the
    environment (workload identity or GOOGLE_APPLICATION_CREDENTIALS), never from settings."""
    gcs = GCSResource(project=gcp.project)
    return (
        GcsArtifactStore(gcs=gcs, bucket=gcp.bucket, prefix=gcp.prefix),
        GcsFileSource(gcs=gcs, bigquery=BigQueryResource(project=gcp.project), bucket=gcp.bucket),
    )
