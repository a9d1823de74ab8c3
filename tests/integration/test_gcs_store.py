"""The GCS artifact store and file source against a real GCS API (gcp-storage-emulator) with the
real google-cloud-storage client.

Not verified here: authentication (the emulator takes anonymous credentials), GCS's own
enforcement of `ifGenerationMatch=0` (the emulator ignores preconditions; we check that the
client sends it, and simulate GCS's 412 answer once), IAM and retention policies.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import polars as pl
import pytest
from google.api_core.exceptions import PreconditionFailed
from google.cloud import storage
from google.cloud.storage._media.requests.upload import ResumableUpload
from polars.testing import assert_frame_equal

from modelops.resources.gcs import GcsArtifactStore, GcsFileSource, gcp_resources
from modelops.resources.storage import TABLE_FILE
from modelops.settings import GcpSettings
from modelops.spec import BigQuerySource, Source
from support import GERMAN_DATA

if TYPE_CHECKING:
    from support.gcs_emulator import EmulatorBucket


UC, ASSET = "credit", "training_set"


def make_store(bucket: EmulatorBucket, **fields: object) -> GcsArtifactStore:
    store, _ = gcp_resources(GcpSettings(project="test-project", bucket=bucket.name, prefix="mo"))
    return store.model_copy(update=fields)


def make_table(offset: int = 0) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "row_id": [1, 2, 3],
            "amount": [100.5 + offset, 2500.0, 13.25],
            "purpose": pl.Series(["car", "tv", None], dtype=pl.Categorical),
        }
    )


def test_gcp_resources_follow_the_settings(gcs_bucket: EmulatorBucket):
    store, source = gcp_resources(GcpSettings(project="p-1", bucket=gcs_bucket.name, prefix="a/b"))
    assert isinstance(store, GcsArtifactStore) and isinstance(source, GcsFileSource)
    assert (store.bucket, store.prefix, store.gcs.project) == (gcs_bucket.name, "a/b", "p-1")
    assert (source.bucket, source.bigquery.project) == (gcs_bucket.name, "p-1")
    assert store.uri(UC, ASSET, "v1", TABLE_FILE) == (
        f"gs://{gcs_bucket.name}/a/b/{UC}/{ASSET}/v1/{TABLE_FILE}"
    )


def test_table_roundtrip_through_the_bucket(gcs_bucket: EmulatorBucket):
    table = make_table()
    uri = make_store(gcs_bucket).write_table(UC, ASSET, "v1", table)
    assert uri == f"gs://{gcs_bucket.name}/mo/{UC}/{ASSET}/v1/{TABLE_FILE}"
    assert gcs_bucket.object_names() == [f"mo/{UC}/{ASSET}/v1/{TABLE_FILE}"]
    # A new store (new client, no shared state) reads it back from the emulator.
    fresh = make_store(gcs_bucket)
    assert fresh.exists(UC, ASSET, "v1", TABLE_FILE)
    assert_frame_equal(fresh.read_table(UC, ASSET, "v1"), table)
    stored = gcs_bucket.download(f"mo/{UC}/{ASSET}/v1/{TABLE_FILE}")
    assert_frame_equal(pl.read_parquet(io.BytesIO(stored)), table)


def test_a_version_is_created_once_and_kept(gcs_bucket: EmulatorBucket):
    store = make_store(gcs_bucket)
    store.write_bytes(UC, "model_card", "v1", "card.md", b"first")
    store.write_bytes(UC, "model_card", "v1", "card.md", b"second")
    store.write_table(UC, ASSET, "v1", make_table())
    store.write_table(UC, ASSET, "v1", make_table(offset=1))
    assert store.read_bytes(UC, "model_card", "v1", "card.md") == b"first"
    assert_frame_equal(store.read_table(UC, ASSET, "v1"), make_table())
    # One upload per object, each asking GCS to refuse it if the object exists.
    uploads = [r for r in gcs_bucket.server.requests() if f"/b/{gcs_bucket.name}/o?" in r]
    uploads = [r for r in uploads if "POST /upload/" in r]
    assert len(uploads) == 2, uploads
    assert all("ifGenerationMatch=0" in r for r in uploads), uploads


def test_a_concurrent_writer_that_wins_the_race_is_kept(
    gcs_bucket: EmulatorBucket, monkeypatch: pytest.MonkeyPatch
):
    """Both writers saw no object; GCS answers the second upload with 412 (simulated: the
    emulator does not enforce preconditions). The loser keeps the winner's object."""
    store = make_store(gcs_bucket)
    store.write_bytes(UC, "model_card", "v1", "card.md", b"winner")

    def refused(self: storage.Blob, *args: object, **kwargs: object) -> None:
        assert kwargs.get("if_generation_match") == 0
        raise PreconditionFailed("At least one of the pre-conditions you specified did not hold.")

    with monkeypatch.context() as patch:
        patch.setattr(storage.Blob, "exists", lambda self, *a, **k: False)
        patch.setattr(storage.Blob, "upload_from_string", refused)
        uri = store.write_bytes(UC, "model_card", "v1", "card.md", b"loser")
    assert uri == store.uri(UC, "model_card", "v1", "card.md")
    assert store.read_bytes(UC, "model_card", "v1", "card.md") == b"winner"


def test_publish_moves_the_current_pointer(gcs_bucket: EmulatorBucket):
    store = make_store(gcs_bucket)
    assert store.current_version(UC, ASSET) is None
    store.write_table(UC, ASSET, "v1", make_table())
    store.write_table(UC, ASSET, "v2", make_table(offset=1))
    assert store.current_version(UC, ASSET) is None  # writing does not publish
    store.publish(UC, ASSET, "v1")
    assert store.current_version(UC, ASSET) == "v1"
    assert_frame_equal(store.read_table(UC, ASSET), make_table())
    store.publish(UC, ASSET, "v2")
    assert make_store(gcs_bucket).current_version(UC, ASSET) == "v2"
    assert_frame_equal(store.read_table(UC, ASSET), make_table(offset=1))
    assert gcs_bucket.download(f"mo/{UC}/{ASSET}/CURRENT") == b"v2"
    assert store.current_version(UC, "holdout_set") is None


def test_an_upload_that_dies_half_way_leaves_no_object(
    gcs_bucket: EmulatorBucket, monkeypatch: pytest.MonkeyPatch
):
    """A 9 MiB object goes up in 256 KiB chunks; the process dies after the first one."""
    store = make_store(gcs_bucket, chunk_size=256 * 1024)
    content = bytes(range(256)) * (9 * 4096)
    original = ResumableUpload.transmit_next_chunk
    sent: list[int] = []

    def dies_after_one_chunk(self: ResumableUpload, *args: object, **kwargs: object) -> object:
        if sent:
            raise ConnectionError("simulated crash during the upload")
        sent.append(1)
        return original(self, *args, **kwargs)

    with monkeypatch.context() as patch, pytest.raises(ConnectionError, match="simulated"):
        patch.setattr(ResumableUpload, "transmit_next_chunk", dies_after_one_chunk)
        store.write_bytes(UC, ASSET, "v1", "batch.parquet", content)
    assert sent == [1], "the first chunk reached the emulator"
    assert gcs_bucket.object_names() == []
    assert not store.exists(UC, ASSET, "v1", "batch.parquet")
    # The next attempt writes the whole object.
    store.write_bytes(UC, ASSET, "v1", "batch.parquet", content)
    assert store.read_bytes(UC, ASSET, "v1", "batch.parquet") == content


def test_reading_what_was_never_written_says_so(gcs_bucket: EmulatorBucket):
    store = make_store(gcs_bucket)
    expected = rf"gs://{gcs_bucket.name}/mo/{UC}/{ASSET}/v9/{TABLE_FILE} does not exist"
    with pytest.raises(FileNotFoundError, match=expected):
        store.read_table(UC, ASSET, "v9")
    with pytest.raises(FileNotFoundError, match=f"'{UC}/{ASSET}' has never been materialized"):
        store.read_table(UC, ASSET)
    with pytest.raises(ValueError, match="cannot be part of an artifact name"):
        store.read_bytes(UC, ASSET, "..", "x")


def test_source_reads_csv_and_parquet_objects(gcs_bucket: EmulatorBucket):
    _, source = gcp_resources(GcpSettings(project="test-project", bucket=gcs_bucket.name))
    gcs_bucket.upload("raw/german_credit.csv", GERMAN_DATA.read_bytes())
    by_name = Source(path="raw/german_credit.csv")
    by_uri = Source(path=f"gs://{gcs_bucket.name}/raw/german_credit.csv")
    assert source.read_bytes(by_name) == GERMAN_DATA.read_bytes()
    assert source.read_bytes(by_uri) == GERMAN_DATA.read_bytes()
    assert source.location(by_name) == f"gs://{gcs_bucket.name}/raw/german_credit.csv"
    csv = source.read(by_uri)
    assert csv.height == 1000 and csv.schema["duration_in_month"] == pl.String

    buffer = io.BytesIO()
    make_table().write_parquet(buffer)
    gcs_bucket.upload("raw/batch.parquet", buffer.getvalue())
    parquet = source.read(Source(path="raw/batch.parquet"))
    assert_frame_equal(parquet, make_table())

    with pytest.raises(FileNotFoundError, match=rf"gs://{gcs_bucket.name}/raw/missing.csv"):
        source.read_bytes(Source(path="raw/missing.csv"))


def test_source_locations_and_bigquery_needs_the_spec(gcs_bucket: EmulatorBucket):
    _, source = gcp_resources(GcpSettings(project="proj-1", bucket=gcs_bucket.name))
    table = Source(bigquery=BigQuerySource(table="proj-1.lending.applications"))
    query = Source(bigquery=BigQuerySource(query="SELECT 1 AS a"))
    assert source.location(table) == "bigquery://proj-1.lending.applications"
    assert source.location(query).startswith("bigquery://proj-1/query/")
    with pytest.raises(ValueError, match="needs the use case's spec"):
        source.read_bytes(table)
