"""Traffic files appear whole or not at all and are never replaced, locally and in GCS."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from modelops.simulation import writers
from modelops.simulation.gcs_writer import GcsTrafficWriter
from modelops.simulation.simulator import TrafficSimulator
from modelops.simulation.writers import Layout, LocalTrafficWriter, write_month

if TYPE_CHECKING:
    from support.gcs_emulator import EmulatorBucket


def read(path: Path) -> pl.DataFrame:
    return pl.read_parquet(path)


def test_write_month_streams_chunks_and_writes_both_files(
    sim: TrafficSimulator, tmp_path: Path, rows: int
):
    files = write_month(sim.iter_month(2, rows), tmp_path, Layout(prefix="german_credit"))
    folder = tmp_path / "german_credit"
    assert files.applications == (folder / "production" / "2025-03.parquet").resolve().as_uri()
    month = sim.month(2, rows)
    assert_frame_equal(read(folder / "production" / "2025-03.parquet"), month.applications)
    assert_frame_equal(read(folder / "labels" / "2025-03.parquet"), month.labels)
    mixed = [*sim.iter_month(0, 10), *sim.iter_month(1, 10)]
    with pytest.raises(ValueError, match="mixed"):
        write_month(mixed, tmp_path / "mixed")
    assert not list((tmp_path / "mixed").rglob("*.parquet"))


# The local writer is atomic and create-only ----------------------------------------------------


def test_a_crash_half_way_through_a_month_leaves_no_file(
    sim: TrafficSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: int
):
    original = TrafficSimulator.iter_month

    def dies_after_one_chunk(self: TrafficSimulator, *args: object, **kwargs: object):
        chunks = original(self, *args, **kwargs)
        yield next(chunks)
        raise OSError("simulated crash while generating")

    month = sim.month_name(0)
    target = tmp_path / "production" / f"{month}.parquet"
    with monkeypatch.context() as patch, pytest.raises(OSError, match="simulated crash"):
        patch.setattr(TrafficSimulator, "iter_month", dies_after_one_chunk)
        sim.simulate(1, rows, None, tmp_path, on_progress=lambda p: None)
    assert not target.exists()
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == []
    sim.simulate(1, rows, None, tmp_path, on_progress=lambda p: None)
    assert read(target).height == rows


def test_the_local_writer_publishes_whole_files_once(tmp_path: Path):
    writer = LocalTrafficWriter(tmp_path)
    with writer.create("labels/2025-01.parquet") as temp:
        # While being written the content sits in a hidden temp file beside the target.
        assert temp.parent == tmp_path / "labels" and temp.name.startswith(".")
        temp.write_bytes(b"first")
        assert not writer.exists("labels/2025-01.parquet")
    with writer.create("labels/2025-01.parquet") as temp:
        temp.write_bytes(b"second")
    assert (tmp_path / "labels" / "2025-01.parquet").read_bytes() == b"first"
    with pytest.raises(RuntimeError), writer.create("labels/2025-02.parquet") as temp:
        temp.write_bytes(b"half")
        raise RuntimeError("crash")
    assert sorted(p.name for p in (tmp_path / "labels").iterdir()) == ["2025-01.parquet"]
    with pytest.raises(ValueError, match="safe"):
        writer.exists("../outside.parquet")


def test_the_local_writer_renames_where_hard_links_are_unsupported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    def no_links(src: str, dst: str) -> None:
        raise OSError(errno.EPERM, "hard links not supported")

    monkeypatch.setattr(writers.os, "link", no_links)
    writer = LocalTrafficWriter(tmp_path)
    with writer.create("a.parquet") as temp:
        temp.write_bytes(b"content")
    assert (tmp_path / "a.parquet").read_bytes() == b"content"
    assert os.listdir(tmp_path) == ["a.parquet"]


def test_only_the_gcs_writer_imports_the_google_client():
    """Simulating into a local folder never needs google-cloud-storage installed or loaded."""
    probe = (
        "import sys\n"
        "import modelops.simulation.simulator, modelops.simulation.writers\n"
        "assert not [m for m in sys.modules if m.startswith('google')], 'google loaded'\n"
        "import modelops.simulation.gcs_writer\n"
        "assert 'google.api_core.exceptions' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True)


# The GCS writer, against the emulator -----------------------------------------------------------


@pytest.mark.integration
def test_simulating_into_a_gcs_bucket(sim: TrafficSimulator, gcs_bucket: EmulatorBucket):
    bucket = gcs_bucket.client().bucket(gcs_bucket.name)
    writer = GcsTrafficWriter(bucket, prefix="traffic/german_credit")
    summary = sim.simulate(4, 1_000, None, writer, on_progress=lambda p: None)
    months = [sim.month_name(i) for i in range(4)]
    assert gcs_bucket.object_names() == sorted(
        [f"traffic/german_credit/production/{m}.parquet" for m in months]
        + ["traffic/german_credit/labels/2025-01.parquet"]
    )
    assert summary.labels == [
        f"gs://{gcs_bucket.name}/traffic/german_credit/labels/2025-01.parquet"
    ]
    stored = gcs_bucket.download(f"traffic/german_credit/production/{months[2]}.parquet")
    assert_frame_equal(pl.read_parquet(stored), sim.month(2, 1_000).applications)
    # Every object was created with a create-only precondition, once.
    uploads = [r for r in gcs_bucket.server.requests() if "POST /upload/" in r]
    uploads = [r for r in uploads if f"/b/{gcs_bucket.name}/o?" in r]
    assert len(uploads) == 5 and all("ifGenerationMatch=0" in r for r in uploads), uploads
    again = sim.simulate(4, 1_000, None, writer, on_progress=lambda p: None)
    assert again.applications == []


def test_the_gcs_writer_keeps_a_concurrent_writers_object(
    gcs_bucket: EmulatorBucket, monkeypatch: pytest.MonkeyPatch
):
    """GCS answers 412 when the object appeared meanwhile (simulated: the emulator does not
    enforce preconditions); the writer keeps that object instead of failing the month."""
    from google.api_core.exceptions import PreconditionFailed
    from google.cloud import storage

    writer = GcsTrafficWriter(gcs_bucket.client().bucket(gcs_bucket.name))
    gcs_bucket.upload("production/2025-01.parquet", b"winner")

    def refused(self: storage.Blob, filename: str, **kwargs: object) -> None:
        assert kwargs.get("if_generation_match") == 0
        raise PreconditionFailed("At least one of the pre-conditions you specified did not hold.")

    with monkeypatch.context() as patch, writer.create("production/2025-01.parquet") as temp:
        patch.setattr(storage.Blob, "upload_from_filename", refused)
        temp.write_bytes(b"loser")
    assert gcs_bucket.download("production/2025-01.parquet") == b"winner"
    with pytest.raises(RuntimeError), writer.create("production/2025-02.parquet") as temp:
        temp.write_bytes(b"half a month")
        raise RuntimeError("crash before the upload")
    assert gcs_bucket.object_names() == ["production/2025-01.parquet"]
    assert writer.uri("production/2025-01.parquet") == (
        f"gs://{gcs_bucket.name}/production/2025-01.parquet"
    )
