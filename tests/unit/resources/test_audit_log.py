"""The audit log's storage on both backends: SQLite in a temp folder and PostgreSQL on a
throwaway database (the record format and `verify_chain` on their own are in
tests/unit/governance/test_audit_records.py).

Tampering tests act as an attacker with DBA rights: they drop (SQLite) or disable (Postgres)
the append-only triggers and change the tables with raw SQL, because the platform's own
connection cannot. `verify` must then name the record that was changed.
"""

from __future__ import annotations

import fcntl
import itertools
import math
import multiprocessing
import os
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import pytest

from modelops.governance.audit_chain import verify_chain
from modelops.governance.audit_records import (
    APPEND_ONLY,
    GENESIS,
    HEAD_FORWARD_ONLY,
    AuditEvent,
    AuditRecord,
    load_jsonl,
    record_hash,
)
from modelops.resources.audit_log import AuditLog, AuditLogError, NoAuditLogError
from modelops.resources.audit_postgres import PostgresAuditLog, advisory_lock_key
from modelops.resources.audit_sqlite import SqliteAuditLog

if TYPE_CHECKING:
    from support.postgres import PostgresServer


UC = "german_credit"
RECORDED_AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
KINDS = ("training", "gate_result", "approval", "promotion", "alert", "retraining_trigger")


@dataclass
class Backend:
    """A log plus a raw DBA connection to the tables behind it."""

    name: str
    log: AuditLog
    raw: Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]
    """Run one SQL statement with `?` placeholders, autocommit; returns the rows."""
    records_table: str
    head_table: str
    disable_triggers: Callable[[], None]

    def sql(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.raw(
            statement.replace("{records}", self.records_table).replace("{head}", self.head_table),
            params,
        )


def _sqlite_backend(path: Path) -> Backend:
    def raw(statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        connection = sqlite3.connect(path, isolation_level=None)
        try:
            return connection.execute(statement, params).fetchall()
        finally:
            connection.close()

    def disable() -> None:
        for trigger in ("records_no_update", "records_no_delete", "head_forward_only"):
            raw(f"DROP TRIGGER audit_{trigger}", ())
        raw("DROP TRIGGER audit_head_no_delete", ())

    return Backend(
        "sqlite", SqliteAuditLog(path=str(path)), raw, "audit_records", "audit_head", disable
    )


def _postgres_backend(server: PostgresServer, database: str) -> Backend:
    table = f"audit_{secrets.token_hex(4)}"

    def raw(statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        connection = server.connect(database)
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement.replace("?", "%s"), params)
                return cursor.fetchall() if cursor.description else []
        finally:
            connection.close()

    def disable() -> None:
        raw(f'ALTER TABLE "{table}" DISABLE TRIGGER USER', ())
        raw(f'ALTER TABLE "{table}_head" DISABLE TRIGGER USER', ())

    dsn = f"postgresql://{server.user}@{server.host}:{server.port}/{database}"
    log = PostgresAuditLog(dsn=dsn, table=table)
    return Backend("postgres", log, raw, table, f"{table}_head", disable)


@pytest.fixture(scope="module")
def audit_database(request: pytest.FixtureRequest) -> Iterator[tuple[PostgresServer, str]]:
    """One throwaway database for the module; every test gets its own table in it."""
    server = request.getfixturevalue("postgres_server")
    yield server, request.getfixturevalue("postgres_database")()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return _sqlite_backend(tmp_path / "audit" / "audit.db")
    return _postgres_backend(*request.getfixturevalue("audit_database"))


def _event(index: int, *, use_case: str = UC, event: str | None = None) -> AuditEvent:
    return AuditEvent(
        event=event or KINDS[index % len(KINDS)],
        actor="anna.risk@bank.example" if index % 2 else "dagster:german_credit_retraining",
        use_case=use_case,
        reason=f"step {index}",
        model_version=str(index),
        data_versions={"training_set": f"fp{index}", "holdout_set": f"hp{index}"},
        code_version="git:abc123",
        details={"index": index, "auc": 0.7 + index / 100, "segments": ("a", "b")},
    )


def _fill(backend: Backend, count: int = 6) -> list[AuditRecord]:
    return [backend.log.append(_event(index)) for index in range(1, count + 1)]


def _stored(backend: Backend, seq: int) -> tuple[Any, ...]:
    columns = "recorded_at, event, actor, use_case, reason, model_version, data_versions, "
    columns += "code_version, details, prev_hash, hash"
    return backend.sql(f"SELECT seq, {columns} FROM {{records}} WHERE seq = ?", (seq,))[0]


def test_appended_records_read_back_identically_and_chain(backend: Backend) -> None:
    written = _fill(backend, 4)
    nan = backend.log.append(
        AuditEvent(event="gate_result", actor="dagster:run-1", use_case=UC, details={"x": math.nan})
    )
    read = backend.log.records()

    assert read == [*written, nan]
    assert [record.seq for record in read] == [1, 2, 3, 4, 5]
    assert read[0].prev_hash == GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(read))
    assert all(record.hash == record_hash(record.to_dict()) for record in read)
    assert all(RECORDED_AT.match(record.recorded_at) for record in read)
    assert [r.recorded_at for r in read] == sorted(r.recorded_at for r in read)
    assert read[0].data_versions == {"training_set": "fp1", "holdout_set": "hp1"}
    assert read[0].details == {"index": 1, "auc": 0.71, "segments": ["a", "b"]}
    assert nan.details == {"x": "NaN"}  # JSON has no NaN; the record must still be written


def test_untouched_log_verifies_and_exports_for_an_auditor(
    backend: Backend, tmp_path: Path
) -> None:
    if backend.name == "sqlite":  # nothing recorded yet: no log, and reading creates none
        with pytest.raises(NoAuditLogError, match=r"^there is no audit log at .*audit\.db: "):
            backend.log.verify()
        assert backend.log.records() == [] and not Path(backend.log.location()).exists()
    else:  # the tables are created on first use: an empty log is a valid log
        assert backend.log.verify().ok
    _fill(backend)

    result = backend.log.verify()
    assert (result.ok, result.checked, result.problems, result.first_bad_seq) == (True, 6, (), None)

    export = tmp_path / "auditor" / "audit.jsonl"
    assert backend.log.export_jsonl(export) == 6
    copy = load_jsonl(export)
    assert copy == backend.log.records()
    assert verify_chain(copy).ok


def test_edited_record_is_named(backend: Backend) -> None:
    _fill(backend)
    backend.disable_triggers()
    backend.sql("UPDATE {records} SET actor = ? WHERE seq = ?", ("mallory@bank.example", 4))

    result = backend.log.verify()

    assert not result.ok
    assert result.first_bad_seq == 4
    assert len(result.problems) == 1, result.problems  # the next record still links to it
    assert re.match(
        r"record 4 \(alert, german_credit, \S+Z\): content does not match its hash \(edited\)",
        result.problems[0],
    )


def test_deleted_record_is_named(backend: Backend) -> None:
    _fill(backend)
    backend.disable_triggers()
    backend.sql("DELETE FROM {records} WHERE seq = ?", (3,))

    result = backend.log.verify()

    assert not result.ok
    assert result.first_bad_seq == 3
    assert result.problems == ("record 3 missing: record 4 follows record 2",)


def test_swapped_records_are_named(backend: Backend) -> None:
    _fill(backend)
    third, fourth = _stored(backend, 3), _stored(backend, 4)
    backend.disable_triggers()
    # Swap the contents of the two rows in place (storage positions stay), via a free seq.
    columns = ("seq", "recorded_at", "event", "actor", "use_case", "reason", "model_version")
    columns += ("data_versions", "code_version", "details", "prev_hash", "hash")
    assignments = ", ".join(f"{name} = ?" for name in columns)
    backend.sql("UPDATE {records} SET seq = ? WHERE seq = ?", (-1, 3))
    backend.sql(f"UPDATE {{records}} SET {assignments} WHERE seq = ?", (*third, 4))
    backend.sql(f"UPDATE {{records}} SET {assignments} WHERE seq = ?", (*fourth, -1))

    result = backend.log.verify()

    assert [record.seq for record in backend.log.records()] == [1, 2, 3, 4, 5, 6]
    assert not result.ok
    assert result.first_bad_seq == 3
    assert len(result.problems) == 2, result.problems
    assert result.problems[0].startswith("record 4 (alert, german_credit, ")
    assert result.problems[0].endswith("is stored out of order, before record 3")
    assert result.problems[1].startswith("record 3 (promotion, german_credit, ")
    assert result.problems[1].endswith("is stored out of order, after record 4")
    assert "edited" not in " ".join(result.problems)  # the contents themselves are genuine


def test_truncated_tail_is_caught_by_the_head_only(backend: Backend) -> None:
    _fill(backend)
    backend.disable_triggers()
    backend.sql("DELETE FROM {records} WHERE seq = ?", (6,))

    assert verify_chain(backend.log.records()).ok  # the chain alone cannot see it
    result = backend.log.verify()
    assert not result.ok
    assert result.first_bad_seq == 6
    assert result.problems == (
        "log ends at record 5 but the head says 6: record 6 missing (truncated)",
    )


def test_deleted_head_is_reported_and_blocks_appends(backend: Backend) -> None:
    _fill(backend, 3)
    backend.disable_triggers()
    backend.sql("DELETE FROM {head}")

    result = backend.log.verify()
    assert not result.ok
    assert result.problems == (
        "the head is missing (deleted): the end of the log cannot be checked",
    )
    with pytest.raises(RuntimeError, match="head is missing"):
        backend.log.append(_event(4))
    assert len(backend.log.records()) == 3


def test_tables_refuse_update_and_delete(backend: Backend) -> None:
    _fill(backend, 3)

    attempts = [
        ("UPDATE {records} SET actor = ? WHERE seq = ?", ("mallory", 2), APPEND_ONLY),
        ("DELETE FROM {records} WHERE seq = ?", (3,), APPEND_ONLY),
        ("UPDATE {head} SET seq = ?, hash = ?", (2, "f" * 64), HEAD_FORWARD_ONLY),
        ("DELETE FROM {head}", (), HEAD_FORWARD_ONLY),
    ]
    if backend.name == "postgres":
        attempts.append(("TRUNCATE {records}", (), APPEND_ONLY))
    for statement, params, message in attempts:
        with pytest.raises(Exception, match=re.escape(message)):
            backend.sql(statement, params)

    assert backend.log.verify().ok
    assert [record.actor for record in backend.log.records()][1] != "mallory"


def test_concurrent_appends_from_threads_form_one_chain(backend: Backend) -> None:
    def write(worker: int) -> None:
        for index in range(8):
            backend.log.append(
                AuditEvent("alert", f"dagster:worker-{worker}", UC, details={"i": index})
            )

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(write, range(6)))

    records = backend.log.records()
    assert [record.seq for record in records] == list(range(1, 49))
    written = {(record.actor, record.details["i"]) for record in records}
    assert len(written) == 48
    assert backend.log.verify().ok


def _append_from_process(path: str, worker: int, count: int, start: Any) -> None:
    log = SqliteAuditLog(path=path)
    start.wait()
    for index in range(count):
        log.append(AuditEvent("alert", f"dagster:process-{worker}", UC, details={"i": index}))
        time.sleep(0.003)  # SQLite's busy wait is not fair: give the others a turn


def test_concurrent_appends_from_processes_form_one_chain(tmp_path: Path) -> None:
    # Fresh file: the processes also race to create the tables. Forked, not spawned: a
    # spawned child spends seconds importing Dagster, and the appends would not overlap.
    path = str(tmp_path / "shared" / "audit.db")
    context = multiprocessing.get_context("fork")
    start = context.Barrier(3)
    workers = [
        context.Process(target=_append_from_process, args=(path, worker, 40, start))
        for worker in range(3)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0, 0, 0]

    log = SqliteAuditLog(path=path)
    records = log.records()
    assert [record.seq for record in records] == list(range(1, 121))
    assert len({(record.actor, record.details["i"]) for record in records}) == 120
    assert log.verify().ok
    # The processes really wrote at the same time (one after the other would switch twice).
    switches = sum(a.actor != b.actor for a, b in itertools.pairwise(records))
    assert switches > 2


def test_exclusive_sections_do_not_interleave(backend: Backend) -> None:
    log = backend.log
    start = threading.Barrier(2)

    def promote(worker: int) -> None:
        start.wait()
        for round_ in range(3):
            with log.exclusive():
                log.append(AuditEvent("marker", f"worker-{worker}", UC, reason="begin"))
                time.sleep(0.03)  # another thread would slip in here without the lock
                with log.exclusive():  # re-entrant, and append inside does not deadlock
                    log.append(AuditEvent("marker", f"worker-{worker}", UC, reason=str(round_)))
                log.append(AuditEvent("marker", f"worker-{worker}", UC, reason="end"))

    threads = [threading.Thread(target=promote, args=(worker,)) for worker in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    records = log.records()
    assert len(records) == 18
    sections = [records[index : index + 3] for index in range(0, 18, 3)]
    for section in sections:
        assert [record.reason for record in section][::2] == ["begin", "end"]
        assert len({record.actor for record in section}) == 1, section
    assert log.verify().ok


def test_exclusive_holds_against_other_processes(backend: Backend, tmp_path: Path) -> None:
    """Another process is simulated by another open file (flock) or another session
    (advisory lock): both conflict exactly as a separate process would."""
    log = backend.log
    impatient = log.model_copy(update={"lock_timeout_seconds": 0.2})

    if isinstance(log, SqliteAuditLog):
        Path(log.path).parent.mkdir(parents=True)
        lock_file = os.open(f"{log.path}.lock", os.O_RDWR | os.O_CREAT)

        def try_lock() -> bool:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        def unlock() -> None:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
    else:
        assert isinstance(log, PostgresAuditLog)
        key = advisory_lock_key(log.table)
        import psycopg2

        session = psycopg2.connect(log.dsn)
        session.autocommit = True

        def try_lock() -> bool:
            with session.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", (key,))
                return bool(cursor.fetchone()[0])

        def unlock() -> None:
            with session.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", (key,))

    try:
        with log.exclusive():
            assert not try_lock()
        assert try_lock()  # released on exit
        # The log in turn waits for the other holder, and gives up after its timeout.
        with pytest.raises(TimeoutError, match="another"), impatient.exclusive():
            pass
        unlock()
        with impatient.exclusive():
            pass
    finally:
        if isinstance(log, SqliteAuditLog):
            os.close(lock_file)
        else:
            session.close()


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://modelops:s3cret-pw@db:5432/modelops",
        "host=db dbname=modelops user=modelops password=s3cret-pw",
        "postgresql://modelops@db:5432/modelops?password=s3cret-pw",
    ],
)
def test_a_dsn_with_a_password_is_refused_without_echoing_it(dsn: str) -> None:
    with pytest.raises(ValueError, match="PGPASSWORD") as refused:
        PostgresAuditLog(dsn=dsn)
    assert "s3cret" not in str(refused.value)


def test_a_password_in_the_dsn_variable_is_refused_when_dagster_resolves_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODELOPS_TEST_AUDIT_DSN", "postgresql://modelops:s3cret-pw@db/modelops")
    log = PostgresAuditLog(dsn=dg.EnvVar("MODELOPS_TEST_AUDIT_DSN"))  # only a name so far

    with (
        pytest.raises(dg.DagsterResourceFunctionError) as refused,
        dg.build_resources({"audit": log}),
    ):
        pass
    assert "PGPASSWORD" in str(refused.value.__cause__)
    assert "s3cret" not in str(refused.value.__cause__)


def test_a_dsn_without_password_and_a_bad_table_name() -> None:
    log = PostgresAuditLog(dsn="postgresql://modelops@db:5432/modelops")
    assert log.location() == "postgresql://modelops@db:5432/modelops (table modelops_audit_log)"
    with pytest.raises(ValueError, match="lowercase"):
        PostgresAuditLog(dsn="postgresql://modelops@db/modelops", table='x"; DROP TABLE y; --')


def test_records_filter_by_use_case_event_and_seq(backend: Backend) -> None:
    log = backend.log
    log.append(AuditEvent("training", "dagster:run-1", "german_credit"))
    log.append(AuditEvent("training", "dagster:run-2", "churn"))
    log.append(AuditEvent("approval", "anna@bank.example", "german_credit"))
    log.append(AuditEvent("promotion", "anna@bank.example", "german_credit"))
    log.append(AuditEvent("approval", "ben@bank.example", "churn"))

    def seqs(**filters: Any) -> list[int]:
        return [record.seq for record in log.records(**filters)]

    assert seqs() == [1, 2, 3, 4, 5]
    assert seqs(use_case="german_credit") == [1, 3, 4]
    assert seqs(events=["approval", "promotion"]) == [3, 4, 5]
    assert seqs(use_case="churn", events=["approval"]) == [5]
    assert seqs(use_case="german_credit", since_seq=3) == [4]
    assert seqs(events=[]) == []
    assert seqs(use_case="unknown") == []


@pytest.mark.integration
def test_a_least_privilege_role_appends_but_cannot_rewrite_or_unprotect(
    audit_database: tuple[PostgresServer, str],
) -> None:
    """Production: the owner creates the tables once; the platform's role may only read,
    append and move the head forward, and cannot switch the append-only triggers off."""
    import secrets

    import psycopg2

    server, database = audit_database
    table = f"least_{secrets.token_hex(4)}"
    role = f"modelops_audit_{secrets.token_hex(4)}"
    owner_dsn = f"postgresql://{server.user}@{server.host}:{server.port}/{database}"
    PostgresAuditLog(dsn=owner_dsn, table=table).append(_event(0))  # creates the schema
    admin = server.connect(database)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{role}" LOGIN')
        cursor.execute(f'GRANT SELECT, INSERT ON "{table}" TO "{role}"')
        cursor.execute(f'GRANT SELECT, UPDATE ON "{table}_head" TO "{role}"')
    try:
        runtime = PostgresAuditLog(
            dsn=f"postgresql://{role}@{server.host}:{server.port}/{database}", table=table
        )
        runtime.append(_event(1))
        with runtime.exclusive():  # checks its lock in pg_locks, readable by any role
            runtime.append(_event(2))
        assert runtime.verify().ok and len(runtime.records()) == 3
        connection = psycopg2.connect(
            host=server.host, port=server.port, user=role, dbname=database
        )
        connection.autocommit = True
        try:
            for statement, params in (
                (f'UPDATE "{table}" SET reason = %s', ("x",)),
                (f'DELETE FROM "{table}" WHERE seq = %s', (1,)),
                (f'ALTER TABLE "{table}" DISABLE TRIGGER USER', None),
            ):
                with (
                    pytest.raises(psycopg2.Error, match=r"permission denied|must be owner"),
                    connection.cursor() as cursor,
                ):
                    cursor.execute(statement, params)
        finally:
            connection.close()
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP OWNED BY "{role}"')
            cursor.execute(f'DROP ROLE "{role}"')
        admin.close()


def test_a_commit_lost_on_the_way_says_the_record_may_have_been_written() -> None:
    """The server may have committed before the connection went: the write is not retried
    and the message says what is known."""
    import psycopg2

    class DroppedOnCommit:
        def commit(self) -> None:
            raise psycopg2.OperationalError("server closed the connection unexpectedly")

    log = PostgresAuditLog(dsn="postgresql://modelops@db:5432/modelops")
    with pytest.raises(AuditLogError) as caught:
        log._commit(DroppedOnCommit(), write=True, in_section=False)
    assert str(caught.value) == (
        "audit log postgresql://modelops@db:5432/modelops (table modelops_audit_log): the "
        "database connection was lost while appending (server closed the connection "
        "unexpectedly); the record may or may not have been written: check with "
        "`modelops audit show`"
    )
    with pytest.raises(psycopg2.OperationalError):  # a read's commit: retried by the caller
        log._commit(DroppedOnCommit(), write=False, in_section=False)
