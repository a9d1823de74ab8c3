"""Ending the MLflow runs of a Dagster run that can no longer end them itself.

`ModelTracking.record_training` closes its MLflow run when training fails, but a process
killed outright (`kill -9`, a crash, an evicted pod) leaves the run RUNNING in MLflow for
ever. The Dagster run's id is on every training run (tag `modelops.dagster_run_id`), so once
the Dagster run is known to be dead its MLflow runs can be found and ended as FAILED.
"""

from __future__ import annotations

import re
from collections import defaultdict

from modelops.names import MLFLOW_DAGSTER_RUN_TAG as DAGSTER_RUN_TAG

ENDED_TAG = "modelops.ended_by"
"""MLflow run tag saying who ended a run its own process could not end, and why."""

_RUN_ID = re.compile(r"^[0-9a-f-]{36}$")


def open_training_runs(
    tracking_uri: str, dagster_run_id: str | None = None
) -> dict[str, list[str]]:
    """The MLflow runs of the platform's experiments still RUNNING, by the Dagster run that
    started them (only `dagster_run_id`'s, if given). Runs without the tag are not ours."""
    if dagster_run_id is not None and not _RUN_ID.match(dagster_run_id):
        raise ValueError(f"not a Dagster run id: {dagster_run_id!r}")
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    experiments = [
        experiment.experiment_id
        for experiment in client.search_experiments(filter_string="name LIKE 'modelops/%'")
    ]
    if not experiments:
        return {}
    of_run = f" AND tags.`{DAGSTER_RUN_TAG}` = '{dagster_run_id}'" if dagster_run_id else ""
    by_dagster_run: dict[str, list[str]] = defaultdict(list)
    token = None
    while True:
        page = client.search_runs(
            experiments,
            filter_string=f"attributes.status = 'RUNNING'{of_run}",
            max_results=1000,
            page_token=token,
        )
        for run in page:
            owner = run.data.tags.get(DAGSTER_RUN_TAG)
            if owner and _RUN_ID.match(owner):
                by_dagster_run[owner].append(run.info.run_id)
        token = page.token
        if not token:
            return dict(by_dagster_run)


def end_training_runs(tracking_uri: str, mlflow_run_ids: list[str], why: str) -> None:
    """End the given MLflow runs as FAILED, tagging each with `why`."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    for run_id in mlflow_run_ids:
        client.set_tag(run_id, ENDED_TAG, why)
        client.set_terminated(run_id, status="FAILED")
