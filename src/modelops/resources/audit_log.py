"""The audit log (M1): every training, gate result, approval, rejection, promotion, rollback,
alert and retraining trigger, with who, when, which code, which data and which model version.

The log is append-only and hash-chained. Each record stores the hash of the record before it
(`prev_hash`, `GENESIS` for the first) and its own hash over all of its fields, `seq` and
`prev_hash` included, so editing, deleting or reordering a stored record breaks the chain at
that record, and `verify` names it. A chain alone cannot show that its last records were cut
off, so every append also moves a separate *head* (latest `seq` and hash) in the same
transaction; the head is the anchor that a truncated tail is checked against.

What this protects against, honestly: the tables refuse UPDATE and DELETE (database triggers),
so the platform and its users cannot change history by mistake; someone with DBA rights can
drop the triggers, and then `verify` is what catches the edit. Someone who rewrites the whole
chain *and* the head consistently is caught only by a copy kept out of their reach. The
platform does not keep that copy itself: `modelops audit export` writes the log (its last
line is the head) for an auditor, and a deployment should ship exports to write-once storage
(a bucket with a retention lock) on a schedule, so an old export can be compared with the
current log (docs/governance.md). The database role the platform runs as needs no right to
alter the tables, so it cannot drop the triggers (tests/test_audit_log.py).

Two backends share the format: `SqliteAuditLog` (a local file, one per platform home) and
`PostgresAuditLog` (production). `verify` reads records in *storage* order (SQLite rowid, the
Postgres identity column `position`), never re-sorted by `seq`, so a reordering shows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import hashlib
import json
import math
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import ConfigDict, field_validator

GENESIS = "0" * 64
"""The `prev_hash` of the first record and the hash of the empty log's head."""

APPEND_ONLY = "audit log is append-only"
HEAD_FORWARD_ONLY = "audit head only moves forward one record at a time"

_COLUMNS = (
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
_JSON_COLUMNS = ("data_versions", "details")


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
            for name, value in ((n, getattr(self, n)) for n in _COLUMNS)
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
    ok: bool
    checked: int
    problems: tuple[str, ...]
    first_bad_seq: int | None
    """The lowest seq the problems implicate: records before it can still be trusted."""

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


def verify_chain(
    records: Sequence[AuditRecord], *, head: AuditHead | None = None
) -> ChainVerification:
    """Check records *in the order they are stored* and name every record that breaks the chain.

    Detects an edited record (content does not match its hash), deleted records (a seq gap),
    reordered records (seq going backwards, prev_hash not linking to the record stored before)
    and, given the `head`, a truncated tail or an end of log rewritten behind the head's back.
    """
    problems: list[str] = []
    implicated: list[int] = []
    present = {record.seq for record in records}
    seen: set[int] = set()
    before: AuditRecord | None = None
    for record in records:
        issues: list[str] = []
        if _hash_or_none(record) != record.hash:
            issues.append("content does not match its hash (edited)")
        expected = before.seq + 1 if before else 1
        after = f"record {before.seq}" if before else "the start of the log"
        in_sequence = record.seq == expected
        if record.seq in seen:
            issues.append(f"appears more than once (stored again after {after})")
        elif record.seq < expected:
            issues.append(f"is stored out of order, after {after}")
        elif record.seq > expected:
            skipped = sorted(s for s in present if expected <= s < record.seq)
            absent = _ranges(expected, record.seq, skipped)
            if absent:
                follows = f"follows {after}" if before else "starts the log"
                problems.append(
                    f"{_describe_ranges(absent)} missing: record {record.seq} {follows}"
                )
                implicated.append(absent[0][0])
            # Skipped records stored further on mean this one was moved forward (or they were
            # moved back); skipped records already seen were reported where they stood.
            later = [s for s in skipped if s not in seen]
            if later:
                issues.append(f"is stored out of order, before {_describe_ranges(_runs(later))}")
        # A broken link is already explained by a seq problem; on its own it means the
        # record was moved or rewritten with a new seq.
        if in_sequence and record.prev_hash != (before.hash if before else GENESIS):
            issues.append(f"prev_hash does not link to {after} (moved or renumbered)")
        if issues:
            problems.append(f"{record.label()}: " + "; ".join(issues))
            implicated.append(record.seq)
        seen.add(record.seq)
        before = record

    if head is not None:
        last = max(records, key=lambda record: record.seq) if records else None
        last_seq = last.seq if last else 0
        if last_seq < head.seq:
            cut = _describe_ranges([(last_seq + 1, head.seq)])
            problems.append(
                f"log ends at record {last_seq} but the head says {head.seq}: {cut} missing "
                "(truncated)"
            )
            implicated.append(last_seq + 1)
        elif last is not None and last_seq > head.seq:
            problems.append(
                f"{last.label()}: beyond the head, which says the log ends at record {head.seq} "
                "(written around the log)"
            )
            implicated.append(head.seq + 1)
        elif last is not None and last.hash != head.hash:
            problems.append(f"{last.label()}: its hash does not match the head's (rewritten)")
            implicated.append(last.seq)

    return ChainVerification(
        ok=not problems,
        checked=len(records),
        problems=tuple(problems),
        first_bad_seq=min(implicated) if implicated else None,
    )


def _hash_or_none(record: AuditRecord) -> str | None:
    # Content planted by hand may not even serialise (NaN, odd types): that is an edit too.
    try:
        return record_hash(record.to_dict())
    except (TypeError, ValueError):
        return None


def _ranges(low: int, high: int, stored: Sequence[int]) -> list[tuple[int, int]]:
    """The seqs in [low, high) that are not in `stored` (sorted), as inclusive ranges."""
    gaps: list[tuple[int, int]] = []
    cursor = low
    for seq in [*stored, high]:
        if seq > cursor:
            gaps.append((cursor, seq - 1))
        cursor = max(cursor, seq + 1)
    return gaps


def _runs(seqs: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted seqs as inclusive ranges of consecutive numbers."""
    runs: list[tuple[int, int]] = []
    for seq in seqs:
        if runs and runs[-1][1] == seq - 1:
            runs[-1] = (runs[-1][0], seq)
        else:
            runs.append((seq, seq))
    return runs


def _describe_ranges(ranges: Sequence[tuple[int, int]]) -> str:
    count = sum(last - first + 1 for first, last in ranges)
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)
    return f"record {text}" if count == 1 else f"records {text}"


def load_jsonl(path: str | os.PathLike[str]) -> list[AuditRecord]:
    """Read an `export_jsonl` file back, so an auditor can run `verify_chain` on their copy."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [_record(json.loads(line)) for line in lines if line.strip()]


def _plain(value: Any, where: str) -> Any:
    """Turn details into plain JSON values, so what is hashed is what is read back."""
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        # JSON has no NaN; an undefined metric (one-class segment) must not block the record.
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Mapping):
        return {str(key): _plain(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return _plain(value.value, where)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _plain(value.item(), where)
    raise TypeError(f"audit {where} is not JSON-serialisable: {type(value).__name__}")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _next_record(event: AuditEvent, head: AuditHead) -> AuditRecord:
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
        "details": _plain(dict(event.details), "details"),
        "prev_hash": head.hash,
    }
    return AuditRecord(**content, hash=record_hash(content))


def _row(record: AuditRecord) -> tuple[Any, ...]:
    values = record.to_dict()
    for name in _JSON_COLUMNS:
        values[name] = canonical_json(values[name])
    return tuple(values[name] for name in _COLUMNS)


def _record(row: Mapping[str, Any] | Sequence[Any]) -> AuditRecord:
    values = dict(row) if isinstance(row, Mapping) else dict(zip(_COLUMNS, row, strict=True))
    for name in _JSON_COLUMNS:
        if isinstance(values[name], str):
            try:
                values[name] = json.loads(values[name])
            except json.JSONDecodeError:
                # Tampered beyond JSON: keep the text, so verify reports a hash mismatch.
                values[name] = {"<unreadable>": values[name]}
    values["seq"] = int(values["seq"])
    return AuditRecord(**{name: values[name] for name in _COLUMNS})


class _HeldLock:
    """One process's hold on a log's exclusive section: a re-entrant thread lock, and the
    cross-process lock taken by the outermost holder only."""

    def __init__(self) -> None:
        self.thread_lock = threading.RLock()
        self.depth = 0
        self.handle: Any = None


_HELD: dict[str, _HeldLock] = {}
_HELD_GUARD = threading.Lock()
_SCHEMA_READY: set[str] = set()
_SCHEMA_GUARD = threading.Lock()


def _held_lock(name: str) -> _HeldLock:
    # Keyed by location, not by resource instance: Dagster builds several instances of one
    # resource in a process, and they must exclude each other.
    with _HELD_GUARD:
        return _HELD.setdefault(name, _HeldLock())


class AuditLog(dg.ConfigurableResource):
    """Where audit records go. Subclasses implement storage; the chain logic is shared."""

    lock_timeout_seconds: float = 300.0
    """How long `append` and `exclusive` wait for another writer before giving up."""

    def append(self, event: AuditEvent) -> AuditRecord:
        """Atomically read the head, chain the record to it, write record and head."""
        raise NotImplementedError

    def records(
        self,
        *,
        use_case: str | None = None,
        events: Sequence[str] | None = None,
        since_seq: int = 0,
    ) -> list[AuditRecord]:
        """Records with seq > `since_seq`, optionally of one use case and some event kinds,
        in seq order."""
        if events is not None and not events:
            return []
        return self._select(use_case, None if events is None else list(events), since_seq)

    def verify(self) -> ChainVerification:
        """Check the stored chain, in storage order, against the head."""
        records, head = self._snapshot()
        result = verify_chain(records, head=head)
        if head is not None:
            return result
        problem = "the head is missing (deleted): the end of the log cannot be checked"
        return dataclasses.replace(result, ok=False, problems=(*result.problems, problem))

    def export_jsonl(self, path: str | os.PathLike[str]) -> int:
        """Write every record, in seq order, one canonical JSON object a line (for an auditor;
        `load_jsonl` + `verify_chain` check the copy). Returns the number of records."""
        records = self.records()
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.writelines(canonical_json(record.to_dict()) + "\n" for record in records)
            os.replace(temp, target)
        finally:
            if os.path.exists(temp):
                os.unlink(temp)
        return len(records)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """A critical section against other threads of this process and other processes, for
        read-decide-write sequences such as a promotion (read the champion, move the alias,
        append the record). Re-entrant in the holding thread; `append` inside it does not
        wait for it (appends are serialised by the database transaction)."""
        held = _held_lock(self._lock_name())
        if not held.thread_lock.acquire(timeout=self.lock_timeout_seconds):
            raise TimeoutError(f"audit log {self.location()}: exclusive section still held")
        try:
            if held.depth == 0:
                held.handle = self._acquire_cross_process()
            held.depth += 1
            try:
                yield
            finally:
                held.depth -= 1
                if held.depth == 0:
                    handle, held.handle = held.handle, None
                    self._release_cross_process(handle)
        finally:
            held.thread_lock.release()

    def location(self) -> str:
        """Where the log is, for messages (never contains a password)."""
        raise NotImplementedError

    def _head(self, row: Sequence[Any] | None) -> AuditHead:
        # Appending after a deleted head would fork the chain: refuse, loudly.
        if row is None:
            raise RuntimeError(
                f"audit log {self.location()}: the head is missing, so the log has been "
                "tampered with; nothing can be appended until it is investigated (verify)"
            )
        return AuditHead(int(row[0]), str(row[1]))

    # Backend hooks.

    def _select(
        self, use_case: str | None, events: list[str] | None, since_seq: int
    ) -> list[AuditRecord]:
        raise NotImplementedError

    def _snapshot(self) -> tuple[list[AuditRecord], AuditHead | None]:
        """All records in storage order and the head, read in one consistent snapshot (an
        append between two reads would look like tampering)."""
        raise NotImplementedError

    def _lock_name(self) -> str:
        raise NotImplementedError

    def _acquire_cross_process(self) -> Any:
        raise NotImplementedError

    def _release_cross_process(self, handle: Any) -> None:
        raise NotImplementedError


def _where(
    use_case: str | None, events: list[str] | None, since_seq: int, placeholder: str
) -> tuple[str, list[Any]]:
    clauses, params = ["seq > " + placeholder], [since_seq]
    if use_case is not None:
        clauses.append("use_case = " + placeholder)
        params.append(use_case)
    if events is not None:
        clauses.append(f"event IN ({', '.join([placeholder] * len(events))})")
        params.extend(events)
    return " AND ".join(clauses), params


_SQLITE_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS audit_records (
    position INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    recorded_at TEXT NOT NULL,
    event TEXT NOT NULL,
    actor TEXT NOT NULL,
    use_case TEXT NOT NULL,
    reason TEXT NOT NULL,
    model_version TEXT,
    data_versions TEXT NOT NULL,
    code_version TEXT,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_records_use_case ON audit_records (use_case, seq);
CREATE TABLE IF NOT EXISTS audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT OR IGNORE INTO audit_head (id, seq, hash) VALUES (1, 0, '{GENESIS}');
CREATE TRIGGER IF NOT EXISTS audit_records_no_update BEFORE UPDATE ON audit_records
BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END;
CREATE TRIGGER IF NOT EXISTS audit_records_no_delete BEFORE DELETE ON audit_records
BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END;
CREATE TRIGGER IF NOT EXISTS audit_head_forward_only BEFORE UPDATE ON audit_head
WHEN NEW.id <> OLD.id OR NEW.seq <> OLD.seq + 1
BEGIN SELECT RAISE(ABORT, '{HEAD_FORWARD_ONLY}'); END;
CREATE TRIGGER IF NOT EXISTS audit_head_no_delete BEFORE DELETE ON audit_head
BEGIN SELECT RAISE(ABORT, '{HEAD_FORWARD_ONLY}'); END;
"""


class SqliteAuditLog(AuditLog):
    """The log in a local SQLite file (WAL). Appends are `BEGIN IMMEDIATE` transactions, so
    threads and processes writing the same file are serialised by SQLite; `exclusive()` is
    an flock on `<path>.lock`, and creating the tables an flock on `<path>.init.lock`."""

    path: str

    def location(self) -> str:
        return self.path

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Any]:
        import sqlite3

        target = Path(self.path)
        first_use = not target.exists() or self.path not in _SCHEMA_READY
        if first_use:
            target.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(
            self.path, timeout=self.lock_timeout_seconds, isolation_level=None
        )
        try:
            connection.execute("PRAGMA synchronous = FULL")
            if first_use:
                self._create_schema(connection)
            yield connection
        finally:
            connection.close()

    def _create_schema(self, connection: Any) -> None:
        # Switching a new file to WAL does not wait for SQLite's busy timeout: processes that
        # open a fresh log at the same moment take turns on a lock file instead.
        handle = _flock(f"{self.path}.init.lock", self.lock_timeout_seconds, self.location())
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("BEGIN IMMEDIATE")
            for statement in _SQLITE_SCHEMA.split(";\n"):
                if statement.strip():
                    connection.execute(statement)
            connection.execute("COMMIT")
        finally:
            _funlock(handle)
        with _SCHEMA_GUARD:
            _SCHEMA_READY.add(self.path)

    def append(self, event: AuditEvent) -> AuditRecord:
        with self._connection() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                head = connection.execute("SELECT seq, hash FROM audit_head WHERE id = 1")
                record = _next_record(event, self._head(head.fetchone()))
                connection.execute(
                    f"INSERT INTO audit_records ({', '.join(_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * len(_COLUMNS))})",
                    _row(record),
                )
                connection.execute(
                    "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1",
                    (record.seq, record.hash),
                )
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        return record

    def _select(
        self, use_case: str | None, events: list[str] | None, since_seq: int
    ) -> list[AuditRecord]:
        where, params = _where(use_case, events, since_seq, "?")
        with self._connection() as connection:
            rows = connection.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM audit_records WHERE {where} ORDER BY seq",
                params,
            ).fetchall()
        return [_record(row) for row in rows]

    def _snapshot(self) -> tuple[list[AuditRecord], AuditHead | None]:
        with self._connection() as connection:
            connection.execute("BEGIN")  # one read transaction: one WAL snapshot
            try:
                rows = connection.execute(
                    f"SELECT {', '.join(_COLUMNS)} FROM audit_records ORDER BY position"
                ).fetchall()
                head = connection.execute(
                    "SELECT seq, hash FROM audit_head WHERE id = 1"
                ).fetchone()
            finally:
                connection.execute("COMMIT")
        return [_record(row) for row in rows], AuditHead(*head) if head else None

    def _lock_name(self) -> str:
        return f"sqlite:{Path(self.path).resolve()}"

    def _acquire_cross_process(self) -> Any:
        return _flock(f"{self.path}.lock", self.lock_timeout_seconds, self.location())

    def _release_cross_process(self, handle: Any) -> None:
        _funlock(handle)


def _flock(path: str, timeout_seconds: float, location: str) -> int:
    """An exclusive flock on `path` (created if missing), waiting at most `timeout_seconds`;
    returns the open descriptor that holds it."""
    import fcntl

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(handle)
                raise TimeoutError(f"audit log {location}: another process holds {path}") from None
            time.sleep(0.02)


def _funlock(handle: int) -> None:
    import fcntl

    try:
        fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        os.close(handle)


_TABLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,39}$")


def advisory_lock_key(name: str) -> int:
    """A stable signed 64-bit key for `pg_advisory_lock`, derived from a name."""
    digest = hashlib.sha256(f"modelops.audit_log:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _postgres_schema(table: str) -> str:
    head = f"{table}_head"
    return f"""
CREATE TABLE IF NOT EXISTS "{table}" (
    position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    seq BIGINT NOT NULL UNIQUE,
    recorded_at TEXT NOT NULL,
    event TEXT NOT NULL,
    actor TEXT NOT NULL,
    use_case TEXT NOT NULL,
    reason TEXT NOT NULL,
    model_version TEXT,
    data_versions TEXT NOT NULL,
    code_version TEXT,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS "{table}_use_case" ON "{table}" (use_case, seq);
CREATE TABLE IF NOT EXISTS "{head}" (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO "{head}" (id, seq, hash) VALUES (1, 0, '{GENESIS}') ON CONFLICT (id) DO NOTHING;
CREATE OR REPLACE FUNCTION "{table}_refuse_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{APPEND_ONLY} (% refused on %)', TG_OP, TG_TABLE_NAME;
END $$;
CREATE OR REPLACE TRIGGER "{table}_append_only" BEFORE UPDATE OR DELETE ON "{table}"
    FOR EACH ROW EXECUTE FUNCTION "{table}_refuse_change"();
CREATE OR REPLACE TRIGGER "{table}_no_truncate" BEFORE TRUNCATE ON "{table}"
    FOR EACH STATEMENT EXECUTE FUNCTION "{table}_refuse_change"();
CREATE OR REPLACE FUNCTION "{head}_forward_only"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' THEN
        RAISE EXCEPTION '{HEAD_FORWARD_ONLY} (% refused on %)', TG_OP, TG_TABLE_NAME;
    END IF;
    IF NEW.id <> OLD.id OR NEW.seq <> OLD.seq + 1 THEN
        RAISE EXCEPTION '{HEAD_FORWARD_ONLY} (seq % -> % refused)', OLD.seq, NEW.seq;
    END IF;
    RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER "{head}_forward_only" BEFORE UPDATE OR DELETE ON "{head}"
    FOR EACH ROW EXECUTE FUNCTION "{head}_forward_only"();
CREATE OR REPLACE TRIGGER "{head}_no_truncate" BEFORE TRUNCATE ON "{head}"
    FOR EACH STATEMENT EXECUTE FUNCTION "{head}_forward_only"();
"""


class PostgresAuditLog(AuditLog):
    """The log in PostgreSQL: table `<table>` (records, identity column `position` gives the
    storage order) and `<table>_head`. An append locks the head row (`FOR UPDATE`), so
    concurrent writers queue in commit order; `exclusive()` holds a session-level advisory
    lock on a dedicated connection (if that connection drops, the lock is released with it)."""

    # The password must never appear in a validation error, a log line or a run's config.
    model_config = ConfigDict(hide_input_in_errors=True)

    dsn: str
    """libpq URL or key=value string without a password, e.g.
    `postgresql://modelops@db:5432/modelops`; libpq reads the password from PGPASSWORD (or
    ~/.pgpass)."""
    table: str = "modelops_audit_log"

    @field_validator("dsn", mode="before")
    @classmethod
    def _no_password(cls, dsn: Any) -> Any:
        from psycopg2.extensions import parse_dsn

        # An EnvVar is only its name here; it comes back through this check with its value
        # when Dagster resolves the resource for a run.
        if not isinstance(dsn, str) or isinstance(dsn, dg.EnvVar):
            return dsn
        try:
            parsed = parse_dsn(dsn)
        except Exception:  # the parser's message would quote the dsn
            raise ValueError("the audit log dsn is not a valid libpq connection string") from None
        if parsed.get("password"):
            raise ValueError(
                "the audit log dsn contains a password: remove it and set PGPASSWORD "
                "(read by libpq) from a secret instead"
            )
        return dsn

    @field_validator("table")
    @classmethod
    def _plain_table_name(cls, table: str) -> str:
        if not _TABLE_NAME.match(table):
            raise ValueError(
                f"audit log table {table!r}: use lowercase letters, digits and _ (max 40)"
            )
        return table

    def location(self) -> str:
        return f"{self.dsn} (table {self.table})"

    def _connect(self) -> Any:
        import psycopg2

        return psycopg2.connect(self.dsn, application_name="modelops-audit-log")

    @contextlib.contextmanager
    def _transaction(self, *, snapshot: bool = False) -> Iterator[Any]:
        """A cursor in one transaction, committed on success; the connection is closed."""
        self._ensure_schema()
        connection = self._connect()
        try:
            if snapshot:
                connection.set_session(isolation_level="REPEATABLE READ", readonly=True)
            with connection.cursor() as cursor:
                cursor.execute(
                    "SET LOCAL lock_timeout = %s", (f"{int(self.lock_timeout_seconds * 1000)}ms",)
                )
                yield cursor
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.close()

    def _ensure_schema(self) -> None:
        key = f"{self.dsn}#{self.table}"
        if key in _SCHEMA_READY:
            return
        connection = self._connect()
        try:
            with connection.cursor() as cursor:
                # Tables created once (by their owner) are left alone: the runtime role then
                # needs no DDL right, only SELECT/INSERT on the records and SELECT/UPDATE on
                # the head, and cannot drop the append-only triggers (docs/governance.md).
                cursor.execute(
                    "SELECT to_regclass(%s) IS NOT NULL AND to_regclass(%s) IS NOT NULL",
                    (f'"{self.table}"', f'"{self.table}_head"'),
                )
                exists = cursor.fetchone()[0]
                if not exists:
                    # Concurrent first uses would race on CREATE TABLE IF NOT EXISTS. A key
                    # apart from exclusive()'s, so a holder of exclusive() can create them.
                    cursor.execute(
                        "SELECT pg_advisory_xact_lock(%s)",
                        (advisory_lock_key(f"{self.table}:schema"),),
                    )
                    cursor.execute(_postgres_schema(self.table))
            connection.commit()
        finally:
            connection.close()
        with _SCHEMA_GUARD:
            _SCHEMA_READY.add(key)

    def append(self, event: AuditEvent) -> AuditRecord:
        with self._transaction() as cursor:
            cursor.execute(f'SELECT seq, hash FROM "{self.table}_head" WHERE id = 1 FOR UPDATE')
            record = _next_record(event, self._head(cursor.fetchone()))
            cursor.execute(
                f'INSERT INTO "{self.table}" ({", ".join(_COLUMNS)}) '
                f"VALUES ({', '.join(['%s'] * len(_COLUMNS))})",
                _row(record),
            )
            cursor.execute(
                f'UPDATE "{self.table}_head" SET seq = %s, hash = %s WHERE id = 1',
                (record.seq, record.hash),
            )
        return record

    def _select(
        self, use_case: str | None, events: list[str] | None, since_seq: int
    ) -> list[AuditRecord]:
        where, params = _where(use_case, events, since_seq, "%s")
        with self._transaction() as cursor:
            cursor.execute(
                f'SELECT {", ".join(_COLUMNS)} FROM "{self.table}" WHERE {where} ORDER BY seq',
                params,
            )
            rows = cursor.fetchall()
        return [_record(row) for row in rows]

    def _snapshot(self) -> tuple[list[AuditRecord], AuditHead | None]:
        with self._transaction(snapshot=True) as cursor:
            cursor.execute(f'SELECT {", ".join(_COLUMNS)} FROM "{self.table}" ORDER BY position')
            rows = cursor.fetchall()
            cursor.execute(f'SELECT seq, hash FROM "{self.table}_head" WHERE id = 1')
            head = cursor.fetchone()
        return [_record(row) for row in rows], AuditHead(*head) if head else None

    def _lock_name(self) -> str:
        return f"postgres:{self.dsn}#{self.table}"

    def _acquire_cross_process(self) -> Any:
        import psycopg2

        connection = self._connect()
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SET lock_timeout = %s", (f"{int(self.lock_timeout_seconds * 1000)}ms",)
                )
                cursor.execute("SELECT pg_advisory_lock(%s)", (advisory_lock_key(self.table),))
        except psycopg2.errors.LockNotAvailable:
            connection.close()
            raise TimeoutError(
                f"audit log {self.location()}: another session holds the exclusive lock"
            ) from None
        except BaseException:
            connection.close()
            raise
        return connection

    def _release_cross_process(self, handle: Any) -> None:
        try:
            with handle.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", (advisory_lock_key(self.table),))
        finally:
            handle.close()
