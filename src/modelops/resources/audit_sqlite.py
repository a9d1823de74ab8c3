"""The audit log in a local SQLite file: the embedded default, one log per platform home.

Only a write creates the file: reading, verifying or exporting where nothing was ever
recorded says so (`NoAuditLogError`) and leaves no file behind. A file that is not a readable
SQLite audit log (garbage, a directory, no permission, another application's database, which
a write leaves untouched) is named with the reason (`AuditLogError`), not passed on as a
driver error.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from modelops.governance.audit_records import APPEND_ONLY, GENESIS, HEAD_FORWARD_ONLY
from modelops.resources.audit_log import (
    AuditLog,
    AuditLogError,
    Cursor,
    mark_schema_ready,
    record_columns,
    schema_ready,
)

_SQLITE_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS audit_records (
    position INTEGER PRIMARY KEY,
    {record_columns("INTEGER")}
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
    placeholder: ClassVar[str] = "?"

    def location(self) -> str:
        return self.path

    def exists(self) -> bool:
        return Path(self.path).exists()

    @contextlib.contextmanager
    def _connection(self, *, write: bool) -> Iterator[Any]:
        import sqlite3

        target = Path(self.path)
        if not write:
            self.require_log()
        first_use = not target.exists() or not schema_ready(self.path)
        if first_use and write:
            target.parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = sqlite3.connect(
                self.path, timeout=self.lock_timeout_seconds, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise self._unreadable(exc) from None
        try:
            try:
                connection.execute("PRAGMA synchronous = FULL")
                if first_use:
                    (self._create_schema if write else self._check_schema)(connection)
            except sqlite3.DatabaseError as exc:
                raise self._unreadable(exc) from None
            yield connection
        finally:
            connection.close()

    def _check_schema(self, connection: Any) -> None:
        """Before the first read of an existing file: it holds the log's tables. A file
        without them is being created (wait for its creator's lock), was left empty by a
        creator that died (no log), or is some other database."""
        if not _has_tables(connection):
            _funlock(_flock(f"{self.path}.init.lock", self.lock_timeout_seconds, self.path))
            if not _has_tables(connection):
                if Path(self.path).stat().st_size == 0:
                    raise self._no_log()
                raise self._foreign()
        mark_schema_ready(self.path)

    def _foreign(self) -> AuditLogError:
        return AuditLogError(
            f"audit log {self.path} is an SQLite database without the audit log's tables: "
            "it is not a modelops audit log"
        )

    def _unreadable(self, exc: Exception) -> AuditLogError:
        target = Path(self.path)
        if target.is_dir():
            reason = "it is a directory"
        elif target.exists() and not os.access(target, os.R_OK | os.W_OK):
            reason = "permission denied"
        else:
            reason = str(exc)  # e.g. "file is not a database"
        return AuditLogError(f"audit log {self.path} cannot be read: {reason}")

    def _create_schema(self, connection: Any) -> None:
        # Switching a new file to WAL does not wait for SQLite's busy timeout: processes that
        # open a fresh log at the same moment take turns on a lock file instead.
        handle = _flock(f"{self.path}.init.lock", self.lock_timeout_seconds, self.location())
        try:
            if not _has_tables(connection) and _other_tables(connection):
                raise self._foreign()  # another application's database: leave it alone
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("BEGIN IMMEDIATE")
            for statement in _SQLITE_SCHEMA.split(";\n"):
                if statement.strip():
                    connection.execute(statement)
            connection.execute("COMMIT")
        finally:
            _funlock(handle)
        mark_schema_ready(self.path)

    def _tables(self) -> tuple[str, str]:
        return "audit_records", "audit_head"

    @contextlib.contextmanager
    def _transaction(self, *, write: bool = False) -> Iterator[Cursor]:
        with self._connection(write=write) as connection:
            # IMMEDIATE takes the write lock at once, so concurrent appends queue in commit
            # order; a read is one transaction, so it sees one WAL snapshot.
            connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield connection.cursor()
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise

    def _lock_name(self) -> str:
        return f"sqlite:{Path(self.path).resolve()}"

    def _acquire_cross_process(self) -> Any:
        return _flock(f"{self.path}.lock", self.lock_timeout_seconds, self.location())

    def _release_cross_process(self, handle: Any) -> None:
        _funlock(handle)


def _has_tables(connection: Any) -> bool:
    row = connection.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
        "AND name IN ('audit_records', 'audit_head')"
    ).fetchone()
    return row[0] == 2


def _other_tables(connection: Any) -> bool:
    """Whether the database holds tables that are not the audit log's."""
    row = connection.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
        "AND name NOT IN ('audit_records', 'audit_head')"
    ).fetchone()
    return row[0] > 0


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
