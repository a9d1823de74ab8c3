"""The resources of each target environment, chosen by `Settings.environment`.

Assets only name the interfaces (`store`, `source`, `tracking`); which implementation they get
is decided here, once, so the same definitions run on a laptop, on GCP and on Kubernetes.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from modelops.resources.source import LocalFileSource
from modelops.resources.storage import LocalArtifactStore
from modelops.resources.tracking import ModelTracking
from modelops.settings import Settings


def resources_for(settings: Settings) -> dict[str, Any]:
    if settings.environment == "local":
        return {
            "store": LocalArtifactStore(root=str(settings.data_dir)),
            "source": LocalFileSource(root=str(settings.project_dir)),
            "tracking": ModelTracking(
                tracking_uri=settings.mlflow_tracking_uri,
                artifact_root=settings.mlflow_artifact_root,
                ui_url=settings.mlflow_ui_url,
            ),
        }
    raise NotImplementedError(f"environment {settings.environment!r}")


def executor_for(settings: Settings) -> dg.ExecutorDefinition:
    """Local runs execute every step in one process: the ML stack is imported once, not per step."""
    return dg.in_process_executor
