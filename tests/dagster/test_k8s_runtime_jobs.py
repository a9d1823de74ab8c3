"""The step Jobs of a use case trained in R on Kubernetes, built offline and pinned by golden files.

The `trained_model` step of an R / python-env use case launches the model script's pod through
Dagster Pipes, so its own pod differs from every other step pod: it mounts the data volume
(exchange files) and runs as the runtime service account with its token. The golden file
(tests/golden/k8s/german_credit_r__trained_model.yaml) shows both; the German credit steps'
golden files (test_k8s_jobs.py) keep no token. No cluster is used. Regenerate with
`UPDATE_GOLDEN=1 uv run pytest tests/dagster/test_k8s_runtime_jobs.py`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from modelops.defs.use_case import use_case_definitions
from modelops.names import MODEL, PREDICTIONS
from modelops.resources.model_runtimes import ModelRuntimeLauncher
from modelops.resources.runtime_pods import K8S_CONFIG_TAG, launcher_step_tags
from modelops.settings import K8sSettings
from modelops.spec import UseCaseSpec, load_spec
from modelops.spec.risk import load_risk_policy
from support import PROJECT, TESTS
from support.kubernetes import step_job

GOLDEN = TESTS / "golden" / "k8s"
R_SPEC = PROJECT / "assets" / "german_credit_r.yaml"
RUN_ID = "00000000-0000-4000-8000-000000000001"
K8S = K8sSettings(  # as in test_k8s_jobs.py
    image="registry.bank.example/modelops:0123456789ab",
    namespace="modelops",
    image_pull_policy="IfNotPresent",
    env_secrets=("modelops-secrets", "modelops-mlflow"),
    service_account="modelops-steps",
    job_ttl_seconds=3600,
)
R_STEPS = ("german_credit_r__trained_model",)
STEP_ARGS_ENV = "DAGSTER_COMPRESSED_EXECUTE_STEP_ARGS"
LAUNCHER = ModelRuntimeLauncher(project_dir=str(PROJECT), environment="k8s", image=K8S.image)
"""The runtime launcher as `runtimes_for` builds it on k8s (defaults for claim, mount, account)."""


@pytest.fixture(scope="module")
def r_spec() -> UseCaseSpec:
    return load_spec(R_SPEC)


@pytest.fixture(scope="module")
def launcher_env() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELOPS_K8S_NAMESPACE", "modelops")
        yield


@pytest.fixture(scope="module")
def r_manifests(r_spec: UseCaseSpec, launcher_env: None) -> dict[str, dict[str, Any]]:
    from kubernetes.client import ApiClient

    run_launcher = yaml.safe_load((PROJECT / "deploy" / "dagster.yaml").read_text())
    config = run_launcher["run_launcher"]["config"]
    return {
        step: ApiClient().sanitize_for_serialization(
            step_job(r_spec, step, K8S, launcher=config, run_id=RUN_ID)
        )
        for step in R_STEPS
    }


def _golden_text(manifest: dict[str, Any]) -> str:
    manifest = yaml.safe_load(yaml.safe_dump(manifest))
    for var in manifest["spec"]["template"]["spec"]["containers"][0]["env"]:
        if var["name"] == STEP_ARGS_ENV:
            var["value"] = "<zlib+base64 ExecuteStepArgs, checked by test_k8s_jobs.py>"
    header = (
        "# Kubernetes Job of one step, as the k8s executor creates it "
        "(tests/dagster/test_k8s_runtime_jobs.py).\n"
        "# Regenerate: UPDATE_GOLDEN=1 uv run pytest tests/dagster/test_k8s_runtime_jobs.py\n"
    )
    return header + yaml.safe_dump(manifest, sort_keys=True, default_flow_style=False, width=100)


@pytest.mark.parametrize("step", R_STEPS)
def test_r_step_job_matches_golden_file(r_manifests: dict[str, dict[str, Any]], step: str) -> None:
    path = GOLDEN / f"{step}.yaml"
    text = _golden_text(r_manifests[step])
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.is_file(), f"missing {path}; run with UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(), f"{step}: manifest changed; review, then UPDATE_GOLDEN=1"


def test_no_stale_r_golden_files() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("german_credit_r__*.yaml")) == sorted(R_STEPS)


def test_launching_step_mounts_the_data_volume_and_may_run_pods(
    r_manifests: dict[str, dict[str, Any]],
) -> None:
    """What the script pod shares with its step: the claim at the same mount; the account is
    the one deploy/k8s/model-runtimes.yaml gives pod rights to (test_model_runtimes.py)."""
    pod = r_manifests["german_credit_r__trained_model"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["serviceAccountName"] == LAUNCHER.service_account != K8S.service_account
    assert pod["automountServiceAccountToken"] is True
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    script_pod = LAUNCHER.pod_spec("r", "model_code/german_credit_glm/model.R")
    (script_volume,) = script_pod["volumes"]
    name = script_volume["name"]
    assert claims[name] == script_volume["persistentVolumeClaim"]["claimName"]
    assert (
        mounts[name]
        == LAUNCHER.data_mount
        == script_pod["containers"][0]["volumeMounts"][0]["mountPath"]
    )
    # Still the restricted pod and the spec's training size.
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"]["limits"]["memory"] == "4Gi"


def _tags(spec: UseCaseSpec, asset: str) -> dict[str, Any]:
    defs = use_case_definitions(spec, load_risk_policy())
    for assets_def in defs.assets or []:
        if getattr(assets_def, "keys", None) and [spec.id, asset] in [
            k.path for k in assets_def.keys
        ]:
            tags = dict(assets_def.op.tags)  # dict values come back as JSON text
            return {k: json.loads(v) if k == K8S_CONFIG_TAG else v for k, v in tags.items()}
    raise AssertionError(f"{spec.id}/{asset} not found")


@pytest.mark.parametrize("asset", [MODEL, PREDICTIONS])
def test_only_launching_steps_get_the_launcher_access(
    r_spec: UseCaseSpec, german_spec: UseCaseSpec, asset: str
) -> None:
    """R use case: training and monthly scoring launch pods; an in-process use case does not."""
    r_config = _tags(r_spec, asset)[K8S_CONFIG_TAG]
    german_config = _tags(german_spec, asset)[K8S_CONFIG_TAG]
    assert "pod_spec_config" not in german_config
    assert r_config["pod_spec_config"]["serviceAccountName"] == LAUNCHER.service_account
    assert r_config["pod_spec_config"]["automountServiceAccountToken"] is True
    assert (
        r_config["container_config"]["resources"] == german_config["container_config"]["resources"]
    )


def test_launcher_step_tags_keep_the_step_size_and_add_only_the_access() -> None:
    tags = {"other": "x", K8S_CONFIG_TAG: {"container_config": {"resources": {"a": 1}}}}
    merged = launcher_step_tags(tags, claim="c", mount="/m", service_account="sa")
    assert merged["other"] == "x" and tags[K8S_CONFIG_TAG] == {
        "container_config": {"resources": {"a": 1}}
    }  # the step's own tags are not changed in place
    config = merged[K8S_CONFIG_TAG]
    assert config["container_config"] == {
        "resources": {"a": 1},
        "volume_mounts": [{"name": "data", "mountPath": "/m"}],
    }
    assert config["pod_spec_config"] == {
        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "c"}}],
        "serviceAccountName": "sa",
        "automountServiceAccountToken": True,
    }
