"""The Postgres audit log when its database sessions are killed (`pg_terminate_backend`), on
the real server: reads reconnect a bounded number of times; a write inside the exclusive
section whose lock session was killed writes nothing, ends the section and says so.

Backends are terminated for real: the one holding the section's advisory lock (found in
pg_locks), or each new connection the log opens (a server dropping every session). Last, a
real `modelops approve` on a platform trained with its audit log in Postgres, whose lock
session is killed between the approval and the promotion it triggers.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from modelops.governance.audit_records import AuditEvent
from modelops.governance.history import CHAMPION
from modelops.resources import postgres_connection
from modelops.resources.audit_log import AuditLogError
from modelops.resources.audit_postgres import PostgresAuditLog, advisory_lock_key
from modelops.resources.tracking import ModelTracking
from support import copy_german_spec, make_settings
from support.platform_cli import cli

if TYPE_CHECKING:
    from support.postgres import PostgresServer

UC = "german_credit"
KILLED = (
    r"\((terminating connection due to administrator command"
    r"|server closed the connection unexpectedly)\)"
)


@dataclass
class Database:
    """A log on its own table, and a superuser session that can see and kill its backends."""

    server: PostgresServer
    name: str
    log: PostgresAuditLog
    admin: Any

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.admin.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def rows(self) -> list[tuple[Any, ...]]:
        """Everything stored: the records table and the head, for 'nothing changed'."""
        table = self.log.table
        return [
            *self.sql(f'SELECT * FROM "{table}" ORDER BY position'),
            *self.sql(f'SELECT * FROM "{table}_head"'),
        ]

    def lock_holder(self) -> int | None:
        return _lock_holder(self.admin, self.log.table)

    def terminate(self, pid: int) -> None:
        _terminate(self.admin, pid)


def _lock_holder(admin: Any, table: str) -> int | None:
    """The backend pid holding the exclusive advisory lock of the log in `table`, if any."""
    key = advisory_lock_key(table) & 0xFFFF_FFFF_FFFF_FFFF
    with admin.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s::oid "
            "AND objid = %s::oid AND objsubid = 1 AND granted",
            (key >> 32, key & 0xFFFF_FFFF),
        )
        found = cursor.fetchone()
    return found[0] if found else None


def _terminate(admin: Any, pid: int) -> None:
    """Kill a backend and wait (up to 5 s) until it is gone."""
    with admin.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
        assert cursor.fetchone() == (True,)


@pytest.fixture(scope="module")
def database_name(postgres_database: Callable[[], str]) -> str:
    return postgres_database()


@pytest.fixture
def db(postgres_server: PostgresServer, database_name: str) -> Iterator[Database]:
    server = postgres_server
    dsn = f"postgresql://{server.user}@{server.host}:{server.port}/{database_name}"
    log = PostgresAuditLog(dsn=dsn, table=f"faults_{secrets.token_hex(4)}")
    admin = server.connect(database_name)
    admin.autocommit = True
    try:
        yield Database(server, database_name, log, admin)
    finally:
        admin.close()


@pytest.fixture
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres_connection, "RETRY_PAUSE_SECONDS", 0.01)


def _kill_new_connections(
    monkeypatch: pytest.MonkeyPatch, db: Database, times: int | None
) -> list[int]:
    """Terminate the backend of each of the next `times` connections the log opens (all of
    them when None), right after they connect; returns the pids killed."""
    killed: list[int] = []
    connect = PostgresAuditLog._connect

    def connect_then_kill(log: PostgresAuditLog) -> Any:
        connection = connect(log)
        if times is None or len(killed) < times:
            pid = connection.get_backend_pid()
            db.terminate(pid)
            killed.append(pid)
        return connection

    monkeypatch.setattr(PostgresAuditLog, "_connect", connect_then_kill)
    return killed


def _event(reason: str) -> AuditEvent:
    return AuditEvent(event="approval", actor="val@bank.example", use_case=UC, reason=reason)


def _location(db: Database) -> str:
    server = db.server
    return (
        f"postgresql://{server.user}@{server.host}:{server.port}/{db.name} (table {db.log.table})"
    )


# Reads ------------------------------------------------------------------------------------


def test_a_read_reconnects_when_its_backend_is_terminated(
    db: Database, monkeypatch: pytest.MonkeyPatch, no_pause: None
) -> None:
    written = [db.log.append(_event(str(index))) for index in range(3)]
    killed = _kill_new_connections(monkeypatch, db, times=2)

    assert db.log.records() == written
    assert len(killed) == 2  # two sessions died under the read; the third answered

    killed.clear()
    verification = db.log.verify()
    assert verification.ok and verification.checked == 3
    assert len(killed) == 2


def test_a_read_gives_up_after_bounded_attempts_with_a_named_error(
    db: Database, monkeypatch: pytest.MonkeyPatch, no_pause: None
) -> None:
    db.log.append(_event("before"))
    killed = _kill_new_connections(monkeypatch, db, times=None)

    with pytest.raises(AuditLogError) as caught:
        db.log.records()

    assert len(killed) == postgres_connection.READ_ATTEMPTS == 3
    assert re.fullmatch(
        re.escape(f"audit log {_location(db)}: the database connection was lost and 3 ")
        + re.escape("attempts to reconnect failed ")
        + KILLED,
        str(caught.value),
    ), caught.value


def test_taking_the_exclusive_lock_reconnects_too(
    db: Database, monkeypatch: pytest.MonkeyPatch, no_pause: None
) -> None:
    db.log.append(_event("schema ready"))
    killed = _kill_new_connections(monkeypatch, db, times=1)

    with db.log.exclusive():
        assert db.lock_holder() is not None
        db.log.append(_event("inside"))

    assert len(killed) == 1
    assert db.lock_holder() is None
    assert [r.reason for r in db.log.records()] == ["schema ready", "inside"]


# Writes -----------------------------------------------------------------------------------


def test_a_write_inside_the_section_aborts_when_the_lock_session_is_killed(
    db: Database,
) -> None:
    db.log.append(_event("approval 1"))
    before = db.rows()

    with pytest.raises(AuditLogError) as caught, db.log.exclusive():
        holder = db.lock_holder()
        assert holder is not None
        db.terminate(holder)
        db.log.append(_event("promotion without the lock"))

    assert re.fullmatch(
        re.escape(f"audit log {_location(db)}: the exclusive section's lock was lost ")
        + r"\(its database session ended: "
        + KILLED[2:-2]
        + r"\); the section was aborted and this record was not written: `modelops status` "
        + "shows what was recorded",
        str(caught.value),
    ), caught.value
    assert db.rows() == before  # nothing written: records and head as they were
    # The section is released: another session takes the lock at once, and so does this
    # process, whose next section writes normally.
    assert db.lock_holder() is None
    with db.log.exclusive():
        db.log.append(_event("promotion"))
    assert [r.reason for r in db.log.records()] == ["approval 1", "promotion"]
    assert db.log.verify().ok


def test_every_later_write_of_a_section_whose_lock_was_lost_is_refused(db: Database) -> None:
    """The caller might swallow the first error and carry on inside the section."""
    db.log.append(_event("approval 1"))
    before = db.rows()
    errors: list[str] = []

    with db.log.exclusive():
        db.terminate(db.lock_holder() or -1)
        for reason in ("first", "second"):
            try:
                db.log.append(_event(reason))
            except AuditLogError as error:
                errors.append(str(error))

    assert len(errors) == 2
    assert all("the exclusive section's lock was lost" in e for e in errors)
    assert errors[1].endswith(
        "; the section was aborted and this record was not written: `modelops status` shows "
        "what was recorded"
    )
    assert db.rows() == before


def test_a_write_inside_the_section_checks_the_lock_itself(db: Database) -> None:
    """A live session that no longer holds the lock (released behind the section's back) is
    caught by the check in pg_locks before anything is written."""
    db.log.append(_event("approval 1"))
    before = db.rows()
    key = advisory_lock_key(db.log.table)

    with pytest.raises(AuditLogError) as caught, db.log.exclusive():
        session = db.log._section_handle()
        with session.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", (key,))
        db.log.append(_event("promotion without the lock"))

    assert str(caught.value) == (
        f"audit log {_location(db)}: the exclusive section's lock was lost (no longer held by "
        "its database session); the section was aborted and this record was not written: "
        "`modelops status` shows what was recorded"
    )
    assert db.rows() == before
    assert db.lock_holder() is None


def test_a_write_outside_a_section_whose_backend_dies_is_not_retried(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    db.log.append(_event("approval 1"))
    before = db.rows()
    killed = _kill_new_connections(monkeypatch, db, times=None)

    with pytest.raises(AuditLogError) as caught:
        db.log.append(_event("approval 2"))

    assert len(killed) == 1  # one attempt: a retried write could land twice
    assert re.fullmatch(
        re.escape(f"audit log {_location(db)}: the database connection was lost while ")
        + r"appending "
        + KILLED
        + re.escape("; nothing was written"),
        str(caught.value),
    ), caught.value
    assert db.rows() == before


# A release action --------------------------------------------------------------------------


def test_an_approval_whose_lock_session_dies_before_its_promotion_moves_no_champion(
    postgres_server: PostgresServer,
    postgres_database: Callable[[], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """High tier: one approval promotes. The session is killed as the champion alias is about
    to move: the approval stays recorded, the promotion is refused by the lock check, the
    alias goes back, the chain is intact, and `promote` then completes the release."""
    from mlflow import MlflowClient

    server, name = postgres_server, postgres_database()
    dsn = f"postgresql://{server.user}@{server.host}:{server.port}/{name}"
    copy_german_spec(tmp_path / "specs")
    settings = make_settings(tmp_path, tmp_path / "specs")
    env = {"MODELOPS_AUDIT_DATABASE_URL": dsn}
    trained = cli(settings, "run", env={**env, "MODELOPS_ACTOR": "trainer@bank.example"})
    assert trained.code == 0, trained.printed
    log = PostgresAuditLog(dsn=dsn)
    admin = server.connect(name)
    admin.autocommit = True
    killed: list[int] = []
    set_alias = ModelTracking.set_alias

    def kill_then_set_alias(tracking: ModelTracking, model: str, alias: str, version: str) -> None:
        holder = _lock_holder(admin, log.table)
        if alias == CHAMPION and not killed and holder is not None:
            _terminate(admin, holder)
            killed.append(holder)
        set_alias(tracking, model, alias, version)

    monkeypatch.setattr(ModelTracking, "set_alias", kill_then_set_alias)
    registry = MlflowClient(settings.mlflow_tracking_uri, settings.mlflow_tracking_uri)
    events_before = [r.event for r in log.records()]
    validator = ("--by", "val@bank.example", "--role", "model_validator")
    try:
        refused = cli(settings, "approve", "-u", UC, "--version", "1", *validator,
                      "--reason", "VR-1", env=env)  # fmt: skip
    finally:
        admin.close()

    assert len(killed) == 1
    assert refused.code == 2 and "Traceback" not in refused.printed
    assert re.fullmatch(
        re.escape(
            f"error: audit log {dsn} (table {log.table}): the exclusive section's lock was "
            "lost (its database session ended: "
        )
        + KILLED[2:-2]
        + re.escape(
            "); the section was aborted and this record was not written: `modelops status` "
            "shows what was recorded\n"
        ),
        refused.err,
    ), refused.err
    assert [r.event for r in log.records()] == [*events_before, "approval"]
    assert CHAMPION not in registry.get_registered_model(UC).aliases
    assert log.verify().ok

    monkeypatch.undo()
    promoted = cli(settings, "promote", "-u", UC, "--version", "1", "--by", "lead@bank.example",
                   "--reason", "VR-1; promoted after the restart", env=env)  # fmt: skip
    assert promoted.code == 0, promoted.printed
    assert registry.get_registered_model(UC).aliases.get(CHAMPION) == 1
    assert [r.event for r in log.records()][-2:] == ["approval", "promotion"]
    assert log.verify().ok
