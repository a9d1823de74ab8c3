"""Small in-memory resources for the dagster tier: single assets and sensors run against them
with `dg.materialize` and `dg.build_sensor_context`, without files, servers or MLflow; and a
model record to put in them."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime

from pydantic import Field

from modelops.governance.model_record import ModelRecord
from modelops.resources.source import DataSource
from modelops.resources.storage import ArtifactStore
from modelops.spec import Source, UseCaseSpec

_FILES: dict[str, dict[tuple[str, ...], bytes]] = defaultdict(dict)
_CURRENT: dict[str, dict[tuple[str, str], str]] = defaultdict(dict)
_SOURCES: dict[str, dict[str, tuple[bytes, str]]] = defaultdict(dict)


def model_record(**changes: object) -> ModelRecord:
    """A German credit model record, version 1, with placeholder values but for `changes`."""
    return ModelRecord.model_validate(
        {
            "registered_name": "german_credit",
            "version": "1",
            "run_id": "r",
            "experiment_id": "e",
            "model_uri": "models:/german_credit/1",
            "training_set_version": "t",
            "holdout_set_version": "h",
            "trained_at": datetime(2025, 1, 1, tzinfo=UTC),
            "training_rows": 700,
            "training_positive_rate": 0.3,
            "estimator": "sklearn.linear_model.LogisticRegression",
            "code_version": "c",
            "git_commit": "g",
            "lock_sha256": "l",
            "trained_by": "anna.berg@bank.example",
            "artifact_sha256": "a",
            "risk_tier": "high",
            **changes,
        }
    )


def _space() -> str:
    return uuid.uuid4().hex


class MemoryArtifactStore(ArtifactStore):
    """The artifact store's contract (immutable version folders, CURRENT published last) in
    memory. Dagster rebuilds resources from their config for each run, so the contents live
    in module dicts under the store's `space`, not on the instance."""

    space: str = Field(default_factory=_space)

    @property
    def _files(self) -> dict[tuple[str, ...], bytes]:
        return _FILES[self.space]

    @property
    def _current(self) -> dict[tuple[str, str], str]:
        return _CURRENT[self.space]

    def write_bytes(
        self, use_case: str, asset: str, version: str, filename: str, content: bytes
    ) -> str:
        self._files.setdefault((use_case, asset, version, filename), content)
        return self.uri(use_case, asset, version, filename)

    def read_bytes(self, use_case: str, asset: str, version: str, filename: str) -> bytes:
        try:
            return self._files[(use_case, asset, version, filename)]
        except KeyError:
            raise FileNotFoundError(f"{use_case}/{asset}/{version}/{filename}") from None

    def exists(self, use_case: str, asset: str, version: str, filename: str) -> bool:
        return (use_case, asset, version, filename) in self._files

    def publish(self, use_case: str, asset: str, version: str) -> None:
        self._current[(use_case, asset)] = version

    def current_version(self, use_case: str, asset: str) -> str | None:
        return self._current.get((use_case, asset))

    def uri(self, use_case: str, asset: str, version: str, filename: str) -> str:
        return f"memory://{use_case}/{asset}/{version}/{filename}"

    def versions(self, use_case: str, asset: str) -> set[str]:
        return {v for (uc, a, v, _) in self._files if (uc, a) == (use_case, asset)}


class MemorySource(DataSource):
    """Files by path, each with a change token a sensor can probe (kept like the store's)."""

    space: str = Field(default_factory=_space)

    @property
    def _files(self) -> dict[str, tuple[bytes, str]]:
        return _SOURCES[self.space]

    def put(self, path: str, content: bytes, token: str = "1") -> None:
        self._files[path] = (content, token)

    def _entry(self, source: Source) -> tuple[bytes, str] | None:
        return self._files.get(str(source.path))

    def read_bytes(self, source: Source, spec: UseCaseSpec | None = None) -> bytes:
        entry = self._entry(source)
        if entry is None:
            raise FileNotFoundError(f"source file {source.path} does not exist")
        return entry[0]

    def location(self, source: Source) -> str:
        return f"memory://{source.path}"

    def probe(self, source: Source) -> str | None:
        entry = self._entry(source)
        return None if entry is None else entry[1]
