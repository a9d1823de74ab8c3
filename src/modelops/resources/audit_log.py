"""The audit log resource: where audit records go, per environment.

The records and their chain are `governance.audit_records`; this is the storage contract
shared by the backends (`audit_sqlite` locally, `audit_postgres` in production): atomic
appends that move a separate *head* (latest `seq` and hash) in the same transaction, reads in
storage order for verification, and an exclusive section for read-decide-write sequences.

What this protects against, honestly: the tables refuse UPDATE and DELETE (database triggers),
so the platform and its users cannot change history by mistake; someone with DBA rights can
drop the triggers, and then `verify` is what catches the edit. Someone who rewrites the whole
chain *and* the head consistently is caught only by a copy kept out of their reach: `modelops
audit export` writes the log for an auditor, to be shipped to write-once storage on a schedule
(docs/governance.md). The platform's database role needs no right to alter the tables, so it
cannot drop the triggers (tests/unit/resources/test_audit_log.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, ClassVar, Protocol

import dagster as dg

from modelops.governance.audit_chain import verify_chain
from modelops.governance.audit_records import (
    COLUMNS,
    AuditEvent,
    AuditHead,
    AuditRecord,
    ChainVerification,
    canonical_json,
    next_record,
    record_row,
    row_record,
)
from modelops.governance.signatures import sign_if_due


class Cursor(Protocol):
    """The DB-API cursor both backends hand out (sqlite3, psycopg2)."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> object: ...

    def fetchone(self) -> Sequence[Any] | None: ...

    def fetchall(self) -> list[Sequence[Any]]: ...


class AuditLogError(RuntimeError):
    """The audit log cannot be read or written; the message names the log and the reason."""


class NoAuditLogError(AuditLogError):
    """Nothing was ever recorded at the configured location: there is no log to verify,
    show or export. Reading records there finds none, and creates nothing."""


class _HeldLock:
    """One process's hold on a log's exclusive section: a re-entrant thread lock, and the
    cross-process lock taken by the outermost holder only."""

    def __init__(self) -> None:
        self.thread_lock = threading.RLock()
        self.depth = 0
        self.handle: Any = None
        self.owner: int | None = None
        """The thread holding the section (its writes go through the section's handle)."""


_HELD: dict[str, _HeldLock] = {}
_HELD_GUARD = threading.Lock()
_SCHEMA_READY: set[str] = set()
_SCHEMA_GUARD = threading.Lock()


def schema_ready(key: str) -> bool:
    """Whether this process already created (or found) the tables of the log at `key`."""
    return key in _SCHEMA_READY


def mark_schema_ready(key: str) -> None:
    with _SCHEMA_GUARD:
        _SCHEMA_READY.add(key)


def _held_lock(name: str) -> _HeldLock:
    # Keyed by location, not by resource instance: Dagster builds several instances of one
    # resource in a process, and they must exclude each other.
    with _HELD_GUARD:
        return _HELD.setdefault(name, _HeldLock())


class AuditLog(dg.ConfigurableResource):
    """Where audit records go. The chain and its SQL are shared; a backend supplies its
    tables, its placeholder, its transactions and its cross-process lock."""

    lock_timeout_seconds: float = 300.0
    """How long `append` and `exclusive` wait for another writer before giving up."""

    placeholder: ClassVar[str]
    """How the backend's driver marks a query parameter (`?`, `%s`)."""
    lock_head: ClassVar[str] = ""
    """Appended to the head's read in `append` where the backend locks the row that way."""

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Before a run uses the log: one that cannot be read (garbage, another application's
        database, a server that does not answer) fails the run at its start, named, rather
        than after the model was trained and registered. No log yet is fine: the first
        record creates it."""
        self.records(since_seq=2**62)

    def append(self, event: AuditEvent) -> AuditRecord:
        """Atomically read the head, chain the record to it, write record and head. An action
        of the person signing now (`signatures.signing_as`) is signed first."""
        event = sign_if_due(event)
        records_table, head_table = self._tables()
        mark = self.placeholder
        with self._transaction(write=True) as cursor:
            cursor.execute(f"SELECT seq, hash FROM {head_table} WHERE id = 1{self.lock_head}")
            record = next_record(event, self._head(cursor.fetchone()))
            cursor.execute(
                f"INSERT INTO {records_table} ({', '.join(COLUMNS)}) "
                f"VALUES ({', '.join([mark] * len(COLUMNS))})",
                record_row(record),
            )
            cursor.execute(
                f"UPDATE {head_table} SET seq = {mark}, hash = {mark} WHERE id = 1",
                (record.seq, record.hash),
            )
        return record

    def records(
        self,
        *,
        use_case: str | None = None,
        events: Sequence[str] | None = None,
        since_seq: int = 0,
    ) -> list[AuditRecord]:
        """Records with seq > `since_seq`, optionally of one use case and some event kinds,
        in seq order; none where no log exists yet (reading creates no log)."""
        try:
            return self._records(use_case, events, since_seq)
        except NoAuditLogError:
            return []

    def _records(
        self, use_case: str | None, events: Sequence[str] | None, since_seq: int
    ) -> list[AuditRecord]:
        if events is not None and not events:
            return []
        where, params = _where_clause(
            use_case, None if events is None else list(events), since_seq, self.placeholder
        )
        records_table, _ = self._tables()
        with self._transaction() as cursor:
            cursor.execute(
                f"SELECT {', '.join(COLUMNS)} FROM {records_table} WHERE {where} ORDER BY seq",
                params,
            )
            rows = cursor.fetchall()
        return [row_record(row) for row in rows]

    def verify(self) -> ChainVerification:
        """Check the stored chain, in storage order, against the head; `NoAuditLogError`
        where there is no log (an empty chain would read as intact)."""
        self.require_log()
        records, head = self._snapshot()
        result = verify_chain(records, head=head)
        if head is not None:
            return result
        problem = "the head is missing (deleted): the end of the log cannot be checked"
        return dataclasses.replace(result, problems=(*result.problems, problem))

    def head(self) -> AuditHead:
        """The latest seq and hash (what an anchor keeps); the log must exist."""
        self.require_log()
        _, head = self._snapshot()
        if head is None:
            raise RuntimeError(f"audit log {self.location()}: the head is missing (verify)")
        return head

    def export_jsonl(self, path: str | os.PathLike[str]) -> int:
        """Write every record, in seq order, one canonical JSON object a line (for an auditor;
        `load_jsonl` + `verify_chain` check the copy). Returns the number of records.
        `NoAuditLogError` where there is no log; `AuditLogError` naming the file and the
        reason when it cannot be written (nothing is left behind then) or is not a regular
        file."""
        self.require_log()
        records = self.records()
        target = Path(path)
        # The copy replaces the target: a device, a pipe or a folder must stay as it is.
        blocker = next((p for p in target.parents if p.exists() and not p.is_dir()), None)
        if blocker is not None or (target.exists() and not target.is_file()):
            reason = f"{blocker} is not a folder" if blocker else "it is not a regular file"
            raise AuditLogError(f"cannot write the audit log export to {target}: {reason}")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    out.writelines(canonical_json(r.to_dict()) + "\n" for r in records)
                os.replace(temp, target)
            finally:
                if os.path.exists(temp):
                    os.unlink(temp)
        except OSError as exc:
            raise AuditLogError(
                f"cannot write the audit log export to {target}: {exc.strerror or exc}"
            ) from None
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
                held.owner = threading.get_ident()
            held.depth += 1
            try:
                yield
            finally:
                held.depth -= 1
                if held.depth == 0:
                    handle, held.handle, held.owner = held.handle, None, None
                    self._release_cross_process(handle)
        finally:
            held.thread_lock.release()

    def location(self) -> str:
        """Where the log is, for messages (never contains a password)."""
        raise NotImplementedError

    def exists(self) -> bool:
        """Whether there is a log to read. A backend that creates its tables on first use
        always has one; one that does not (SQLite) says whether anything was recorded."""
        return True

    def require_log(self) -> None:
        """`NoAuditLogError` where there is no log: zero records must not read as an empty,
        intact log (verify, show, export)."""
        if not self.exists():
            raise self._no_log()

    def _no_log(self) -> NoAuditLogError:
        return NoAuditLogError(
            f"there is no audit log at {self.location()}: nothing has been recorded there "
            "(check MODELOPS_HOME or MODELOPS_AUDIT_DATABASE_URL)"
        )

    def _section_handle(self) -> Any:
        """The cross-process lock's handle if this thread is inside the exclusive section,
        else None: a backend whose lock lives on a connection writes through it there."""
        held = _held_lock(self._lock_name())
        return held.handle if held.owner == threading.get_ident() else None

    def _head(self, row: Sequence[Any] | None) -> AuditHead:
        # Appending after a deleted head would fork the chain: refuse, loudly.
        if row is None:
            raise RuntimeError(
                f"audit log {self.location()}: the head is missing, so the log has been "
                "tampered with; nothing can be appended until it is investigated (verify)"
            )
        return AuditHead(int(row[0]), str(row[1]))

    def _snapshot(self) -> tuple[list[AuditRecord], AuditHead | None]:
        """All records in storage order and the head, read in one transaction: one consistent
        snapshot (an append between two reads would look like tampering)."""
        records_table, head_table = self._tables()
        with self._transaction() as cursor:
            cursor.execute(f"SELECT {', '.join(COLUMNS)} FROM {records_table} ORDER BY position")
            rows = cursor.fetchall()
            cursor.execute(f"SELECT seq, hash FROM {head_table} WHERE id = 1")
            head = cursor.fetchone()
        return [row_record(row) for row in rows], AuditHead(*head) if head else None

    # Backend hooks.

    def _tables(self) -> tuple[str, str]:
        """The records table and the head table, quoted as the SQL needs them."""
        raise NotImplementedError

    def _transaction(self, *, write: bool = False) -> AbstractContextManager[Cursor]:
        """A cursor in one transaction, committed on success, rolled back on failure. A read
        sees one consistent snapshot; a write queues behind other writers."""
        raise NotImplementedError

    def _lock_name(self) -> str:
        raise NotImplementedError

    def _acquire_cross_process(self) -> Any:
        raise NotImplementedError

    def _release_cross_process(self, handle: Any) -> None:
        raise NotImplementedError


def record_columns(integer: str) -> str:
    """The records table's columns after `position`, for either dialect (only `seq`'s integer
    type differs). `position` is the storage order `verify` reads in, never re-sorted by seq,
    so a reordering shows."""
    return f"""seq {integer} NOT NULL UNIQUE,
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
    hash TEXT NOT NULL"""


def _where_clause(
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
