"""The resources of each target environment, chosen by `Settings.environment`.

Assets, sensors and the operator commands only name the interfaces (`store`, `source`,
`tracking`, `alerts`, `audit_log`, `decisions`); which implementation they get is decided
here, once, so the same definitions run on a laptop, on GCP and on Kubernetes. Cloud clients
are imported only when their environment is chosen.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from modelops.resources.alert_channels import SmtpServer
from modelops.resources.alerts import ALERTS_FILE, AlertSink, LocalAlerts, WebhookAlerts
from modelops.resources.audit_log import AuditLog
from modelops.resources.audit_postgres import PostgresAuditLog
from modelops.resources.audit_sqlite import SqliteAuditLog
from modelops.resources.decision_store import DecisionLogStore
from modelops.resources.model_runtimes import ModelRuntimeLauncher
from modelops.resources.source import DataSource, LocalFileSource
from modelops.resources.storage import ArtifactStore, LocalArtifactStore
from modelops.resources.tracking import ModelTracking
from modelops.settings import WEBHOOK_VARIABLE, Settings


@dataclass(frozen=True)
class PlatformResources:
    """One environment's resources, typed for code that runs outside Dagster (the operator
    commands, the demo) and handed to Dagster by their resource keys."""

    store: ArtifactStore
    source: DataSource
    tracking: ModelTracking
    alerts: AlertSink
    audit_log: AuditLog
    decisions: DecisionLogStore
    runtimes: ModelRuntimeLauncher

    def by_key(self) -> dict[str, dg.ConfigurableResource]:
        """The resources as `dg.Definitions(resources=...)` takes them."""
        return {
            "store": self.store,
            "source": self.source,
            "tracking": self.tracking,
            "alerts": self.alerts,
            "audit_log": self.audit_log,
            "decisions": self.decisions,
            "runtimes": self.runtimes,
        }


def resources_for(settings: Settings) -> PlatformResources:
    audit_log = audit_log_for(settings)
    tracking = ModelTracking(
        tracking_uri=settings.mlflow_tracking_uri,
        artifact_root=settings.mlflow_artifact_root,
        ui_url=settings.mlflow_ui_url,
    )
    if settings.environment == "local":
        store: ArtifactStore = LocalArtifactStore(
            root=str(settings.data_dir), reports_url=settings.reports_url
        )
        source: DataSource = LocalFileSource(
            root=str(settings.project_dir),
            allowed_roots=[str(folder) for folder in settings.readable_roots.folders],
        )
    else:
        from modelops.resources.gcs import gcp_resources

        assert settings.gcp is not None  # guaranteed by Settings.from_env
        store, source = gcp_resources(settings.gcp)
    return PlatformResources(
        store,
        source,
        tracking,
        alerts_for(settings, audit_log),
        audit_log,
        DecisionLogStore(directory=str(settings.decision_log_dir)),
        runtimes_for(settings),
    )


def runtimes_for(settings: Settings) -> ModelRuntimeLauncher:
    """Model scripts run as subprocesses, or as pods in the step pods' image and namespace."""
    k8s = settings.k8s
    return ModelRuntimeLauncher(
        environment=settings.environment,
        project_dir=str(settings.project_dir),
        image=k8s.image if k8s else None,
        namespace=k8s.namespace if k8s else "modelops",
    )


def alerts_for(settings: Settings, audit_log: AuditLog | None = None) -> AlertSink:
    """Alerts kept in the local alert file under the platform home and delivered per each
    spec's routes: the log, e-mail when MODELOPS_SMTP_HOST is set, and the webhook when
    `MODELOPS_ALERT_WEBHOOK_URL` is (the URL is a secret: resolved when used, never shown in
    the UI)."""
    local = str(settings.home_dir / ALERTS_FILE)
    smtp = SmtpServer(**settings.smtp.model_dump()) if settings.smtp else None
    delivery = {
        "audit_log": audit_log,
        "smtp": smtp,
        "attempts": settings.alert_attempts,
        "backoff_seconds": settings.alert_backoff_seconds,
    }
    if settings.alert_webhook:
        return WebhookAlerts(url=dg.EnvVar(WEBHOOK_VARIABLE), fallback_path=local, **delivery)
    return LocalAlerts(path=local, **delivery)


def audit_log_for(settings: Settings) -> AuditLog:
    """Postgres in production (shared by every pod and operator), a SQLite file locally."""
    if settings.audit_database_url:
        return PostgresAuditLog(dsn=settings.audit_database_url)
    return SqliteAuditLog(path=str(settings.audit_log_path))
