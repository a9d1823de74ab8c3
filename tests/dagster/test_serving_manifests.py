"""The online scoring service's Kubernetes manifests, built offline and pinned by golden files.

Any change to the Deployment, Service, HorizontalPodAutoscaler or decision-log claim shows as
a diff in tests/golden/k8s_serving/ (test settings) and deploy/serving/ (the installation's
placeholders, what an operator applies). Regenerate both with
`UPDATE_GOLDEN=1 uv run pytest tests/dagster/test_serving_manifests.py`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelops.serving.kubernetes import (
    DECISION_LOG_DIR,
    PORT,
    ServingDeployment,
    serving_manifests,
)
from modelops.settings import K8sSettings
from support import PROJECT, TESTS

GOLDEN = TESTS / "golden" / "k8s_serving"
DEPLOY = PROJECT / "deploy" / "serving"
TEST_K8S = K8sSettings(
    image="registry.bank.example/modelops:0123456789ab",
    namespace="modelops",
    env_secrets=("modelops-secrets", "modelops-mlflow"),
    service_account="modelops-serving",
)
# What deploy/config/modelops-settings.yaml says; the tag is replaced per release.
INSTALLATION_K8S = K8sSettings(
    image="registry.bank.example/modelops:REPLACE_GIT_SHA", namespace="modelops"
)
REGENERATE = "UPDATE_GOLDEN=1 uv run pytest tests/dagster/test_serving_manifests.py"


def _rendered(k8s: K8sSettings) -> dict[str, str]:
    """File name -> text of each manifest of the German credit service."""
    manifests = serving_manifests(k8s, ServingDeployment(use_case="german_credit"))
    header = (
        "# The German credit scoring service on Kubernetes "
        "(modelops.serving.kubernetes; no cluster was used to write it).\n"
        f"# Regenerate: {REGENERATE}\n"
    )
    return {
        f"german_credit__{m['kind'].lower()}.yaml": header
        + yaml.safe_dump(m, sort_keys=True, default_flow_style=False, width=100)
        for m in manifests
    }


def _kustomization(files: list[str]) -> str:
    return (
        "# kubectl apply -k deploy/serving (after replacing REPLACE_GIT_SHA).\n"
        f"# Regenerate: {REGENERATE}\n"
        + yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "metadata": {"name": "modelops-serving"},
                "resources": sorted(files),
            },
            sort_keys=False,
        )
    )


@pytest.mark.parametrize(
    ("folder", "k8s"), [(GOLDEN, TEST_K8S), (DEPLOY, INSTALLATION_K8S)], ids=["golden", "deploy"]
)
def test_manifests_match_committed_files(folder: Path, k8s: K8sSettings) -> None:
    rendered = _rendered(k8s)
    if folder == DEPLOY:
        rendered["kustomization.yaml"] = _kustomization([n for n in rendered])
    if os.environ.get("UPDATE_GOLDEN"):
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.yaml"):
            if stale.name not in rendered:
                stale.unlink()
        for name, text in rendered.items():
            (folder / name).write_text(text)
    committed = {p.name for p in folder.glob("*.yaml")}
    assert committed == set(rendered), f"files differ in {folder}; run {REGENERATE}"
    for name, text in rendered.items():
        assert (folder / name).read_text() == text, f"{name} changed; review, then {REGENERATE}"


@pytest.fixture(scope="module")
def manifests() -> dict[str, dict[str, Any]]:
    return {
        m["kind"]: m
        for m in serving_manifests(TEST_K8S, ServingDeployment(use_case="german_credit"))
    }


def _container(manifests: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (container,) = manifests["Deployment"]["spec"]["template"]["spec"]["containers"]
    return container


def test_probes_hit_the_services_health_endpoints(manifests):
    container = _container(manifests)
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["ports"] == [{"name": "http", "containerPort": PORT, "protocol": "TCP"}]


def test_pods_run_restricted_as_the_images_user(manifests):
    pod = manifests["Deployment"]["spec"]["template"]["spec"]
    container = _container(manifests)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["automountServiceAccountToken"] is False
    assert (
        container["resources"]["limits"]["memory"] == container["resources"]["requests"]["memory"]
    )


def test_decision_log_is_on_the_claim_at_the_configured_directory(manifests):
    pod = manifests["Deployment"]["spec"]["template"]["spec"]
    container = _container(manifests)
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["MODELOPS_DECISION_LOG_DIR"] == DECISION_LOG_DIR
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["decisions"] == DECISION_LOG_DIR
    volumes = {v["name"]: v for v in pod["volumes"]}
    claim = manifests["PersistentVolumeClaim"]
    assert volumes["decisions"]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]


def test_credentials_come_only_from_the_step_jobs_secrets(manifests):
    container = _container(manifests)
    secrets = [e["secretRef"]["name"] for e in container["envFrom"] if "secretRef" in e]
    assert secrets == list(TEST_K8S.env_secrets)
    for var in container["env"]:
        assert not re.search(r"PASSWORD|SECRET|TOKEN|KEY", var["name"]), var


def test_service_and_autoscaler_select_the_deployment(manifests):
    deployment = manifests["Deployment"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    assert manifests["Service"]["spec"]["selector"] == selector
    hpa = manifests["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"


def test_dockerfile_serves_the_use_case_as_uid_10001():
    text = (PROJECT / "deploy" / "Dockerfile.serving").read_text()
    assert "USER 10001" in text
    assert 'modelops serve -u "$USE_CASE" --host 0.0.0.0 --port 8000' in text
    assert "uv sync --frozen" in text
    assert f"MODELOPS_DECISION_LOG_DIR={DECISION_LOG_DIR}" in text


def test_manifests_match_the_kubernetes_api_schema(manifests):
    """Unknown or misspelt fields, at any depth, fail here instead of at `kubectl apply`."""
    import kubernetes
    from dagster_k8s.models import k8s_model_from_dict, k8s_snake_case_dict

    models = {
        "Deployment": kubernetes.client.V1Deployment,
        "Service": kubernetes.client.V1Service,
        "HorizontalPodAutoscaler": kubernetes.client.V2HorizontalPodAutoscaler,
        "PersistentVolumeClaim": kubernetes.client.V1PersistentVolumeClaim,
    }
    assert set(manifests) == set(models)
    for kind, doc in manifests.items():
        k8s_model_from_dict(models[kind], k8s_snake_case_dict(models[kind], doc))
