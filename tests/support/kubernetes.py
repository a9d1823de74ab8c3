"""The Kubernetes Job the k8s executor creates for one step of a run, built offline.

Test support only: it mirrors dagster-k8s with Dagster's private modules, so the manifests can
be pinned by golden files (tests/golden/k8s) and compared with the real step handler, without
a cluster. The platform itself only configures the executor (`modelops.defs.kubernetes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import dagster as dg

from modelops.defs.kubernetes import k8s_executor
from modelops.defs.use_case import use_case_definitions
from modelops.names import TRAINING_ASSETS, training_job
from modelops.settings import K8sSettings
from modelops.spec import UseCaseSpec
from modelops.spec.risk import load_risk_policy

if TYPE_CHECKING:
    from dagster._grpc.types import ExecuteStepArgs
    from kubernetes.client import V1Job

CODE_LOCATION = "modelops"
IMAGE_PYTHON = "/app/.venv/bin/python"
"""The interpreter of deploy/Dockerfile, recorded in the job origin a step receives."""
IMAGE_WORKDIR = "/app"


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

    job_name = job_name or training_job(spec.id)
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
    """The tags of each step of a use case's training job (step key = op name), as the
    executor sees them."""
    assets = use_case_definitions(spec, load_risk_policy()).assets or []
    return {
        asset.op.name: asset.op.tags
        for asset in assets
        if isinstance(asset, dg.AssetsDefinition)
        and all(key.path[-1] in TRAINING_ASSETS for key in asset.keys)
    }
