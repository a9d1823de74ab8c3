"""Ending the MLflow runs of a Dagster run that can no longer end them itself.

`ModelTracking.record_training` closes its MLflow run when training fails, but a process
killed outright (`kill -9`, a crash, an evicted pod) leaves the run RUNNING in MLflow for
ever. The Dagster run's id is on every training run (tag `modelops.dagster_run_id`), so once
the Dagster run is known to be dead its MLflow runs can be found and ended as FAILED.
"""

from __future__ import annotations

import re

DAGSTER_RUN_TAG = "modelops.dagster_run_id"
"""MLflow run tag naming the Dagster run that trained it (set by the training record)."""
ENDED_TAG = "modelops.ended_by"
"""MLflow run tag saying who ended a run its own process could not end, and why."""

_RUN_ID = re.compile(r"^[0-9a-f-]{36}$")


def end_orphaned_mlflow_runs(tracking_uri: str, dagster_run_id: str, why: str) -> list[str]:
    """End as FAILED the MLflow runs of the platform's experiments that `dagster_run_id` left
    RUNNING, tagging each with `why`; returns their ids."""
    if not _RUN_ID.match(dagster_run_id):
        raise ValueError(f"not a Dagster run id: {dagster_run_id!r}")
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    experiments = [
        experiment.experiment_id
        for experiment in client.search_experiments(filter_string="name LIKE 'modelops/%'")
    ]
    if not experiments:
        return []
    runs = client.search_runs(
        experiments,
        filter_string=(
            f"tags.`{DAGSTER_RUN_TAG}` = '{dagster_run_id}' AND attributes.status = 'RUNNING'"
        ),
    )
    for run in runs:
        client.set_tag(run.info.run_id, ENDED_TAG, why)
        client.set_terminated(run.info.run_id, status="FAILED")
    return [run.info.run_id for run in runs]
