"""The production Dagster instance (deploy/dagster.yaml) on a real PostgreSQL.

Only the run launcher is swapped for the default one (the Kubernetes launcher needs a
cluster); storage, run queue, retries and run monitoring are loaded exactly as deployed. The
tests run the German credit graph on it in process, then three runs at once from separate
processes through the `modelops` CLI, all tracked on one real MLflow server, and check that
Postgres holds a complete, consistent record of them. The last test kills a run worker and
shows that run monitoring, not a person, ends the run that was left STARTED.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

import dagster as dg
import pytest
import requests
import yaml
from dagster._core.events import DagsterEventType
from dagster._core.launcher import DefaultRunLauncher
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus, RunsFilter
from dagster._daemon.auto_run_reexecution.auto_run_reexecution import should_retry
from dagster._daemon.monitoring.run_monitoring import execute_run_monitoring_iteration
from dagster._utils.tags import TagConcurrencyLimitsCounter
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from modelops.definitions import build_definitions
from modelops.defs.inventory_asset import INVENTORY_KEY
from modelops.names import TRAINING_ASSETS as ASSET_NAMES
from modelops.settings import Settings
from support import PROJECT, copy_german_spec

if TYPE_CHECKING:
    from support.postgres import PostgresServer


UC = "german_credit"
DEPLOYED = PROJECT / "deploy" / "dagster.yaml"
DEFAULT_LAUNCHER = {"module": "dagster._core.launcher", "class": "DefaultRunLauncher"}
CONCURRENT_RUNS = 3


@pytest.fixture(scope="module")
def platform(
    postgres_server: PostgresServer,
    postgres_database: Callable[[], str],
    mlflow_server: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, str]]:
    """A platform home whose Dagster instance is deploy/dagster.yaml on a throwaway database.

    The instance file sits where the CLI looks for it (`<MODELOPS_HOME>/dagster`), so
    `modelops run` uses it too. Yields the environment of a run worker."""
    root = tmp_path_factory.mktemp("production")
    copy_german_spec(root / "specs")
    dagster_home = root / "home" / "dagster"
    dagster_home.mkdir(parents=True)
    config = yaml.safe_load(DEPLOYED.read_text())
    config["run_launcher"] = DEFAULT_LAUNCHER
    (dagster_home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    env = {
        "DAGSTER_HOME": str(dagster_home),
        "DAGSTER_PG_USERNAME": postgres_server.user,
        "DAGSTER_PG_PASSWORD": "unused-with-trust-auth",
        "DAGSTER_PG_HOST": postgres_server.host,
        "DAGSTER_PG_DB": postgres_database(),
        "MODELOPS_PROJECT_DIR": str(PROJECT),
        "MODELOPS_SPECS_DIR": str(root / "specs"),
        "MODELOPS_HOME": str(root / "home"),
        "MODELOPS_MLFLOW_TRACKING_URI": mlflow_server,
        # The server's proxied store: with the `local` default the artifacts would go to a
        # folder on the worker instead of through the server.
        "MODELOPS_MLFLOW_ARTIFACT_ROOT": "mlflow-artifacts:/modelops",
        # The audit log in Postgres too, as in production (its own throwaway database).
        "MODELOPS_AUDIT_DATABASE_URL": postgres_server.url(postgres_database()).replace(
            "+psycopg2", ""
        ),
        "DO_NOT_TRACK": "1",
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        yield env


@pytest.fixture(scope="module")
def instance(platform: dict[str, str]) -> Iterator[dg.DagsterInstance]:
    """Loading it creates the schema, once, before any run fans out."""
    with dg.DagsterInstance.from_config(platform["DAGSTER_HOME"]) as loaded:
        yield loaded


def reopened(platform: dict[str, str]) -> dg.DagsterInstance:
    """A second instance object: what it returns was read back from Postgres, not memory."""
    return dg.DagsterInstance.from_config(platform["DAGSTER_HOME"])


def model_versions(url: str) -> set[str]:
    response = requests.get(
        f"{url}/api/2.0/mlflow/model-versions/search", params={"filter": f"name='{UC}'"}
    )
    response.raise_for_status()
    return {v["version"] for v in response.json().get("model_versions", [])}


# (a) -------------------------------------------------------------------------------------


def test_instance_loads_as_deployed(instance: dg.DagsterInstance, platform: dict[str, str]) -> None:
    """Every section of the deployed file is in effect, with settings from the environment."""
    deployed = yaml.safe_load(DEPLOYED.read_text())
    assert deployed["run_launcher"]["class"] == "K8sRunLauncher"  # the only part swapped
    assert isinstance(instance.run_launcher, DefaultRunLauncher)

    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
    # Connection settings came from DAGSTER_PG_*, through the psycopg2 driver.
    url = instance.run_storage.postgres_url
    assert url.startswith("postgresql+psycopg2://")
    assert url.endswith(f"@127.0.0.1:5432/{platform['DAGSTER_PG_DB']}")

    # The queue as the daemon reads it (run limits may sit in the coordinator's config or,
    # since Dagster 1.10, under `concurrency: runs`).
    assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
    concurrency = instance.get_concurrency_config()
    assert concurrency.run_queue_config is not None
    assert concurrency.run_queue_config.max_concurrent_runs == 8
    assert concurrency.pool_config.default_pool_limit == 1

    assert instance.run_monitoring_enabled
    assert instance.run_monitoring_max_runtime_seconds == 4 * 3600
    assert instance.run_monitoring_start_timeout_seconds == 600
    assert instance.run_monitoring_cancel_timeout_seconds == 300
    assert instance.run_retries_enabled
    assert instance.run_retries_max_retries == 2
    assert not instance.run_retries_retry_on_asset_or_op_failure


def test_queue_allows_one_run_per_use_case(instance: dg.DagsterInstance) -> None:
    """The limit is keyed on the tag the use-case jobs really set, per distinct value."""
    settings = Settings.from_env()
    tags = build_definitions(settings).resolve_job_def(f"{UC}_pipeline").tags
    key = "modelops/use_case"
    assert tags[key] == UC

    def run(use_case: str, status: DagsterRunStatus = DagsterRunStatus.NOT_STARTED) -> DagsterRun:
        return DagsterRun(job_name=f"{use_case}_pipeline", tags={key: use_case}, status=status)

    queue = instance.get_concurrency_config().run_queue_config
    assert queue is not None
    # The daemon's own counter, fed with one german_credit run in progress.
    counter = TagConcurrencyLimitsCounter(
        queue.tag_concurrency_limits, [run(UC, DagsterRunStatus.STARTED)]
    )
    assert counter.is_blocked(run(UC))
    assert not counter.is_blocked(run("retail_churn"))


# (b) -------------------------------------------------------------------------------------


def test_graph_materializes_on_postgres(
    instance: dg.DagsterInstance, platform: dict[str, str]
) -> None:
    """Materializations, data versions and check results are read back from Postgres."""
    settings = Settings.from_env()
    result = (
        build_definitions(settings)
        .resolve_job_def("all_use_cases")
        .execute_in_process(instance=instance)
    )
    assert result.success
    produced = {
        e.materialization.asset_key: e.materialization.tags["dagster/data_version"]  # type: ignore[index]
        for e in result.get_asset_materialization_events()
    }
    assert set(produced) == {dg.AssetKey([UC, name]) for name in ASSET_NAMES} | {INVENTORY_KEY}

    evaluations = {e.asset_check_key: e.passed for e in result.get_asset_check_evaluations()}
    assert {k.name for k in evaluations} >= {
        "batch_quality",
        "meets_evaluation_thresholds",
        "no_dataset_drift",
    }

    with reopened(platform) as stored:
        assert stored.get_run_by_id(result.run_id).status == DagsterRunStatus.SUCCESS  # type: ignore[union-attr]
        for key, data_version in produced.items():
            event = stored.get_latest_materialization_event(key)
            assert event is not None and event.run_id == result.run_id, key
            tags = event.asset_materialization.tags  # type: ignore[union-attr]
            assert tags["dagster/data_version"] == data_version, key
            assert tags["dagster/code_version"], key
        checks = stored.event_log_storage.get_latest_asset_check_execution_by_key(list(evaluations))
    for key, passed in evaluations.items():
        assert checks[key].run_id == result.run_id, key
        assert checks[key].status.value == ("SUCCEEDED" if passed else "FAILED"), key


# (c) -------------------------------------------------------------------------------------


def test_concurrent_cli_runs_leave_consistent_storage(
    instance: dg.DagsterInstance,
    platform: dict[str, str],
    mlflow_server: str,
    postgres_server: PostgresServer,
) -> None:
    """Three workers write one event log and one registry at once (the instance fixture has
    created the schema before they start, as the daemon does in production)."""
    versions_before = model_versions(mlflow_server)
    env = {**os.environ, **platform}
    env.pop("DAGSTER_HOME")  # the CLI finds the instance under MODELOPS_HOME itself
    cli = Path(sys.executable).with_name("modelops")
    workers = [
        subprocess.Popen(
            [str(cli), "run", "-u", UC],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(CONCURRENT_RUNS)
    ]
    outputs = [worker.communicate(timeout=300)[0] for worker in workers]
    for worker, output in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, output[-3000:]
    run_ids = [re.search(r"/runs/([0-9a-f-]{36})", output).group(1) for output in outputs]  # type: ignore[union-attr]

    with reopened(platform) as stored:
        records = stored.get_run_records(RunsFilter(run_ids=run_ids))
        assert len(records) == CONCURRENT_RUNS
        assert {r.dagster_run.status for r in records} == {DagsterRunStatus.SUCCESS}
        assert {r.dagster_run.tags["modelops/use_case"] for r in records} == {UC}
        # They really ran at the same time: the last one started before the first one ended.
        assert max(r.start_time for r in records) < min(r.end_time for r in records)  # type: ignore[type-var]

        # One new registered version per run, each number once, and each run's model asset
        # records the version that run registered.
        new_versions = model_versions(mlflow_server) - versions_before
        assert len(new_versions) == CONCURRENT_RUNS
        registered_by_runs = set()
        for run_id in run_ids:
            materialized = _materializations(stored, run_id)
            assert sorted(materialized) == sorted(ASSET_NAMES), run_id
            registered_by_runs.add(materialized["trained_model"].tags["dagster/data_version"])
        assert registered_by_runs == new_versions

        # Every event of every run is stored once, and the API returns every stored row.
        ids: list[int] = []
        for run in stored.get_runs():
            events = stored.get_records_for_run(run.run_id).records
            types = [e.event_log_entry.dagster_event_type for e in events]
            if run.run_id in run_ids:
                assert types.count(DagsterEventType.RUN_START) == 1, run.run_id
                assert types[-1] == DagsterEventType.RUN_SUCCESS, run.run_id
                assert DagsterEventType.STEP_FAILURE not in types, run.run_id
            ids.extend(e.storage_id for e in events)
    assert len(ids) == len(set(ids))
    connection = postgres_server.connect(platform["DAGSTER_PG_DB"])
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*), min(id), max(id) FROM event_logs")
            count, first, last = cursor.fetchone()
    finally:
        connection.close()
    assert count == len(ids)
    assert (first, last) == (min(ids), max(ids))
    assert last - first + 1 == count  # no gap: no event insert was lost

    # The three runs appended to one audit chain at once: each new version's training, gate
    # thresholds and gate result are there once (each run judged the model it trained, not
    # one another run published meanwhile), and the chain verifies.
    from modelops.resources.audit_postgres import PostgresAuditLog

    log = PostgresAuditLog(dsn=platform["MODELOPS_AUDIT_DATABASE_URL"])
    records = log.records(use_case=UC, events=["training", "gate_thresholds", "gate_result"])
    for event in ("training", "gate_thresholds", "gate_result"):
        versions = [r.model_version for r in records if r.event == event]
        assert set(new_versions) <= set(versions), event
        assert len(versions) == len(set(versions)), event
    assert log.verify().ok


def _materializations(
    instance: dg.DagsterInstance, run_id: str
) -> dict[str, dg.AssetMaterialization]:
    """The run's materializations by asset name; fails if an asset was stored twice."""
    records = instance.get_records_for_run(
        run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
    ).records
    found = [r.event_log_entry.asset_materialization for r in records]
    by_name = {m.asset_key.path[-1]: m for m in found if m is not None}
    assert len(by_name) == len(found), f"duplicate or empty materialization in run {run_id}"
    return by_name


# (d) -------------------------------------------------------------------------------------

STUCK_WORKER = """
import sys, time
import dagster as dg

@dg.op
def wait_forever() -> None:
    time.sleep(600)

@dg.job
def stuck():
    wait_forever()

tags = dict(arg.split("=", 1) for arg in sys.argv[2:])
stuck.execute_in_process(instance=dg.DagsterInstance.get(), run_id=sys.argv[1], tags=tags)
"""


def test_run_monitoring_ends_a_run_whose_worker_was_killed(
    instance: dg.DagsterInstance, platform: dict[str, str], tmp_path: Path
) -> None:
    """A worker killed with SIGKILL cannot report its end: the run stays STARTED until run
    monitoring (one iteration of the daemon's own loop here) fails it for exceeding its
    `dagster/max_runtime`; then run retries take over. An untagged run is bounded by the
    instance's four hours instead."""
    tagged, untagged = str(uuid.uuid4()), str(uuid.uuid4())
    env = {**os.environ, **platform}
    log = tmp_path / "workers.log"
    with log.open("wb") as out:
        workers = {
            run_id: subprocess.Popen(
                [sys.executable, "-c", STUCK_WORKER, run_id, *tags],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            for run_id, tags in ((tagged, ["dagster/max_runtime=1"]), (untagged, []))
        }
    try:
        _wait_until_steps_started(instance, workers, log, timeout=60)
    finally:
        for worker in workers.values():
            worker.kill()
            worker.wait()

    assert instance.get_run_by_id(tagged).status == DagsterRunStatus.STARTED  # type: ignore[union-attr]
    time.sleep(1.2)  # past the tagged run's one-second limit
    context = SimpleNamespace(instance=instance, create_request_context=lambda: None)
    errors = list(execute_run_monitoring_iteration(context, logging.getLogger(__name__)))  # type: ignore[arg-type]
    assert not [e for e in errors if e is not None]

    assert instance.get_run_by_id(tagged).status == DagsterRunStatus.FAILURE  # type: ignore[union-attr]
    canceling = instance.get_records_for_run(tagged, of_type=DagsterEventType.RUN_CANCELING).records
    assert "exceeding maximum runtime of 1 seconds" in canceling[0].event_log_entry.message
    # The retry daemon's own decision: the run failed by monitoring is retried (run_retries).
    assert should_retry(instance.get_run_by_id(tagged), instance)  # type: ignore[arg-type]
    assert instance.get_run_by_id(untagged).status == DagsterRunStatus.STARTED  # type: ignore[union-attr]


def _wait_until_steps_started(
    instance: dg.DagsterInstance,
    workers: dict[str, subprocess.Popen],
    log: Path,
    *,
    timeout: float,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(worker.poll() is not None for worker in workers.values()):
            pytest.fail(f"a stuck worker exited by itself:\n{log.read_text()[-3000:]}")
        started = [
            instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_START).records
            for run_id in workers
        ]
        if all(started):
            return
        time.sleep(0.2)
    pytest.fail(
        f"the stuck workers did not start within {timeout:.0f} s:\n{log.read_text()[-3000:]}"
    )
