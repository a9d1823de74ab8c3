"""Where steps run: in one process locally, one Kubernetes pod per step with `MODELOPS_ENV=k8s`.

`pod_tags` is attached to every step in every environment; only the k8s executor reads it.
The Jobs that executor creates are built offline and pinned by golden files in the tests
(tests/support/kubernetes.py), so they can be reviewed without a cluster.

`dagster_k8s` (and the kubernetes client under it) is imported inside the functions: loading the
code location must stay light in every environment.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from modelops.pod_security import CONTAINER_SECURITY_CONTEXT, POD_SECURITY_CONTEXT
from modelops.settings import K8sSettings, Settings
from modelops.spec import PodResources

K8S_CONFIG_TAG = "dagster-k8s/config"

MAX_CONCURRENT_STEPS = 4
"""Pods one run may have at once (per run, not per cluster: the run queue limits runs)."""

LABELS: dict[str, str] = {"app.kubernetes.io/part-of": "modelops"}
"""On every step Job and pod, so quotas, network policies and cost reports can select them."""


def pod_tags(resources: PodResources) -> dict[str, Any]:
    """Op tags giving a step's pod its requests; memory is also the limit (an OOM-kill is a
    clear failure, a node running out of memory is not)."""
    return {
        K8S_CONFIG_TAG: {
            "container_config": {
                "resources": {
                    "requests": {"cpu": resources.cpu, "memory": resources.memory},
                    "limits": {"memory": resources.memory},
                }
            }
        }
    }


def executor_config(k8s: K8sSettings) -> dict[str, Any]:
    """The k8s executor's config, from settings. Plain data, so tests can read it.

    Step pods need no Kubernetes API access (the run worker launches them), hence no
    service-account token; finished Jobs are deleted after the TTL so the namespace does not
    fill up with completed pods.
    """
    config: dict[str, Any] = {
        "job_image": k8s.image,
        "job_namespace": k8s.namespace,
        "image_pull_policy": k8s.image_pull_policy,
        "env_secrets": list(k8s.env_secrets),
        "max_concurrent": MAX_CONCURRENT_STEPS,
        "step_k8s_config": {
            "job_metadata": {"labels": dict(LABELS)},
            "pod_template_spec_metadata": {"labels": dict(LABELS)},
            "job_spec_config": {"ttlSecondsAfterFinished": k8s.job_ttl_seconds},
            "pod_spec_config": {
                "automountServiceAccountToken": False,
                "securityContext": POD_SECURITY_CONTEXT,
            },
            "container_config": {"securityContext": CONTAINER_SECURITY_CONTEXT},
        },
    }
    if k8s.service_account:
        config["service_account_name"] = k8s.service_account
    return config


def k8s_executor(k8s: K8sSettings) -> dg.ExecutorDefinition:
    """Each step in its own Kubernetes Job (pod requests from the step's `pod_tags`)."""
    import dagster_k8s

    return dagster_k8s.k8s_job_executor.configured(executor_config(k8s))


def executor_for(settings: Settings) -> dg.ExecutorDefinition:
    """Locally every step runs in one process: the ML stack is imported once, not per step.
    On Kubernetes each step is its own pod, sized by the spec's `compute` section."""
    if settings.environment == "k8s":
        assert settings.k8s is not None  # guaranteed by Settings.from_env
        return k8s_executor(settings.k8s)
    return dg.in_process_executor
