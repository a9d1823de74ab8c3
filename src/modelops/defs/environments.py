"""The resources of each target environment, chosen by `Settings.environment`.

Assets only name the interfaces (`store`, `source`, `tracking`); which implementation they get
is decided here, once, so the same definitions run on a laptop, on GCP and on Kubernetes.
Cloud clients are imported only when their environment is chosen.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from modelops.resources.alerts import AlertSink, LocalAlerts, WebhookAlerts
from modelops.resources.audit_log import AuditLog, PostgresAuditLog, SqliteAuditLog
from modelops.resources.source import LocalFileSource
from modelops.resources.storage import LocalArtifactStore
from modelops.resources.tracking import ModelTracking
from modelops.settings import WEBHOOK_VARIABLE, Settings


def resources_for(settings: Settings) -> dict[str, Any]:
    audit_log = audit_log_for(settings)
    shared = {
        "tracking": ModelTracking(
            tracking_uri=settings.mlflow_tracking_uri,
            artifact_root=settings.mlflow_artifact_root,
            ui_url=settings.mlflow_ui_url,
        ),
        "alerts": alerts_for(settings, audit_log),
        "audit_log": audit_log,
    }
    if settings.environment == "local":
        return {
            "store": LocalArtifactStore(root=str(settings.data_dir)),
            "source": LocalFileSource(root=str(settings.project_dir)),
            **shared,
        }
    from modelops.resources.gcs import gcp_resources

    assert settings.gcp is not None  # guaranteed by Settings.from_env
    return {**gcp_resources(settings.gcp), **shared}


def alerts_for(settings: Settings, audit_log: AuditLog | None = None) -> AlertSink:
    """A webhook when `MODELOPS_ALERT_WEBHOOK_URL` is set (the URL is a secret: resolved at
    run time, never shown in the UI), else the local alert file under the platform home."""
    local = str(settings.home_dir / "alerts.jsonl")
    if settings.alert_webhook:
        return WebhookAlerts(
            url=dg.EnvVar(WEBHOOK_VARIABLE), fallback_path=local, audit_log=audit_log
        )
    return LocalAlerts(path=local, audit_log=audit_log)


def audit_log_for(settings: Settings) -> AuditLog:
    """Postgres in production (shared by every pod and operator), a SQLite file locally."""
    if settings.audit_database_url:
        return PostgresAuditLog(dsn=settings.audit_database_url)
    return SqliteAuditLog(path=str(settings.audit_log_path))


def executor_for(settings: Settings) -> dg.ExecutorDefinition:
    """Locally every step runs in one process: the ML stack is imported once, not per step.
    On Kubernetes each step is its own pod, sized by the spec's `compute` section."""
    if settings.environment == "k8s":
        from modelops.defs.kubernetes import k8s_executor

        assert settings.k8s is not None  # guaranteed by Settings.from_env
        return k8s_executor(settings.k8s)
    return dg.in_process_executor
