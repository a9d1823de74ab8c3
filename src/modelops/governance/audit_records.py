"""The audit log's records: what an event says, how it is chained, how it is stored as a row.

Every training, gate result, approval, rejection, promotion, rollback, alert and retraining
trigger is recorded with who, when, which code, which data and which model version. Each
record stores the hash of the record before it (`prev_hash`, `GENESIS` for the first) and its
own hash over all of its fields, `seq` and `prev_hash` included, so editing, deleting or
reordering a stored record breaks the chain at that record (`audit_chain.verify_chain` names
it). Plain Python: the storage backends live in `resources/` (`audit_log`, `audit_sqlite`,
`audit_postgres`) and share this format.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
"""The `prev_hash` of the first record and the hash of the empty log's head."""

APPEND_ONLY = "audit log is append-only"
HEAD_FORWARD_ONLY = "audit head only moves forward one record at a time"

COLUMNS = (
    "seq",
    "recorded_at",
    "event",
    "actor",
    "use_case",
    "reason",
    "model_version",
    "data_versions",
    "code_version",
    "details",
    "prev_hash",
    "hash",
)
JSON_COLUMNS = ("data_versions", "details")


@dataclass(frozen=True)
class AuditEvent:
    """What a caller appends; the log adds seq, time and the hashes."""

    event: str
    """training, gate_thresholds, gate_result, approval, rejection, promotion, rollback, alert,
    retraining_trigger, reproduction, ..."""
    actor: str
    """Who: a person's email, or `dagster:<sensor or run id>` for automation."""
    use_case: str
    reason: str = ""
    model_version: str | None = None
    data_versions: Mapping[str, str] = field(default_factory=dict)
    """Dataset name -> version (content fingerprint) the event was about."""
    code_version: str | None = None
    """Git commit and/or code version of the code that acted."""
    details: Mapping[str, Any] = field(default_factory=dict)
    """JSON-serialisable facts (metrics, thresholds, run ids)."""

    def __post_init__(self) -> None:
        # An audit record without a kind or an actor answers neither "what" nor "who".
        for name in ("event", "actor"):
            if not str(getattr(self, name)).strip():
                raise ValueError(f"an audit event needs a non-empty {name!r}")


@dataclass(frozen=True)
class AuditRecord:
    """A stored event: the event's fields plus its place in the chain."""

    seq: int
    recorded_at: str
    """ISO-8601 UTC with microseconds and a `Z` suffix, e.g. 2026-05-01T09:30:00.123456Z."""
    event: str
    actor: str
    use_case: str
    reason: str
    model_version: str | None
    data_versions: dict[str, str]
    code_version: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            name: (dict(value) if isinstance(value, dict) else value)
            for name, value in ((n, getattr(self, n)) for n in COLUMNS)
        }

    def label(self) -> str:
        """How problems name a record: `record 7 (approval, german_credit, 2026-...)`."""
        return f"record {self.seq} ({self.event}, {self.use_case}, {self.recorded_at})"


@dataclass(frozen=True)
class AuditHead:
    """The latest seq and hash, kept apart from the records: the anchor for truncation."""

    seq: int
    hash: str


@dataclass(frozen=True)
class ChainVerification:
    """What `verify_chain` found in a log, or in an auditor's copy of one."""

    checked: int
    """Records read, in the order they are stored."""
    problems: tuple[str, ...]
    """One sentence a problem, naming the record(s) it is about."""
    first_bad_seq: int | None
    """The lowest seq the problems implicate: records before it can still be trusted."""

    @property
    def ok(self) -> bool:
        """Intact: no problem found."""
        return not self.problems

    def text(self) -> str:
        if self.ok:
            return f"audit log intact: {self.checked} records, chain and head agree"
        return f"audit log TAMPERED ({len(self.problems)} problems): " + "; ".join(self.problems)


def canonical_json(value: Any) -> str:
    """The one serialisation that is hashed: sorted keys, no spaces, UTF-8 kept as is."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def record_hash(record_without_hash: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of every field except `hash` (seq and prev_hash included,
    so a record moved to another place in the chain no longer matches its hash)."""
    content = {name: value for name, value in record_without_hash.items() if name != "hash"}
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


def load_jsonl(path: str | os.PathLike[str]) -> list[AuditRecord]:
    """Read an `export_jsonl` file back, so an auditor can run `verify_chain` on their copy."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [row_record(json.loads(line)) for line in lines if line.strip()]


def plain_json(value: Any, where: str) -> Any:
    """Turn details into plain JSON values, so what is hashed is what is read back."""
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        # JSON has no NaN; an undefined metric (one-class segment) must not block the record.
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Mapping):
        return {str(key): plain_json(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return plain_json(value.value, where)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return plain_json(value.item(), where)
    raise TypeError(f"audit {where} is not JSON-serialisable: {type(value).__name__}")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def next_record(event: AuditEvent, head: AuditHead) -> AuditRecord:
    """The record that follows `head`: called inside the append transaction, with the head
    locked, so seq, prev_hash and time are taken in commit order."""
    content: dict[str, Any] = {
        "seq": head.seq + 1,
        "recorded_at": _now(),
        "event": event.event,
        "actor": event.actor,
        "use_case": event.use_case,
        "reason": event.reason,
        "model_version": event.model_version,
        "data_versions": {str(k): str(v) for k, v in event.data_versions.items()},
        "code_version": event.code_version,
        "details": plain_json(dict(event.details), "details"),
        "prev_hash": head.hash,
    }
    return AuditRecord(**content, hash=record_hash(content))


def record_row(record: AuditRecord) -> tuple[Any, ...]:
    values = record.to_dict()
    for name in JSON_COLUMNS:
        values[name] = canonical_json(values[name])
    return tuple(values[name] for name in COLUMNS)


def row_record(row: Mapping[str, Any] | Sequence[Any]) -> AuditRecord:
    values = dict(row) if isinstance(row, Mapping) else dict(zip(COLUMNS, row, strict=True))
    for name in JSON_COLUMNS:
        if isinstance(values[name], str):
            try:
                values[name] = json.loads(values[name])
            except json.JSONDecodeError:
                # Tampered beyond JSON: keep the text, so verify reports a hash mismatch.
                values[name] = {"<unreadable>": values[name]}
    values["seq"] = int(values["seq"])
    return AuditRecord(**{name: values[name] for name in COLUMNS})
