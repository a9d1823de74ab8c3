"""The online scoring service on Kubernetes: Deployment, Service, HorizontalPodAutoscaler and
the decision log's volume claim, built from settings as plain data.

The manifests are rendered offline and pinned by golden files
(tests/dagster/test_serving_manifests.py), like the step Jobs, so they can be reviewed
without a cluster. They follow the step pods' conventions (deploy/Dockerfile's uid 10001, the
same config map and secrets through envFrom, Pod Security "restricted") and add what a
long-running service needs: probes on /readyz and /healthz, a read-only root filesystem with
a scratch /tmp, Prometheus scrape annotations, and the decision log on a volume shared by
every replica (each pod writes files of its own, `monitoring.decision_log`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from modelops.pod_security import CONTAINER_SECURITY_CONTEXT, POD_SECURITY_CONTEXT
from modelops.settings import K8sSettings

PORT = 8000
DECISION_LOG_DIR = "/var/lib/modelops/decisions"
SCRATCH_DIR = "/tmp"
SETTINGS_CONFIG_MAP = "modelops-settings"
"""The config map of every modelops pod (deploy/config/modelops-settings.yaml)."""

_CONTAINER_SECURITY_CONTEXT: dict[str, Any] = {
    **CONTAINER_SECURITY_CONTEXT,
    "readOnlyRootFilesystem": True,  # the service writes only to its volumes
}


class ServingDeployment(BaseModel):
    """How one use case's service runs: size, replicas and the decision log's volume.

    The defaults fit the German credit scorecard: ~0.2 ms of CPU per decision, so one core
    answers thousands a second; memory is the model, scikit-learn and polars loaded once.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    use_case: str
    image: str | None = None
    """An image other than the step image (`K8sSettings.image`): deploy/Dockerfile.serving's
    build; None = `K8sSettings.image` with the tag suffix `-serving`."""
    cpu_request: str = "500m"
    cpu_limit: str = "2"
    memory: str = "1Gi"
    """Request and limit: an OOM-kill is a clear failure, a node out of memory is not."""
    min_replicas: int = Field(default=2, ge=1)
    max_replicas: int = Field(default=10, ge=1)
    cpu_target_percent: int = Field(default=60, ge=10, le=100)
    decision_log_storage: str = "50Gi"
    decision_log_storage_class: str | None = None
    """A ReadWriteMany class (NFS, Filestore); None = the cluster's default."""


def serving_manifests(k8s: K8sSettings, deployment: ServingDeployment) -> list[dict[str, Any]]:
    """The PersistentVolumeClaim, Deployment, Service and HorizontalPodAutoscaler of the
    service, in the order they are applied."""
    name = f"modelops-serving-{deployment.use_case.replace('_', '-')}"
    labels = {
        "app.kubernetes.io/part-of": "modelops",
        "app.kubernetes.io/component": "serving",
        "app.kubernetes.io/name": name,
        "modelops.bank.example/use-case": deployment.use_case,
    }
    metadata = {"name": name, "namespace": k8s.namespace, "labels": dict(labels)}
    claim = f"{name}-decisions"
    return [
        _volume_claim(claim, k8s, labels, deployment),
        _deployment(name, claim, k8s, labels, deployment),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": metadata,
            "spec": {
                "type": "ClusterIP",
                "selector": {"app.kubernetes.io/name": name},
                "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
            },
        },
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": metadata,
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "minReplicas": deployment.min_replicas,
                "maxReplicas": max(deployment.max_replicas, deployment.min_replicas),
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {
                                "type": "Utilization",
                                "averageUtilization": deployment.cpu_target_percent,
                            },
                        },
                    }
                ],
            },
        },
    ]


def _volume_claim(
    name: str, k8s: K8sSettings, labels: dict[str, str], deployment: ServingDeployment
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteMany"],  # every replica appends files of its own
        "resources": {"requests": {"storage": deployment.decision_log_storage}},
    }
    if deployment.decision_log_storage_class:
        spec["storageClassName"] = deployment.decision_log_storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": k8s.namespace, "labels": dict(labels)},
        "spec": spec,
    }


def _deployment(
    name: str,
    claim: str,
    k8s: K8sSettings,
    labels: dict[str, str],
    deployment: ServingDeployment,
) -> dict[str, Any]:
    probe = {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 5}
    container = {
        "name": "serving",
        "image": deployment.image or f"{k8s.image}-serving",
        "imagePullPolicy": k8s.image_pull_policy,
        # No command: the image's CMD is `modelops serve -u $USE_CASE --host 0.0.0.0 --port 8000`.
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "env": [
            {"name": "USE_CASE", "value": deployment.use_case},
            {"name": "MODELOPS_DECISION_LOG_DIR", "value": DECISION_LOG_DIR},
            {"name": "MODELOPS_HOME", "value": f"{SCRATCH_DIR}/modelops"},
        ],
        "envFrom": [{"configMapRef": {"name": SETTINGS_CONFIG_MAP}}]
        + [{"secretRef": {"name": secret}} for secret in k8s.env_secrets],
        "readinessProbe": {**probe, "failureThreshold": 2},
        # Loading the champion (MLflow, digest check) can take a while: probes wait for it.
        "startupProbe": {
            "httpGet": {"path": "/healthz", "port": "http"},
            "periodSeconds": 5,
            "failureThreshold": 36,
        },
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": "http"},
            "periodSeconds": 10,
            "failureThreshold": 3,
        },
        "resources": {
            "requests": {"cpu": deployment.cpu_request, "memory": deployment.memory},
            "limits": {"cpu": deployment.cpu_limit, "memory": deployment.memory},
        },
        "securityContext": dict(_CONTAINER_SECURITY_CONTEXT),
        "volumeMounts": [
            {"name": "decisions", "mountPath": DECISION_LOG_DIR},
            {"name": "scratch", "mountPath": SCRATCH_DIR},
        ],
    }
    pod_spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "securityContext": dict(POD_SECURITY_CONTEXT),
        "terminationGracePeriodSeconds": 30,
        "containers": [container],
        "volumes": [
            {"name": "decisions", "persistentVolumeClaim": {"claimName": claim}},
            {"name": "scratch", "emptyDir": {"sizeLimit": "256Mi"}},
        ],
    }
    if k8s.service_account:
        pod_spec["serviceAccountName"] = k8s.service_account
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": k8s.namespace, "labels": dict(labels)},
        "spec": {
            "replicas": deployment.min_replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": {
                    "labels": dict(labels),
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(PORT),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": pod_spec,
            },
        },
    }
