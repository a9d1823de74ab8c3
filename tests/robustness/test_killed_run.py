"""A run whose process is killed (`kill -9`) is closed by the next `modelops run`: the
Dagster run is marked failed saying why, its MLflow run ended as FAILED.

The real case: `modelops run` in a subprocess on its own platform home, held inside the
training step (MLflow run open, model logged, about to be registered) and killed with
SIGKILL; then the next `modelops run`. Then the judgement of liveness on its own, on runs
created in a temporary instance: a live process is never judged dead, a run of another host
is left alone, a run without tags is judged by its start event, a reused pid is not taken for
the run's process. Last, the MLflow runs (in a real SQLite MLflow store) that a run already
failed left open: the run killed under `dagster dev` (failed by the code server within
seconds) has them ended by the `failed_run_tracking_cleanup` sensor, and by the next
`modelops run`, which also catches up on those MLflow did not answer for.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from modelops.definitions import build_definitions
from modelops.defs.tracking_cleanup_sensor import failed_run_tracking_cleanup
from modelops.names import MAIN_JOB
from modelops.resources.tracking import ModelTracking
from modelops.resources.tracking_cleanup import DAGSTER_RUN_TAG, ENDED_TAG
from modelops.run_recovery import (
    HOST_TAG,
    PID_TAG,
    STARTED_TAG,
    EndedTrainingRuns,
    close_orphaned_runs,
    worker_tags,
)
from modelops.settings import Settings
from support import copy_german_spec, make_settings
from support.platform_cli import cli

UC = "german_credit"

# `modelops run`, held in the training step once the MLflow run is open and the model logged:
# registering it signals the test and waits to be killed.
HELD_RUN = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path

    import mlflow

    def hold(*args, **kwargs):
        Path(sys.argv[1]).touch()
        time.sleep(600)

    mlflow.register_model = hold
    from modelops.cli import main

    sys.exit(main(["run"]))
    """
)


def _env(settings: Settings) -> dict[str, str]:
    env = {
        **os.environ,
        "MODELOPS_PROJECT_DIR": str(settings.project_dir),
        "MODELOPS_SPECS_DIR": str(settings.specs_dir),
        "MODELOPS_HOME": str(settings.home_dir),
    }
    env.pop("DAGSTER_HOME", None)
    return env


@dataclass(frozen=True)
class State:
    """What the instance and MLflow say of the killed run."""

    status: dg.DagsterRunStatus
    mlflow_status: str
    failure_message: str | None
    ended_by: str | None


@dataclass(frozen=True)
class Killed:
    settings: Settings
    pid: int
    run_id: str
    mlflow_run_id: str
    before: State


def _state(settings: Settings, run_id: str, mlflow_run_id: str) -> State:
    from mlflow import MlflowClient

    instance = dg.DagsterInstance.from_config(str(settings.dagster_home))
    try:
        run = instance.get_run_by_id(run_id)
        assert run is not None
        failures = instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.RUN_FAILURE
        ).records
    finally:
        instance.dispose()
    mlflow_run = MlflowClient(settings.mlflow_tracking_uri).get_run(mlflow_run_id)
    return State(
        run.status,
        mlflow_run.info.status,
        failures[0].event_log_entry.message if failures else None,
        mlflow_run.data.tags.get("modelops.ended_by"),
    )


@pytest.fixture(scope="module")
def killed(tmp_path_factory: pytest.TempPathFactory) -> Killed:
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("killed")
    copy_german_spec(root / "specs")
    settings = make_settings(root, root / "specs")
    training = root / "in_training"
    process = subprocess.Popen(
        [sys.executable, "-c", HELD_RUN, str(training)],
        env=_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while not training.exists():
        if process.poll() is not None:
            pytest.fail(f"the run ended before training: {process.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the run did not reach training within 5 minutes")
        time.sleep(0.2)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    process.stderr.close()

    client = MlflowClient(settings.mlflow_tracking_uri)
    experiment = client.get_experiment_by_name(f"modelops/{UC}")
    (mlflow_run,) = client.search_runs([experiment.experiment_id])
    run_id = mlflow_run.data.tags["modelops.dagster_run_id"]
    before = _state(settings, run_id, mlflow_run.info.run_id)
    return Killed(settings, process.pid, run_id, mlflow_run.info.run_id, before)


@dataclass(frozen=True)
class NextRun:
    exit_code: int
    stdout: str
    stderr: str
    after: State


@pytest.fixture(scope="module")
def next_run(killed: Killed) -> NextRun:
    done = subprocess.run(
        [sys.executable, "-m", "modelops.cli", "run"],
        env=_env(killed.settings),
        capture_output=True,
        text=True,
        timeout=600,
    )
    return NextRun(
        done.returncode,
        done.stdout,
        done.stderr,
        _state(killed.settings, killed.run_id, killed.mlflow_run_id),
    )


def test_a_killed_run_is_left_started_with_its_mlflow_run_running(killed: Killed) -> None:
    """What the next command has to repair: nothing else ever ends them."""
    assert killed.before == State(dg.DagsterRunStatus.STARTED, "RUNNING", None, None)


def test_the_next_run_marks_it_failed_and_ends_its_mlflow_run(
    killed: Killed, next_run: NextRun
) -> None:
    host = socket.gethostname()
    assert next_run.exit_code == 0, next_run.stderr[-3000:]
    assert "Traceback" not in next_run.stdout + next_run.stderr
    assert next_run.stdout.splitlines()[0] == (
        f"Run {killed.run_id} ({MAIN_JOB}) was left in progress by a process that is gone "
        f"(pid {killed.pid} on {host}): marked failed; MLflow run(s) {killed.mlflow_run_id} "
        "ended as FAILED."
    )
    after = next_run.after
    assert after.status == dg.DagsterRunStatus.FAILURE
    assert after.mlflow_status == "FAILED"
    why = (
        f"the process running Dagster run {killed.run_id} (pid {killed.pid} on {host}) is "
        "gone, killed or crashed; found by modelops at "
    )
    assert after.ended_by is not None and after.ended_by.startswith(why)
    assert after.failure_message is not None
    assert after.failure_message.startswith(f"modelops: {why}")
    assert after.failure_message.endswith(
        ". The run could not finish: what it materialized before stays, the rest was not built."
    )


def test_the_next_run_itself_succeeds_and_leaves_nothing_to_close(
    killed: Killed, next_run: NextRun
) -> None:
    assert f"Run {killed.run_id}" not in next_run.stdout.split("\n", 1)[1]
    assert " succeeded in " in next_run.stdout
    instance = dg.DagsterInstance.from_config(str(killed.settings.dagster_home))
    try:
        assert close_orphaned_runs(instance, killed.settings.mlflow_tracking_uri) == []
        runs = instance.get_run_records()
        assert sorted(r.dagster_run.status.value for r in runs) == ["FAILURE", "SUCCESS"]
    finally:
        instance.dispose()


# How liveness is judged ----------------------------------------------------------------------


@dg.op
def _noop() -> None:
    pass


@dg.job
def tiny() -> None:
    _noop()


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.local_temp(str(tmp_path)) as temp:
        yield temp


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(["sleep", "120"])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def _started_run(
    instance: dg.DagsterInstance, tags: dict[str, str], *, start_pid: int | None = None
) -> str:
    """A run in STARTED status, as a worker leaves it when it is killed; its start event
    carries `start_pid` (default: this test's process, as Dagster records it)."""
    run = instance.create_run_for_job(tiny, tags=tags)
    event = dg.DagsterEvent(
        dg.DagsterEventType.RUN_START.value, job_name="tiny", pid=start_pid or os.getpid()
    )
    instance.report_dagster_event(event, run_id=run.run_id)
    return run.run_id


def _status(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRunStatus:
    run = instance.get_run_by_id(run_id)
    assert run is not None
    return run.status


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_a_run_whose_process_lives_is_never_closed(
    instance: dg.DagsterInstance, sleeper: subprocess.Popen
) -> None:
    run_id = _started_run(instance, worker_tags(sleeper.pid))

    assert close_orphaned_runs(instance, None) == []
    assert _status(instance, run_id) == dg.DagsterRunStatus.STARTED

    sleeper.kill()
    sleeper.wait()
    (closed,) = close_orphaned_runs(instance, None)
    assert (closed.run_id, closed.worker.pid) == (run_id, sleeper.pid)
    assert closed.text.endswith(
        "marked failed; its MLflow runs are ended by the next `modelops run` or by `dagster dev`."
    )
    assert _status(instance, run_id) == dg.DagsterRunStatus.FAILURE


def test_a_run_of_another_host_is_left_alone(instance: dg.DagsterInstance) -> None:
    run_id = _started_run(instance, {HOST_TAG: "another-host", PID_TAG: str(_dead_pid())})

    assert close_orphaned_runs(instance, None) == []
    assert _status(instance, run_id) == dg.DagsterRunStatus.STARTED


def test_an_untagged_run_is_judged_by_its_start_event(
    instance: dg.DagsterInstance, sleeper: subprocess.Popen
) -> None:
    """Runs launched from the UI of `dagster dev` on this machine's SQLite instance."""
    alive = _started_run(instance, {}, start_pid=sleeper.pid)
    dead_pid = _dead_pid()
    dead = _started_run(instance, {}, start_pid=dead_pid)

    closed = close_orphaned_runs(instance, None)

    assert [(c.run_id, c.worker.pid) for c in closed] == [(dead, dead_pid)]
    assert _status(instance, alive) == dg.DagsterRunStatus.STARTED
    assert _status(instance, dead) == dg.DagsterRunStatus.FAILURE


def test_init_before_dagster_dev_fails_the_run_a_killed_dagster_dev_left(tmp_path: Path) -> None:
    """`make ui` runs `modelops init` before `dagster dev`: a run left STARTED when the last
    `dagster dev` was killed outright (its code server too) is failed there."""
    copy_german_spec(tmp_path / "specs")
    settings = make_settings(tmp_path, tmp_path / "specs")
    assert cli(settings, "init").code == 0
    instance = dg.DagsterInstance.from_config(str(settings.dagster_home))
    try:
        dead_pid = _dead_pid()
        run_id = _started_run(instance, {}, start_pid=dead_pid)  # launched from the UI

        outcome = cli(settings, "init")

        assert outcome.code == 0, outcome.printed
        assert outcome.out.splitlines() == [
            f"Run {run_id} (tiny) was left in progress by a process that is gone (pid "
            f"{dead_pid} on {socket.gethostname()}): marked failed; its MLflow runs are ended "
            "by the next `modelops run` or by `dagster dev`.",
            f"Dagster instance ready at {settings.dagster_home}",
        ]
        assert _status(instance, run_id) == dg.DagsterRunStatus.FAILURE
    finally:
        instance.dispose()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="start times come from /proc")
def test_a_reused_pid_is_not_taken_for_the_runs_process(
    instance: dg.DagsterInstance, sleeper: subprocess.Popen
) -> None:
    """The recorded process started an hour before the one now holding its pid."""
    tags = worker_tags(sleeper.pid)
    tags[STARTED_TAG] = f"{float(tags[STARTED_TAG]) - 3600:.2f}"
    run_id = _started_run(instance, tags)

    (closed,) = close_orphaned_runs(instance, None)

    assert closed.run_id == run_id
    assert _status(instance, run_id) == dg.DagsterRunStatus.FAILURE


# MLflow runs left open by a run that has already failed ---------------------------------------


@pytest.fixture(scope="module")
def mlflow_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


def _open_training_run(uri: str, dagster_run_id: str) -> str:
    """An MLflow run as training leaves it when its process is killed: RUNNING, tagged."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(f"modelops/{UC}")
    experiment_id = (
        experiment.experiment_id if experiment else client.create_experiment(f"modelops/{UC}")
    )
    return client.create_run(experiment_id, tags={DAGSTER_RUN_TAG: dagster_run_id}).info.run_id


def _mlflow(uri: str, run_id: str) -> tuple[str, str | None]:
    """An MLflow run's status and who ended it."""
    from mlflow import MlflowClient

    run = MlflowClient(uri).get_run(run_id)
    return run.info.status, run.data.tags.get(ENDED_TAG)


def _failed_run(instance: dg.DagsterInstance) -> dg.DagsterRun:
    """A run failed from outside its process, as the code server fails a killed worker's."""
    run_id = _started_run(instance, {})
    run = instance.get_run_by_id(run_id)
    assert run is not None
    instance.report_run_failed(run)
    return run


def test_the_next_run_ends_the_mlflow_runs_a_failed_run_left_open(
    instance: dg.DagsterInstance, mlflow_uri: str, sleeper: subprocess.Popen
) -> None:
    failed = _failed_run(instance)
    left_open = _open_training_run(mlflow_uri, failed.run_id)
    in_progress = _started_run(instance, worker_tags(sleeper.pid))
    still_training = _open_training_run(mlflow_uri, in_progress)
    of_another_instance = _open_training_run(mlflow_uri, "0" * 8 + "-0000-0000-0000-" + "0" * 12)

    assert close_orphaned_runs(instance, mlflow_uri) == [
        EndedTrainingRuns(failed.run_id, "FAILURE", (left_open,))
    ]
    status, ended_by = _mlflow(mlflow_uri, left_open)
    assert status == "FAILED"
    assert ended_by is not None and ended_by.startswith(
        f"Dagster run {failed.run_id} ended FAILURE with this MLflow run still open: its "
        "process was killed or crashed; found by modelops at "
    )
    assert _mlflow(mlflow_uri, still_training) == ("RUNNING", None)
    assert _mlflow(mlflow_uri, of_another_instance) == ("RUNNING", None)
    assert close_orphaned_runs(instance, mlflow_uri) == []


def test_mlflow_down_neither_keeps_a_dead_run_started_nor_holds_the_command(
    instance: dg.DagsterInstance, mlflow_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run is closed at once; its MLflow run is ended by a later command."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # a regression fails fast
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{probe.getsockname()[1]}"
    run_id = _started_run(instance, {HOST_TAG: socket.gethostname(), PID_TAG: str(_dead_pid())})
    left_open = _open_training_run(mlflow_uri, run_id)

    started = time.monotonic()
    (closed,) = close_orphaned_runs(instance, down)

    assert time.monotonic() - started < 10
    assert closed.text.endswith(
        "marked failed; its MLflow runs could not be ended (MLflow did not answer: "
        "TrackingUnavailableError)."
    )
    assert _status(instance, run_id) == dg.DagsterRunStatus.FAILURE
    assert close_orphaned_runs(instance, mlflow_uri) == [
        EndedTrainingRuns(run_id, "FAILURE", (left_open,))
    ]
    assert _mlflow(mlflow_uri, left_open)[0] == "FAILED"


def test_the_sensor_ends_the_mlflow_runs_of_a_failed_run(
    instance: dg.DagsterInstance, mlflow_uri: str, tmp_path: Path
) -> None:
    """What `dagster dev` (and run monitoring in a deployment) does within a tick."""
    copy_german_spec(tmp_path / "specs")
    defs = build_definitions(make_settings(tmp_path, tmp_path / "specs"))
    assert defs.resolve_sensor_def("failed_run_tracking_cleanup") is not None
    failed = _failed_run(instance)
    left_open = _open_training_run(mlflow_uri, failed.run_id)
    other = _open_training_run(mlflow_uri, _started_run(instance, {}))
    (failure,) = instance.get_records_for_run(
        failed.run_id, of_type=dg.DagsterEventType.RUN_FAILURE
    ).records
    assert failure.event_log_entry.dagster_event is not None

    with dg.build_run_status_sensor_context(
        sensor_name="failed_run_tracking_cleanup",
        dagster_event=failure.event_log_entry.dagster_event,
        dagster_instance=instance,
        dagster_run=failed,
        resources={"tracking": ModelTracking(tracking_uri=mlflow_uri)},
    ) as context:
        failed_run_tracking_cleanup()(context.for_run_failure())

    assert _mlflow(mlflow_uri, left_open) == (
        "FAILED",
        f"Dagster run {failed.run_id} failed with this MLflow run still open (its process was "
        "killed or crashed); ended by the failed_run_tracking_cleanup sensor",
    )
    assert _mlflow(mlflow_uri, other) == ("RUNNING", None)
