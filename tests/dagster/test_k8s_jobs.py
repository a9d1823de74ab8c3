"""The Kubernetes Jobs of the German credit steps, built offline and pinned by golden files.

A change to pod sizes, secrets, labels, security context or the dagster-k8s version shows up
as a diff in tests/golden/k8s/ that a reviewer reads like any manifest. Regenerate with
`UPDATE_GOLDEN=1 uv run pytest tests/dagster/test_k8s_jobs.py`.
"""

from __future__ import annotations

import base64
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import dagster as dg
import pytest
import yaml

from modelops.defs.kubernetes import (
    LABELS,
    MAX_CONCURRENT_STEPS,
    executor_config,
    executor_for,
    k8s_executor,
)
from modelops.defs.use_case import use_case_definitions
from modelops.names import training_job
from modelops.settings import K8sSettings, Settings
from modelops.spec import UseCaseSpec, load_spec
from modelops.spec.risk import load_risk_policy
from support import PROJECT, TESTS
from support.kubernetes import execute_step_args, executor_settings, step_job, step_tags

GOLDEN = TESTS / "golden" / "k8s"
DAGSTER_YAML = PROJECT / "deploy" / "dagster.yaml"
RUN_ID = "00000000-0000-4000-8000-000000000001"
K8S = K8sSettings(
    image="registry.bank.example/modelops:0123456789ab",
    namespace="modelops",
    image_pull_policy="IfNotPresent",
    env_secrets=("modelops-secrets", "modelops-mlflow"),
    service_account="modelops-steps",
    job_ttl_seconds=3600,
)
STEPS = (
    "german_credit__raw_dataset",
    "german_credit__validate",
    "german_credit__features",
    "german_credit__split",
    "german_credit__trained_model",
    "german_credit__evaluation_report",
    "german_credit__drift_report",
    "german_credit__fairness_report",
    "german_credit__release_gates",
    "german_credit__model_release",
    "german_credit__model_card",
)
TRAINING_STEPS = (
    "german_credit__trained_model",
    "german_credit__evaluation_report",
    "german_credit__fairness_report",
    "german_credit__release_gates",
)
LIGHT_STEPS = tuple(s for s in STEPS if s not in TRAINING_STEPS)
STEP_ARGS_ENV = "DAGSTER_COMPRESSED_EXECUTE_STEP_ARGS"
# The only literal environment variables a step pod may have; everything else (settings,
# credentials) comes from config maps and secrets through envFrom.
LITERAL_ENV = {STEP_ARGS_ENV, "DAGSTER_RUN_JOB_NAME", "DAGSTER_RUN_STEP_KEY", "DAGSTER_HOME"}


@pytest.fixture(scope="module")
def launcher() -> dict[str, Any]:
    """The run launcher of the production instance: step pods inherit its settings."""
    return yaml.safe_load(DAGSTER_YAML.read_text())["run_launcher"]["config"]


@pytest.fixture(scope="module")
def launcher_env() -> Iterator[None]:
    """deploy/dagster.yaml reads the namespace from the environment, as the daemon would."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELOPS_K8S_NAMESPACE", "modelops")
        yield


@pytest.fixture(scope="module")
def manifests(
    german_spec: UseCaseSpec, launcher: dict[str, Any], launcher_env: None
) -> dict[str, dict[str, Any]]:
    return {
        step: _sanitize(step_job(german_spec, step, K8S, launcher=launcher, run_id=RUN_ID))
        for step in STEPS
    }


def _sanitize(job: Any) -> dict[str, Any]:
    from kubernetes.client import ApiClient

    return ApiClient().sanitize_for_serialization(job)


def _container(manifest: dict[str, Any]) -> dict[str, Any]:
    (container,) = manifest["spec"]["template"]["spec"]["containers"]
    return container


def _golden_text(manifest: dict[str, Any]) -> str:
    """The manifest as committed: the opaque step arguments replaced by a note (they are
    decoded and checked in test_step_pods_receive_their_step)."""
    manifest = yaml.safe_load(yaml.safe_dump(manifest))
    for var in _container(manifest)["env"]:
        if var["name"] == STEP_ARGS_ENV:
            var["value"] = "<zlib+base64 ExecuteStepArgs, checked by the test>"
    header = (
        "# Kubernetes Job of one step, as the k8s executor creates it "
        "(tests/dagster/test_k8s_jobs.py).\n"
        "# Regenerate: UPDATE_GOLDEN=1 uv run pytest tests/dagster/test_k8s_jobs.py\n"
    )
    return header + yaml.safe_dump(manifest, sort_keys=True, default_flow_style=False, width=100)


def _quantity(value: str) -> Any:
    from kubernetes.utils import parse_quantity

    return parse_quantity(value)


@pytest.mark.parametrize("step", STEPS)
def test_step_job_matches_golden_file(manifests: dict[str, dict[str, Any]], step: str) -> None:
    path = GOLDEN / f"{step}.yaml"
    text = _golden_text(manifests[step])
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.is_file(), f"missing {path}; run with UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(), f"{step}: manifest changed; review, then UPDATE_GOLDEN=1"


def test_no_stale_golden_files() -> None:
    """A removed or renamed step must take its golden file with it (german_credit_r__*:
    test_k8s_runtime_jobs.py)."""
    assert sorted(p.stem for p in GOLDEN.glob("german_credit__*.yaml")) == sorted(STEPS)


def test_the_steps_are_the_steps_of_the_use_case_job(german_spec: UseCaseSpec) -> None:
    """The golden files cover exactly the steps Dagster plans, with the tags it plans them with
    (what the executor reads), so no step can escape the pod sizing."""
    from dagster._core.execution.api import create_execution_plan

    names = ("store", "source", "tracking", "audit_log", "alerts", "decisions", "runtimes")
    defs = dg.Definitions.merge(
        use_case_definitions(german_spec, load_risk_policy()),
        dg.Definitions(resources={name: mock.MagicMock() for name in names}),
    )
    plan = create_execution_plan(defs.resolve_job_def(training_job(german_spec.id)))
    planned = {step.key: dict(step.tags) for step in plan.get_all_steps_in_topo_order()}
    assert sorted(planned) == sorted(STEPS)
    assert planned == {key: dict(tags) for key, tags in step_tags(german_spec).items()}


def test_training_steps_request_more_cpu_and_memory(manifests: dict[str, dict[str, Any]]) -> None:
    for heavy in TRAINING_STEPS:
        heavy_resources = _container(manifests[heavy])["resources"]
        for light in LIGHT_STEPS:
            light_resources = _container(manifests[light])["resources"]
            for kind in ("cpu", "memory"):
                assert _quantity(heavy_resources["requests"][kind]) > _quantity(
                    light_resources["requests"][kind]
                ), (heavy, light, kind)
            assert _quantity(heavy_resources["limits"]["memory"]) > _quantity(
                light_resources["limits"]["memory"]
            )


def test_resources_come_from_the_spec(
    german_spec: UseCaseSpec, manifests: dict[str, dict[str, Any]]
) -> None:
    """The op tags override the run launcher's default pod size (deep merge, tags last)."""
    for step, manifest in manifests.items():
        size = (
            german_spec.compute.training if step in TRAINING_STEPS else german_spec.compute.default
        )
        assert _container(manifest)["resources"] == {
            "requests": {"cpu": size.cpu, "memory": size.memory},
            "limits": {"memory": size.memory},
        }


def test_secrets_come_in_through_env_from_never_as_values(
    manifests: dict[str, dict[str, Any]], launcher: dict[str, Any]
) -> None:
    for step, manifest in manifests.items():
        container = _container(manifest)
        secret_refs = [s["secretRef"]["name"] for s in container["envFrom"] if "secretRef" in s]
        assert set(secret_refs) == {*K8S.env_secrets, *launcher["env_secrets"]}, step
        assert len(secret_refs) == len(set(secret_refs)), f"{step}: secret mounted twice"
        config_maps = [
            s["configMapRef"]["name"] for s in container["envFrom"] if "configMapRef" in s
        ]
        assert config_maps == launcher["env_config_maps"], step
        names = {var["name"] for var in container["env"]}
        assert names == LITERAL_ENV, f"{step}: new literal env vars {names - LITERAL_ENV}"
        for var in container["env"]:
            assert "valueFrom" not in var or "secretKeyRef" in var["valueFrom"], var["name"]


def test_image_labels_ttl_and_security_context(manifests: dict[str, dict[str, Any]]) -> None:
    for step, manifest in manifests.items():
        container = _container(manifest)
        pod = manifest["spec"]["template"]
        assert container["image"] == K8S.image, step
        assert container["imagePullPolicy"] == K8S.image_pull_policy
        assert container["args"] == ["dagster", "api", "execute_step"]
        for labels in (manifest["metadata"]["labels"], pod["metadata"]["labels"]):
            assert labels.items() >= LABELS.items(), step
            assert labels["dagster/op"] == step
            assert labels["dagster/code-location"] == "modelops"
        # The executor's TTL (settings) wins over the run launcher's default.
        assert manifest["spec"]["ttlSecondsAfterFinished"] == K8S.job_ttl_seconds
        assert manifest["spec"]["backoffLimit"] == 0
        assert pod["spec"]["serviceAccountName"] == K8S.service_account
        assert pod["spec"]["automountServiceAccountToken"] is False
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
        assert pod["spec"]["securityContext"]["runAsUser"] == 10001
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_labels_and_manifest_do_not_depend_on_the_namespace(
    german_spec: UseCaseSpec, launcher: dict[str, Any], launcher_env: None
) -> None:
    """The namespace is chosen when the Job is created, not baked into the manifest."""
    step = "german_credit__features"
    here = _sanitize(step_job(german_spec, step, K8S, launcher=launcher, run_id=RUN_ID))
    elsewhere = K8S.model_copy(update={"namespace": "modelops-staging"})
    there = _sanitize(step_job(german_spec, step, elsewhere, launcher=launcher, run_id=RUN_ID))
    assert "namespace" not in here["metadata"]
    assert here == there


def test_step_pods_receive_their_step(manifests: dict[str, dict[str, Any]]) -> None:
    """The compressed arguments name the step, the run, the job and the code location."""
    from dagster._grpc.types import ExecuteStepArgs
    from dagster._serdes import deserialize_value

    for step, manifest in manifests.items():
        env = {var["name"]: var.get("value") for var in _container(manifest)["env"]}
        raw = zlib.decompress(base64.b64decode(env[STEP_ARGS_ENV])).decode()
        args = deserialize_value(raw, ExecuteStepArgs)
        assert args.step_keys_to_execute == [step]
        assert args.run_id == RUN_ID
        assert args.job_origin.job_name == "german_credit_pipeline" == env["DAGSTER_RUN_JOB_NAME"]
        assert args.job_origin.repository_origin.container_image == K8S.image
        assert args.job_origin.repository_origin.code_pointer.module == "modelops.definitions"
        assert env["DAGSTER_RUN_STEP_KEY"] == step


def test_offline_job_equals_what_the_k8s_step_handler_creates(
    german_spec: UseCaseSpec,
    launcher: dict[str, Any],
    launcher_env: None,
    tmp_path: Path,
) -> None:
    """step_job mirrors dagster-k8s; this runs the real K8sStepHandler.launch_step against a
    mocked API client and compares the Job it submits, so an upgrade that changes what the
    executor does fails here instead of leaving the golden files describing the past."""
    from dagster._config import process_config, resolve_to_config_type
    from dagster_k8s import K8sRunLauncher, k8s_job_executor

    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    processed = process_config(resolve_to_config_type(K8sRunLauncher.config_type()), launcher)
    assert processed.success, processed.errors
    run_launcher = K8sRunLauncher(
        **{**processed.value, "load_incluster_config": False, "kubeconfig_file": str(kubeconfig)}
    )
    init = SimpleNamespace(
        instance=SimpleNamespace(run_launcher=run_launcher),
        executor_config=executor_settings(K8S),
    )
    handler = k8s_job_executor.executor_creation_fn(init)._step_handler  # type: ignore[attr-defined]
    handler._api_client = mock.MagicMock()

    r_spec = load_spec(PROJECT / "assets" / "german_credit_r.yaml")  # launches script pods
    for spec, step in (
        (german_spec, "german_credit__trained_model"),
        (german_spec, "german_credit__model_card"),
        (r_spec, "german_credit_r__trained_model"),
    ):
        job_name, tags = training_job(spec.id), step_tags(spec)
        origin = SimpleNamespace(code_location_origin=SimpleNamespace(location_name="modelops"))
        context = SimpleNamespace(
            execute_step_args=execute_step_args(step, K8S, run_id=RUN_ID, job_name=job_name),
            dagster_run=SimpleNamespace(
                job_name=job_name,
                job_code_origin=None,
                tags={},
                remote_job_origin=SimpleNamespace(repository_origin=origin),
            ),
            step_tags={step: tags[step]},
            get_step_context=lambda key: SimpleNamespace(step=SimpleNamespace(op_name=key)),
            instance=SimpleNamespace(run_launcher=run_launcher),
        )
        with mock.patch("dagster_k8s.executor.DagsterEvent"):
            list(handler.launch_step(context))
        call = handler._api_client.create_namespaced_job_with_retries.call_args
        assert call.kwargs["namespace"] == K8S.namespace
        offline = step_job(spec, step, K8S, launcher=launcher, run_id=RUN_ID)
        assert _sanitize(call.kwargs["body"]) == _sanitize(offline)


def test_executor_definition_has_the_settings(german_spec: UseCaseSpec) -> None:
    executor = k8s_executor(K8S)
    assert executor.name == "k8s"
    config = executor_settings(K8S)
    expected = {
        "job_image": K8S.image,
        "job_namespace": "modelops",
        "image_pull_policy": "IfNotPresent",
        "env_secrets": ["modelops-secrets", "modelops-mlflow"],
        "service_account_name": "modelops-steps",
        "max_concurrent": MAX_CONCURRENT_STEPS,
    }
    assert {key: config[key] for key in expected} == expected
    step_config = config["step_k8s_config"]
    assert step_config["job_spec_config"] == {"ttlSecondsAfterFinished": 3600}
    assert step_config["job_metadata"]["labels"] == LABELS
    assert step_config["pod_template_spec_metadata"]["labels"] == LABELS
    assert config["retries"] == {"enabled": {}}


def test_executor_without_service_account_inherits_the_launchers() -> None:
    config = executor_config(K8S.model_copy(update={"service_account": None}))
    assert "service_account_name" not in config


def _k8s_env(tmp_path: Path) -> dict[str, str]:
    return {
        "MODELOPS_ENV": "k8s",
        "MODELOPS_PROJECT_DIR": str(PROJECT),
        "MODELOPS_HOME": str(tmp_path / "home"),
        "MODELOPS_GCP_PROJECT": "bank-modelops",
        "MODELOPS_GCS_BUCKET": "bank-modelops-artifacts",
        "MODELOPS_K8S_IMAGE": K8S.image,
        "MODELOPS_K8S_NAMESPACE": "modelops",
        "MODELOPS_K8S_ENV_SECRETS": "modelops-secrets,modelops-mlflow",
        "MODELOPS_K8S_SERVICE_ACCOUNT": "modelops-steps",
        "MODELOPS_AUDIT_DATABASE_URL": "postgresql://audit@db:5432/modelops",
        "MODELOPS_MLFLOW_TRACKING_URI": "https://mlflow.bank.example",
    }


def test_k8s_environment_chooses_the_k8s_executor(tmp_path: Path) -> None:
    settings = Settings.from_env(_k8s_env(tmp_path))
    assert settings.k8s is not None
    executor = executor_for(settings)
    assert executor.name == "k8s"
    resolved = executor.config_schema.resolve_config({})
    assert resolved.success
    assert resolved.value["config"]["job_image"] == K8S.image
    assert resolved.value["config"]["env_secrets"] == ["modelops-secrets", "modelops-mlflow"]


def test_local_environment_keeps_the_in_process_executor(tmp_path: Path) -> None:
    settings = Settings.from_env({**_k8s_env(tmp_path), "MODELOPS_ENV": "local"})
    assert executor_for(settings) is dg.in_process_executor


def test_k8s_definitions_run_every_job_on_the_k8s_executor(tmp_path: Path) -> None:
    """Needs the GCS resources of the gcp/k8s environments (modelops.resources.gcs)."""
    pytest.importorskip("modelops.resources.gcs")
    from modelops.definitions import build_definitions

    defs = build_definitions(Settings.from_env(_k8s_env(tmp_path)))
    job = defs.resolve_job_def("german_credit_pipeline")
    assert job.executor_def.name == "k8s"
    resolved = job.executor_def.config_schema.resolve_config({})
    assert resolved.value["config"]["job_image"] == K8S.image
