"""Runs whose process died (`kill -9`, a crash, a closed laptop) are closed by the next run.

A run executed in process (`modelops run`, the demo) has no supervisor that outlives its
process: killed, it stays STARTED in the Dagster instance and its MLflow run RUNNING, for
ever. Dagster's run monitoring does not see it: the daemon checks run workers only through
launchers that report their health (Kubernetes Jobs, ECS, Docker; not the default launcher),
and no daemon runs beside `modelops run`. A run launched from `dagster dev` whose worker dies
is failed within seconds by the code server that started it, but its MLflow run stays open
(the `failed_run_tracking_cleanup` sensor ends it while `dagster dev` runs); if `dagster dev`
itself is killed, the run stays STARTED.

So `modelops run` first looks for runs of its instance that are still in progress but whose
process is gone and marks them failed, saying so; then it ends as FAILED the MLflow runs still
open whose Dagster run is no longer in progress. A run is judged only where its process can be
seen: runs that `modelops run` tagged with this machine's host name and its pid, and, on a
SQLite instance (one machine's), runs whose start event names their process. A process that
still exists is never judged dead.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

HOST_TAG = "modelops/worker_host"
PID_TAG = "modelops/worker_pid"
STARTED_TAG = "modelops/worker_started_at"
"""Tags naming the process that runs a run: its host, pid and start time (Unix seconds)."""

START_SLACK_SECONDS = 60.0
"""How far a process's start time read back from /proc may differ from the one recorded
(clock adjustments) and still be the same process; a pid reused later is another process."""

_IN_PROGRESS = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


@dataclass(frozen=True)
class _Process:
    started_at: float
    zombie: bool


def _process(pid: int) -> _Process | None:
    """A process's start time and whether it is a zombie, from /proc (Linux); None where
    there is no /proc, or no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (command) "
        state, ticks = fields[0], int(fields[19])
    except (OSError, ValueError, IndexError):
        return None
    started_at = time.time() - uptime + ticks / os.sysconf("SC_CLK_TCK")
    return _Process(started_at, zombie=state in ("Z", "X"))


def worker_tags(pid: int | None = None) -> dict[str, str]:
    """Run tags naming the process running the run: process `pid` of this machine (default:
    this process)."""
    pid = os.getpid() if pid is None else pid
    tags = {HOST_TAG: socket.gethostname(), PID_TAG: str(pid)}
    process = _process(pid)
    if process is not None:
        tags[STARTED_TAG] = f"{process.started_at:.2f}"
    return tags


@dataclass(frozen=True)
class RunWorker:
    """The process running a Dagster run."""

    host: str
    pid: int
    started_at: float | None = None
    """The process's start time, where it was recorded (runs tagged by `modelops run`)."""
    seen_at: float | None = None
    """When the process was seen running the run (its start event), for untagged runs."""

    def alive(self) -> bool:
        """Whether the process still runs on this machine (never False for a process that
        exists, unless /proc shows it is a zombie or started after it was recorded)."""
        if self.pid <= 0:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # another user's process: it exists
        process = _process(self.pid)
        if process is None:
            return True  # no /proc here: that the pid exists is all that is known
        if process.zombie:
            return False
        if self.started_at is not None:
            return abs(process.started_at - self.started_at) <= START_SLACK_SECONDS
        if self.seen_at is not None:
            return process.started_at <= self.seen_at + START_SLACK_SECONDS
        return True


@dataclass(frozen=True)
class ClosedRun:
    """A run found in progress with its process gone, now marked failed."""

    run_id: str
    job_name: str
    worker: RunWorker
    why: str
    mlflow_runs: tuple[str, ...] = ()
    mlflow_problem: str | None = None
    mlflow_checked: bool = True

    @property
    def text(self) -> str:
        """One line for the command's output."""
        if not self.mlflow_checked:
            mlflow = "its MLflow runs are ended by the next `modelops run` or by `dagster dev`"
        elif self.mlflow_problem:
            mlflow = f"its MLflow runs could not be ended ({self.mlflow_problem})"
        elif self.mlflow_runs:
            mlflow = f"MLflow run(s) {', '.join(self.mlflow_runs)} ended as FAILED"
        else:
            mlflow = "no MLflow run was left open"
        return (
            f"Run {self.run_id} ({self.job_name}) was left in progress by a process that is "
            f"gone (pid {self.worker.pid} on {self.worker.host}): marked failed; {mlflow}."
        )


@dataclass(frozen=True)
class EndedTrainingRuns:
    """MLflow runs left RUNNING by a Dagster run that had already ended (failed by `dagster
    dev`'s code server when its worker died, or closed while MLflow did not answer)."""

    run_id: str
    status: str
    mlflow_runs: tuple[str, ...]

    @property
    def text(self) -> str:
        return (
            f"MLflow run(s) {', '.join(self.mlflow_runs)} of run {self.run_id} "
            f"({self.status}) were left open by a process that is gone: ended as FAILED."
        )


def close_orphaned_runs(
    instance: dg.DagsterInstance, tracking_uri: str | None
) -> list[ClosedRun | EndedTrainingRuns]:
    """Mark failed every run of `instance` still in progress whose process is gone on this
    machine; then end the MLflow runs (at `tracking_uri`; None = leave MLflow alone) that
    runs of `instance` no longer in progress left RUNNING."""
    host = socket.gethostname()
    closed: dict[str, ClosedRun] = {}
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=_IN_PROGRESS)):
        worker = _worker(instance, record.dagster_run)
        if worker is None or worker.host != host or worker.alive():
            continue
        run = instance.get_run_by_id(record.dagster_run.run_id)
        if run is not None and run.status in _IN_PROGRESS:  # not finished in the meantime
            closed[run.run_id] = _close(instance, run, worker)
    if tracking_uri is None:
        return [replace(run, mlflow_checked=False) for run in closed.values()]
    try:
        return _end_open_training_runs(instance, tracking_uri, closed)
    except Exception as error:  # MLflow down must not keep the run STARTED, nor stop this one
        problem = f"MLflow did not answer: {type(error).__name__}"
        return [replace(run, mlflow_problem=problem) for run in closed.values()]


def _worker(instance: dg.DagsterInstance, run: dg.DagsterRun) -> RunWorker | None:
    """Who runs `run`: its tags, else (on a one-machine instance) its start event's process."""
    tags = run.tags
    try:
        if HOST_TAG in tags and PID_TAG in tags:
            started = tags.get(STARTED_TAG)
            return RunWorker(
                tags[HOST_TAG], int(tags[PID_TAG]), started_at=float(started) if started else None
            )
    except ValueError:
        return None  # tags edited by hand: the process cannot be identified
    if not _one_machine(instance):
        return None
    start = instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.RUN_START, limit=1
    ).records
    event = start[0].event_log_entry if start else None
    if event is None or event.dagster_event is None or event.dagster_event.pid is None:
        return None
    return RunWorker(socket.gethostname(), event.dagster_event.pid, seen_at=event.timestamp)


def _one_machine(instance: dg.DagsterInstance) -> bool:
    """A SQLite instance lives in one machine's folder, so its run workers ran here."""
    from dagster._core.storage.runs import SqliteRunStorage  # not exported by dagster

    return isinstance(instance.run_storage, SqliteRunStorage)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _close(instance: dg.DagsterInstance, run: dg.DagsterRun, worker: RunWorker) -> ClosedRun:
    why = (
        f"the process running Dagster run {run.run_id} (pid {worker.pid} on {worker.host}) is "
        f"gone, killed or crashed; found by modelops at {_now()}"
    )
    instance.report_run_failed(
        run,
        f"modelops: {why}. The run could not finish: what it materialized before stays, the "
        "rest was not built.",
    )
    if instance.event_log_storage.supports_global_concurrency_limits:
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
    return ClosedRun(run.run_id, run.job_name, worker, why)


def _end_open_training_runs(
    instance: dg.DagsterInstance, tracking_uri: str, closed: dict[str, ClosedRun]
) -> list[ClosedRun | EndedTrainingRuns]:
    """End the MLflow runs still RUNNING whose Dagster run, in `instance`, was just closed or
    had already ended. Runs of other instances and runs in progress are left alone."""
    from modelops.resources.tracking import ModelTracking
    from modelops.resources.tracking_cleanup import end_training_runs, open_training_runs

    ModelTracking(tracking_uri=tracking_uri).check_reachable()  # seconds, not minutes
    of_closed: dict[str, tuple[str, ...]] = {}
    of_ended: list[ClosedRun | EndedTrainingRuns] = []
    for dagster_run_id, mlflow_runs in open_training_runs(tracking_uri).items():
        if dagster_run_id in closed:
            end_training_runs(tracking_uri, mlflow_runs, closed[dagster_run_id].why)
            of_closed[dagster_run_id] = tuple(mlflow_runs)
            continue
        run = instance.get_run_by_id(dagster_run_id)
        if run is None or not run.is_finished:
            continue
        why = (
            f"Dagster run {dagster_run_id} ended {run.status.value} with this MLflow run still "
            f"open: its process was killed or crashed; found by modelops at {_now()}"
        )
        end_training_runs(tracking_uri, mlflow_runs, why)
        of_ended.append(EndedTrainingRuns(dagster_run_id, run.status.value, tuple(mlflow_runs)))
    return [
        replace(run, mlflow_runs=of_closed.get(run.run_id, ())) for run in closed.values()
    ] + of_ended
