"""Versioned artifact storage: roundtrips, immutable versions, publishing and atomic writes."""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from pydantic import PrivateAttr

from modelops.resources import storage
from modelops.resources.storage import TABLE_FILE, ArtifactStore, LocalArtifactStore

UC, ASSET = "german_credit", "training_set"


def make_table(offset: int = 0) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "row_id": [1, 2, 3],
            "amount": [1169.0 + offset, 5951.0, None],
            "purpose": ["radio/television", None, "car (new)"],
            "label": pl.Series([0, 1, 0], dtype=pl.Int8),
        }
    )


@pytest.fixture
def store(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(root=str(tmp_path / "store"))


def leftovers(folder: Path) -> list[str]:
    """Temp files the atomic writes leave behind if they fail to clean up (dot-prefixed)."""
    return sorted(p.name for p in folder.rglob(".*"))


# LocalArtifactStore ---------------------------------------------------------------------------


def test_write_read_table_roundtrip(store: LocalArtifactStore, tmp_path: Path):
    table = make_table()
    uri = store.write_table(UC, ASSET, "v1", table)
    path = tmp_path / "store" / UC / ASSET / "v1" / TABLE_FILE
    assert uri == path.resolve().as_uri()
    assert path.is_file()
    assert_frame_equal(store.read_table(UC, ASSET, "v1"), table)


def test_a_version_is_never_overwritten(store: LocalArtifactStore):
    # Versions are content addresses (the fingerprint of the table): the same version means
    # the same content, so a second write under it is skipped rather than replacing the first.
    first, other = make_table(), make_table(offset=1)
    store.write_table(UC, ASSET, "v1", first)
    store.write_table(UC, ASSET, "v1", other)
    assert_frame_equal(store.read_table(UC, ASSET, "v1"), first)
    store.write_table(UC, ASSET, "v2", other)
    assert_frame_equal(store.read_table(UC, ASSET, "v2"), other)
    assert_frame_equal(store.read_table(UC, ASSET, "v1"), first)


def test_publish_sets_the_current_version(store: LocalArtifactStore):
    assert store.current_version(UC, ASSET) is None
    store.write_table(UC, ASSET, "v1", make_table())
    store.write_table(UC, ASSET, "v2", make_table(offset=1))
    # Writing a version does not publish it.
    assert store.current_version(UC, ASSET) is None
    store.publish(UC, ASSET, "v1")
    assert store.current_version(UC, ASSET) == "v1"
    assert_frame_equal(store.read_table(UC, ASSET), make_table())
    store.publish(UC, ASSET, "v2")
    assert store.current_version(UC, ASSET) == "v2"
    assert_frame_equal(store.read_table(UC, ASSET), make_table(offset=1))
    # Other assets of the use case are independent.
    assert store.current_version(UC, "holdout_set") is None


def test_read_table_without_published_version(store: LocalArtifactStore):
    store.write_table(UC, ASSET, "v1", make_table())
    with pytest.raises(FileNotFoundError, match=rf"'{UC}/{ASSET}' has never been materialized"):
        store.read_table(UC, ASSET)


def test_write_read_bytes(store: LocalArtifactStore):
    assert not store.exists(UC, "model_card", "v1", "card.md")
    store.write_bytes(UC, "model_card", "v1", "card.md", b"# card\n")
    assert store.exists(UC, "model_card", "v1", "card.md")
    assert store.read_bytes(UC, "model_card", "v1", "card.md") == b"# card\n"
    assert store.uri(UC, "model_card", "v1", "card.md").startswith("file://")


@pytest.fixture
def failing_replace(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process dies between writing the temp file and renaming it over the target."""

    def replace(src: str, dst: str) -> None:
        assert Path(src).is_file(), "the temp file is written before the rename"
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr(storage.os, "replace", replace)


def test_failed_write_bytes_leaves_no_partial_or_temp_file(
    store: LocalArtifactStore, tmp_path: Path, request: pytest.FixtureRequest
):
    store.write_bytes(UC, "model_card", "v1", "card.md", b"first")
    request.getfixturevalue("failing_replace")
    # Create-only: an existing file is kept without even attempting a write.
    store.write_bytes(UC, "model_card", "v1", "card.md", b"second")
    with pytest.raises(OSError, match="simulated crash"):
        store.write_bytes(UC, "model_card", "v2", "card.md", b"new file, never complete")
    assert store.read_bytes(UC, "model_card", "v1", "card.md") == b"first"
    assert not store.exists(UC, "model_card", "v2", "card.md")
    assert leftovers(tmp_path / "store") == []


def test_failed_write_table_leaves_nothing(
    store: LocalArtifactStore, tmp_path: Path, failing_replace: None
):
    with pytest.raises(OSError, match="simulated crash"):
        store.write_table(UC, ASSET, "v1", make_table())
    assert not store.exists(UC, ASSET, "v1", TABLE_FILE)
    assert leftovers(tmp_path / "store") == []


def test_failed_publish_keeps_the_previous_current(
    store: LocalArtifactStore, tmp_path: Path, request: pytest.FixtureRequest
):
    store.write_table(UC, ASSET, "v1", make_table())
    store.write_table(UC, ASSET, "v2", make_table(offset=1))
    store.publish(UC, ASSET, "v1")
    request.getfixturevalue("failing_replace")
    with pytest.raises(OSError, match="simulated crash"):
        store.publish(UC, ASSET, "v2")
    assert store.current_version(UC, ASSET) == "v1"
    assert_frame_equal(store.read_table(UC, ASSET), make_table())
    assert leftovers(tmp_path / "store") == []


def test_failure_while_writing_the_temp_file_leaves_nothing(
    store: LocalArtifactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A crash half-way through writing (disk full): half the bytes reach the temp file only."""
    store.write_bytes(UC, "model_card", "v1", "card.md", b"first")

    def write_half(self: Path, data: bytes) -> int:
        with open(self, "wb") as handle:
            handle.write(data[: len(data) // 2])
        raise OSError("simulated disk full")

    monkeypatch.setattr(Path, "write_bytes", write_half)
    with pytest.raises(OSError, match="disk full"):
        store.write_bytes(UC, "model_card", "v2", "card.md", b"0123456789")
    monkeypatch.undo()
    assert store.read_bytes(UC, "model_card", "v1", "card.md") == b"first"
    assert not store.exists(UC, "model_card", "v2", "card.md")
    assert leftovers(tmp_path / "store") == []


# The byte-level interface other environments implement ----------------------------------------


class InMemoryStore(ArtifactStore):
    """The smallest backend: the six byte-level calls over a dict, nothing else overridden."""

    _files: dict[tuple[str, ...], bytes] = PrivateAttr(default_factory=dict)
    _current: dict[tuple[str, str], str] = PrivateAttr(default_factory=dict)

    def write_bytes(
        self, use_case: str, asset: str, version: str, filename: str, content: bytes
    ) -> str:
        self._files[use_case, asset, version, filename] = bytes(content)
        return self.uri(use_case, asset, version, filename)

    def read_bytes(self, use_case: str, asset: str, version: str, filename: str) -> bytes:
        try:
            return self._files[use_case, asset, version, filename]
        except KeyError:
            raise FileNotFoundError(f"{use_case}/{asset}/{version}/{filename}") from None

    def exists(self, use_case: str, asset: str, version: str, filename: str) -> bool:
        return (use_case, asset, version, filename) in self._files

    def publish(self, use_case: str, asset: str, version: str) -> None:
        self._current[use_case, asset] = version

    def current_version(self, use_case: str, asset: str) -> str | None:
        return self._current.get((use_case, asset))

    def uri(self, use_case: str, asset: str, version: str, filename: str) -> str:
        return f"memory://{use_case}/{asset}/{version}/{filename}"


def test_base_table_methods_work_over_the_byte_interface():
    store = InMemoryStore()
    table = make_table()
    uri = store.write_table(UC, ASSET, "v1", table)
    assert uri == f"memory://{UC}/{ASSET}/v1/{TABLE_FILE}"
    # The table went through write_bytes as one parquet file.
    stored = store._files[UC, ASSET, "v1", TABLE_FILE]
    assert stored[:4] == b"PAR1"
    assert_frame_equal(pl.read_parquet(io.BytesIO(stored)), table)
    assert_frame_equal(store.read_table(UC, ASSET, "v1"), table)

    # Content addressing holds here too: the first table under a version stays.
    store.write_table(UC, ASSET, "v1", make_table(offset=1))
    assert_frame_equal(store.read_table(UC, ASSET, "v1"), table)

    with pytest.raises(FileNotFoundError, match="never been materialized"):
        store.read_table(UC, ASSET)
    store.write_table(UC, ASSET, "v2", make_table(offset=1))
    store.publish(UC, ASSET, "v2")
    assert store.require_current(UC, ASSET) == "v2"
    assert_frame_equal(store.read_table(UC, ASSET), make_table(offset=1))


def test_stores_do_not_share_state():
    first, second = InMemoryStore(), InMemoryStore()
    first.write_table(UC, ASSET, "v1", make_table())
    assert not second.exists(UC, ASSET, "v1", TABLE_FILE)


def test_local_store_matches_the_base_table_format(store: LocalArtifactStore):
    """The local fast path and the byte path write files the other can read."""
    table = make_table()
    memory = InMemoryStore()
    memory.write_table(UC, ASSET, "v1", table)
    store.write_bytes(UC, ASSET, "v1", TABLE_FILE, memory.read_bytes(UC, ASSET, "v1", TABLE_FILE))
    assert_frame_equal(store.read_table(UC, ASSET, "v1"), table)
    store.write_table(UC, ASSET, "v2", table)
    assert_frame_equal(ArtifactStore.read_table(store, UC, ASSET, "v2"), table)
