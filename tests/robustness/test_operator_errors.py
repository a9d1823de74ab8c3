"""Operator commands fail cleanly: no audit log, an audit log that is not one, an export that
cannot be written, MLflow unreachable. Each gives a modelops message naming the file, the
variable or the server and the reason, exit 2, no traceback, within seconds; and nothing is
created or overwritten on the way."""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from pathlib import Path

import pytest

from modelops.governance.audit_records import AuditEvent
from modelops.resources.audit_log import AuditLogError
from modelops.resources.audit_sqlite import SqliteAuditLog
from modelops.settings import Settings
from support import copy_german_spec, make_settings
from support.platform_cli import cli

UC = "german_credit"
RELEASE_COMMANDS = [
    ("status", "-u", UC),
    ("approve", "-u", UC, "--by", "v@bank.example", "--role", "model_validator", "--reason", "x"),
    ("rollback", "-u", UC, "--by", "v@bank.example", "--reason", "x"),
]
AUDIT_COMMANDS = [("audit", "verify"), ("audit", "show"), ("inventory",)]


@pytest.fixture
def platform(tmp_path: Path) -> Settings:
    """A platform where nothing was ever run: specs, an empty home."""
    copy_german_spec(tmp_path / "specs")
    return make_settings(tmp_path, tmp_path / "specs")


def _garbage(kind: str, file: Path) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    if kind == "random bytes":
        file.write_bytes(os.urandom(8192))
    elif kind == "a text file":
        file.write_text("user,balance\nanna,100\n")
    else:  # another application's SQLite database
        with sqlite3.connect(file) as connection:
            connection.execute("CREATE TABLE accounts (owner TEXT, balance INTEGER)")


def _assert_named(outcome, *names: str) -> None:
    assert outcome.code == 2, outcome.printed
    assert outcome.err.startswith("error: ")
    for name in names:
        assert name in outcome.err
    assert "Traceback" not in outcome.printed


@pytest.mark.parametrize("command", [("audit", "verify"), ("audit", "show"), ("audit", "export")])
def test_a_home_without_an_audit_log_says_so_and_creates_nothing(
    platform: Settings, command: tuple[str, ...], tmp_path: Path
) -> None:
    args = (*command, str(tmp_path / "copy.jsonl")) if command[-1] == "export" else command
    outcome = cli(platform, *args)
    _assert_named(outcome, "there is no audit log", str(platform.audit_log_path))
    assert "chain intact" not in outcome.printed
    assert not platform.audit_log_path.exists()
    assert not (tmp_path / "copy.jsonl").exists()


@pytest.mark.parametrize("kind", ["random bytes", "a text file", "another application's database"])
@pytest.mark.parametrize("command", RELEASE_COMMANDS + AUDIT_COMMANDS, ids=lambda c: c[0])
def test_an_audit_log_that_is_not_one_is_named(
    platform: Settings, kind: str, command: tuple[str, ...]
) -> None:
    _garbage(kind, platform.audit_log_path)
    before = platform.audit_log_path.read_bytes()
    outcome = cli(platform, *command)
    _assert_named(outcome, f"audit log {platform.audit_log_path}")
    assert "not a database" in outcome.err or "not a modelops audit log" in outcome.err
    assert platform.audit_log_path.read_bytes() == before


def test_a_write_leaves_another_applications_database_alone(platform: Settings) -> None:
    """What the pipeline's first record would do: refused, the database unchanged (no audit
    tables added to it)."""
    _garbage("another application's database", platform.audit_log_path)
    log = SqliteAuditLog(path=str(platform.audit_log_path))
    with pytest.raises(AuditLogError, match="not a modelops audit log"):
        log.append(AuditEvent(event="training", actor="t", use_case=UC, reason="r"))
    with sqlite3.connect(platform.audit_log_path) as connection:
        tables = connection.execute("SELECT name FROM sqlite_master").fetchall()
    assert tables == [("accounts",)]


@pytest.mark.parametrize("kind", ["random bytes", "another application's database"])
def test_a_run_stops_at_its_start_on_an_audit_log_that_is_not_one(
    platform: Settings, kind: str
) -> None:
    """Before anything is trained or registered, not at the first record after training."""
    _garbage(kind, platform.audit_log_path)
    before = platform.audit_log_path.read_bytes()
    outcome = cli(platform, "run")
    assert outcome.code == 1
    assert "0 assets materialized" in outcome.out
    assert f"audit log {platform.audit_log_path}" in _run_failure(platform)
    assert platform.audit_log_path.read_bytes() == before


def _run_failure(settings: Settings) -> str:
    """What the instance recorded of the last run's failure (as the UI shows it)."""
    import dagster as dg

    from modelops.instance import local_instance

    instance = local_instance(settings.dagster_home)
    try:
        run = instance.get_runs(limit=1)[0]
        assert run.status == dg.DagsterRunStatus.FAILURE
        events = [e.dagster_event for e in instance.all_logs(run.run_id) if e.dagster_event]
        errors = [
            error.to_string()
            for event in events
            if (error := getattr(event.event_specific_data, "error", None)) is not None
        ]
    finally:
        instance.dispose()
    return "\n".join(errors)


@pytest.fixture
def logged(platform: Settings) -> Settings:
    """A platform whose audit log holds one record."""
    SqliteAuditLog(path=str(platform.audit_log_path)).append(
        AuditEvent(event="training", actor="trainer@bank.example", use_case=UC, reason="r")
    )
    return platform


def _fifo(tmp_path: Path) -> Path:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    return fifo


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        (lambda tmp: Path("/proc/nope/copy.jsonl"), "No such file or directory"),
        (lambda tmp: tmp, "is not a regular file"),
        (_fifo, "is not a regular file"),
        (lambda tmp: tmp / "file.txt" / "copy.jsonl", "file.txt is not a folder"),
    ],
    ids=["missing-folder", "a-folder", "a-pipe", "under-a-file"],
)
def test_an_export_that_cannot_be_written_is_named_and_overwrites_nothing(
    logged: Settings, tmp_path: Path, target, reason: str
) -> None:
    (tmp_path / "file.txt").write_text("kept")
    path = target(tmp_path)
    kind = path.stat().st_mode if path.exists() else None
    outcome = cli(logged, "audit", "export", str(path))
    _assert_named(outcome, f"cannot write the audit log export to {path}", reason)
    assert (path.stat().st_mode if path.exists() else None) == kind
    assert (tmp_path / "file.txt").read_text() == "kept"
    assert not list(tmp_path.glob(".copy.jsonl.*"))


def _unreachable() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest.mark.parametrize(
    "command",
    [*RELEASE_COMMANDS, ("inventory",), ("reproduce", "-u", UC, "--version", "1"), ("run",)],
    ids=lambda c: c[0],
)
def test_mlflow_unreachable_is_named_within_seconds(platform: Settings, command) -> None:
    url = _unreachable()
    started = time.monotonic()
    outcome = cli(platform, *command, env={"MODELOPS_MLFLOW_TRACKING_URI": url})
    assert time.monotonic() - started < 60  # MLflow's own retries take about five minutes
    assert outcome.code != 0
    unreachable = f"the MLflow tracking server {url} is unreachable"
    if command == ("run",):
        assert "0 assets materialized" in outcome.out  # stopped before training
        assert unreachable in _run_failure(platform)
    else:
        _assert_named(outcome, unreachable)
