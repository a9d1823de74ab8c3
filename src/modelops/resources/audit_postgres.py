"""The audit log in PostgreSQL: production, shared by every pod and operator.

A database connection can drop at any time (a restarted server, a failover, a backend
terminated by a DBA). Reads then reconnect, a bounded number of times; a write is never
retried (its commit may have landed) and says what is known of it. Writes inside the exclusive
section go through the session that holds the section's lock, so they commit only while the
lock is held: if that session ends, the write fails, nothing is written and the section ends.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import dagster as dg
from pydantic import ConfigDict, field_validator

from modelops.governance.audit_records import (
    APPEND_ONLY,
    GENESIS,
    HEAD_FORWARD_ONLY,
    AuditHead,
    AuditRecord,
)
from modelops.resources.audit_log import (
    AuditLog,
    AuditLogError,
    Cursor,
    mark_schema_ready,
    record_columns,
    schema_ready,
)
from modelops.resources.postgres_connection import (
    READ_ATTEMPTS,
    connect,
    connection_lost,
    first_line,
    holds_advisory_lock,
    retrying,
)

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
    {record_columns("BIGINT")}
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
    placeholder: ClassVar[str] = "%s"
    lock_head: ClassVar[str] = " FOR UPDATE"

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
        from modelops.settings import redact

        return f"{redact(self.dsn)} (table {self.table})"

    def _records(
        self, use_case: str | None, events: Sequence[str] | None, since_seq: int
    ) -> list[AuditRecord]:
        read = super()._records
        return retrying(lambda: read(use_case, events, since_seq), self._lost)

    def _snapshot(self) -> tuple[list[AuditRecord], AuditHead | None]:
        return retrying(super()._snapshot, self._lost)

    def _lost(self, error: BaseException) -> AuditLogError:
        return AuditLogError(
            f"audit log {self.location()}: the database connection was lost and "
            f"{READ_ATTEMPTS} attempts to reconnect failed ({first_line(error)})"
        )

    def _connect(self) -> Any:
        return connect(self.dsn, "modelops-audit-log")

    def _tables(self) -> tuple[str, str]:
        return f'"{self.table}"', f'"{self.table}_head"'

    @contextlib.contextmanager
    def _transaction(self, *, write: bool = False) -> Iterator[Cursor]:
        # A write locks the head row (`lock_head`), so concurrent appends queue in commit
        # order; a read is one read-only snapshot (repeated by `retrying` if the connection
        # drops). A write inside the exclusive section goes through the section's session.
        section = self._section_handle() if write else None
        try:
            self._ensure_schema()
            with (
                self._section_write(section)
                if section is not None
                else self._fresh_transaction(write=write)
            ) as cursor:
                yield cursor
        except Exception as error:
            if not write or isinstance(error, AuditLogError) or not connection_lost(error):
                raise
            raise self._write_lost(error, in_section=section is not None) from error

    @contextlib.contextmanager
    def _fresh_transaction(self, *, write: bool) -> Iterator[Cursor]:
        connection = self._connect()
        try:
            if not write:
                connection.set_session(isolation_level="REPEATABLE READ", readonly=True)
            with connection.cursor() as cursor:
                self._set_lock_timeout(cursor, local=True)
                yield cursor
            self._commit(connection, write=write, in_section=False)
        except BaseException:
            if not connection.closed:
                connection.rollback()
            raise
        finally:
            connection.close()

    @contextlib.contextmanager
    def _section_write(self, connection: Any) -> Iterator[Cursor]:
        """One transaction on the session holding the section's lock, after checking that the
        lock is still held: it can only commit while the session, and so the lock, lives."""
        if connection.closed:  # an earlier write of this section found the session gone
            raise self._write_lost(None, in_section=True, detail="its database session ended")
        connection.autocommit = False
        try:
            with connection.cursor() as cursor:
                self._set_lock_timeout(cursor, local=True)
                if not holds_advisory_lock(cursor, advisory_lock_key(self.table)):
                    raise self._write_lost(
                        None, in_section=True, detail="no longer held by its database session"
                    )
                yield cursor
            self._commit(connection, write=True, in_section=True)
        except BaseException:
            if not connection.closed:
                connection.rollback()
            raise
        finally:
            if not connection.closed:
                connection.autocommit = True

    def _commit(self, connection: Any, *, write: bool, in_section: bool) -> None:
        try:
            connection.commit()
        except Exception as error:
            if write and connection_lost(error):
                # Sent, then lost: the server may have committed before the connection went.
                raise self._write_lost(error, in_section=in_section, committing=True) from error
            raise

    def _write_lost(
        self,
        error: BaseException | None,
        *,
        in_section: bool,
        committing: bool = False,
        detail: str = "",
    ) -> AuditLogError:
        """The error of a write whose connection, or whose section's lock, was lost."""
        if committing:
            outcome = (
                "the record may or may not have been written: check with `modelops audit show`"
            )
        elif in_section:  # what the section committed before stays (an approval, say)
            outcome = "this record was not written: `modelops status` shows what was recorded"
        else:
            outcome = "nothing was written"
        reason = first_line(error) if error is not None else ""
        if not in_section:
            return AuditLogError(
                f"audit log {self.location()}: the database connection was lost while "
                f"appending ({reason}); {outcome}"
            )
        detail = detail or f"its database session ended: {reason}"
        return AuditLogError(
            f"audit log {self.location()}: the exclusive section's lock was lost ({detail}); "
            f"the section was aborted and {outcome}"
        )

    def _set_lock_timeout(self, cursor: Cursor, *, local: bool) -> None:
        scope = "SET LOCAL" if local else "SET"
        cursor.execute(
            f"{scope} lock_timeout = %s", (f"{int(self.lock_timeout_seconds * 1000)}ms",)
        )

    def _ensure_schema(self) -> None:
        key = f"{self.dsn}#{self.table}"
        if schema_ready(key):
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
        mark_schema_ready(key)

    def _lock_name(self) -> str:
        return f"postgres:{self.dsn}#{self.table}"

    def _acquire_cross_process(self) -> Any:
        # Taking the lock writes nothing: retried like a read if the connection drops.
        return retrying(self._take_lock, self._lost)

    def _take_lock(self) -> Any:
        import psycopg2

        connection = self._connect()
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                self._set_lock_timeout(cursor, local=False)
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
        import psycopg2

        try:
            if not handle.closed:
                with handle.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_advisory_unlock(%s)", (advisory_lock_key(self.table),)
                    )
        except psycopg2.Error:
            pass  # the session is gone, and its lock ended with it; closing ends it anyway
        finally:
            handle.close()
