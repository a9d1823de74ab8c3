"""Kubernetes execution: one pod per step, sized by the spec's `compute` section.

`pod_tags` is attached to every step in every environment; only the k8s executor reads it.
`k8s_executor` is the executor of `MODELOPS_ENV=k8s`. `step_job` builds offline the Kubernetes
Job that executor would create for one step, so the manifests can be reviewed and pinned by
golden files without a cluster.

`dagster_k8s` (and the kubernetes client under it) is imported inside the functions: loading the
code location must stay light in every environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import dagster as dg

from modelops.settings import K8sSettings
from modelops.spec.model import PodResources, UseCaseSpec

if TYPE_CHECKING:
    from dagster._grpc.types import ExecuteStepArgs
    from kubernetes.client import V1Job

K8S_CONFIG_TAG = "dagster-k8s/config"

MAX_CONCURRENT_STEPS = 4
"""Pods one run may have at once (per run, not per cluster: the run queue limits runs)."""

LABELS: dict[str, str] = {"app.kubernetes.io/part-of": "modelops"}
"""On every step Job and pod, so quotas, network policies and cost reports can select them."""

CODE_LOCATION = "modelops"
IMAGE_PYTHON = "/app/.venv/bin/python"
"""The interpreter of deploy/Dockerfile, recorded in the job origin a step receives."""
IMAGE_WORKDIR = "/app"

# Pod Security Standard "restricted": the image runs as uid 10001 (deploy/Dockerfile).
POD_SECURITY_CONTEXT: dict[str, Any] = {
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "runAsGroup": 10001,
    "fsGroup": 10001,
    "seccompProfile": {"type": "RuntimeDefault"},
}
CONTAINER_SECURITY_CONTEXT: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
}


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


def step_job(
    spec: UseCaseSpec,
    step_key: str,
    k8s: K8sSettings,
    *,
    launcher: Mapping[str, Any],
    run_id: str,
    job_name: str | None = None,
) -> V1Job:
    """The Kubernetes Job the k8s executor creates for one step of a run, built offline.

    Mirrors `dagster_k8s.executor.K8sStepHandler.launch_step` (dagster-k8s 0.29): the container
    context is the run launcher's (`launcher` = the `run_launcher.config` of the instance's
    dagster.yaml; `{env: ...}` values are read from the environment), merged with the
    executor's config, the step's op tags and its per-step override; the container runs
    `dagster api execute_step` with the step's arguments in an environment variable.

    Not modelled: the instance reference inside those arguments (None here; the run worker
    passes its own) and the code server's container context (`includeConfigInLaunchedRuns`),
    which adds nothing as long as it names the same config maps and secrets as the launcher.
    """
    from dagster._config import process_config, resolve_to_config_type
    from dagster_k8s import K8sRunLauncher
    from dagster_k8s.container_context import K8sContainerContext
    from dagster_k8s.job import (
        DagsterK8sJobConfig,
        UserDefinedDagsterK8sConfig,
        construct_dagster_k8s_job,
        get_k8s_job_name,
        get_user_defined_k8s_config,
    )

    from modelops.defs.jobs import training_job_name

    job_name = job_name or training_job_name(spec)
    tags = step_tags(spec)
    if step_key not in tags:
        raise KeyError(f"{step_key!r} is not a step of {spec.id!r}; steps: {sorted(tags)}")

    launched = process_config(resolve_to_config_type(K8sRunLauncher.config_type()), launcher)
    if not launched.success:
        raise ValueError(f"invalid K8sRunLauncher config: {launched.errors}")
    run_launcher: dict[str, Any] = dict(launched.value or {})
    executor = executor_settings(k8s)

    # K8sContainerContext.create_for_run(run, launcher, include_run_tags=False)
    context = K8sContainerContext().merge(
        K8sContainerContext(
            image_pull_policy=run_launcher.get("image_pull_policy") or "IfNotPresent",
            image_pull_secrets=run_launcher.get("image_pull_secrets"),
            service_account_name=run_launcher["service_account_name"],
            env_config_maps=run_launcher.get("env_config_maps"),
            env_secrets=run_launcher.get("env_secrets"),
            env_vars=run_launcher.get("env_vars"),
            volume_mounts=run_launcher.get("volume_mounts"),
            volumes=run_launcher.get("volumes"),
            labels=run_launcher.get("labels"),
            namespace=run_launcher.get("job_namespace", "default"),
            resources=run_launcher.get("resources"),
            scheduler_name=run_launcher.get("scheduler_name"),
            security_context=run_launcher.get("security_context"),
            run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(
                run_launcher.get("run_k8s_config") or {}
            ),
        )
    )
    # k8s_job_executor: the executor's own container context ...
    context = context.merge(
        K8sContainerContext(
            image_pull_policy=executor.get("image_pull_policy"),
            image_pull_secrets=executor.get("image_pull_secrets"),
            service_account_name=executor.get("service_account_name"),
            env_config_maps=executor.get("env_config_maps"),
            env_secrets=executor.get("env_secrets"),
            env_vars=executor.get("env_vars"),
            volume_mounts=executor.get("volume_mounts"),
            volumes=executor.get("volumes"),
            labels=executor.get("labels"),
            namespace=executor.get("job_namespace"),
            resources=executor.get("resources"),
            scheduler_name=executor.get("scheduler_name"),
            security_context=executor.get("security_context"),
            run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(
                executor.get("step_k8s_config", {})
            ),
        )
    )
    # ... then K8sStepHandler._get_container_context: op tags, then the per-step override.
    per_step = executor.get("per_step_k8s_config", {}).get(step_key, {})
    context = context.merge(
        K8sContainerContext(run_k8s_config=get_user_defined_k8s_config(tags[step_key]))
    ).merge(K8sContainerContext(run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(per_step)))

    job_config = DagsterK8sJobConfig(
        job_image=executor.get("job_image") or run_launcher.get("job_image"),
        dagster_home=run_launcher["dagster_home"],
        instance_config_map=run_launcher["instance_config_map"],
        postgres_password_secret=run_launcher.get("postgres_password_secret"),
    )
    step_args = execute_step_args(step_key, k8s, run_id=run_id, job_name=job_name)
    k8s_job_name = f"dagster-step-{get_k8s_job_name(run_id, step_key)}"
    return construct_dagster_k8s_job(
        job_config=job_config,
        args=step_args.get_command_args(skip_serialized_namedtuple=True),
        job_name=k8s_job_name,
        pod_name=k8s_job_name,
        component="step_worker",
        user_defined_k8s_config=context.run_k8s_config,
        labels={
            "dagster/job": job_name,
            "dagster/op": step_key,
            "dagster/run-id": run_id,
            "dagster/code-location": CODE_LOCATION,
        },
        env_vars=[
            *step_args.get_command_env(),
            {"name": "DAGSTER_RUN_JOB_NAME", "value": job_name},
            {"name": "DAGSTER_RUN_STEP_KEY", "value": step_key},
        ],
    )


def execute_step_args(
    step_key: str, k8s: K8sSettings, *, run_id: str, job_name: str
) -> ExecuteStepArgs:
    """What the executor hands a step pod (`dagster api execute_step` reads it from the
    environment): the job origin as the code server in deploy/Dockerfile's image records it."""
    from dagster._core.code_pointer import CodePointer
    from dagster._core.execution.retries import RetryMode
    from dagster._core.origin import (
        DEFAULT_DAGSTER_ENTRY_POINT,
        JobPythonOrigin,
        RepositoryPythonOrigin,
    )
    from dagster._grpc.types import ExecuteStepArgs

    origin = JobPythonOrigin(
        job_name,
        RepositoryPythonOrigin(
            executable_path=IMAGE_PYTHON,
            code_pointer=CodePointer.from_module("modelops.definitions", "defs", IMAGE_WORKDIR),
            container_image=k8s.image,
            entry_point=DEFAULT_DAGSTER_ENTRY_POINT,
        ),
    )
    retries = RetryMode.from_config(executor_settings(k8s)["retries"])
    return ExecuteStepArgs(
        job_origin=origin,
        run_id=run_id,
        step_keys_to_execute=[step_key],
        instance_ref=None,
        retry_mode=retries.for_inner_plan() if retries else None,
        known_state=None,
        should_verify_step=True,
        print_serialized_events=False,
    )


def executor_settings(k8s: K8sSettings) -> dict[str, Any]:
    """The executor's config as the executor receives it: ours plus the schema's defaults."""
    resolved = k8s_executor(k8s).config_schema.resolve_config({})
    if not resolved.success:
        raise ValueError(f"invalid k8s executor config: {resolved.errors}")
    return resolved.value["config"]


def step_tags(spec: UseCaseSpec) -> dict[str, Mapping[str, str]]:
    """The tags of each step of a use case (step key = op name), as the executor sees them."""
    from modelops.defs.use_case import use_case_assets

    return {
        asset.op.name: asset.op.tags
        for asset in use_case_assets(spec)
        if isinstance(asset, dg.AssetsDefinition) and asset.is_executable
    }
