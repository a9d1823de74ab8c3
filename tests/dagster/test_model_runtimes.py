"""The model runtime launcher without running a script: its command lines, its refusals, and
the Kubernetes pod of a script, built offline and pinned by golden files in
tests/golden/k8s_pipes/. Regenerate with
`UPDATE_GOLDEN=1 uv run pytest tests/dagster/test_model_runtimes.py`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelops.pipes_clients import R_CLIENT
from modelops.pod_security import IMAGE_UID
from modelops.resources.environment import resources_for
from modelops.resources.model_runtimes import (
    INSTALL_R,
    R_CLIENT_VARIABLE,
    ModelRuntimeLauncher,
    ModelScriptError,
    RuntimeKind,
)
from modelops.resources.runtime_pods import K8S_CONFIG_TAG
from modelops.settings import Settings
from support import PROJECT, TESTS

GOLDEN = TESTS / "golden" / "k8s_pipes"
IMAGE = "registry.bank.example/modelops:0123456789ab"
SCRIPTS: dict[RuntimeKind, str] = {
    "r": "model_code/german_credit_glm/model.R",
    "python-env": "model_code/german_credit_sklearn/model.py",
}
PIPES_ENV = {
    "DAGSTER_PIPES_CONTEXT": "<zlib+base64 Pipes context, set by the Pipes session>",
    "DAGSTER_PIPES_MESSAGES": "<zlib+base64 Pipes message params, set by the Pipes session>",
}
TRAINING_TAGS = {
    K8S_CONFIG_TAG: {
        "container_config": {
            "resources": {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"memory": "4Gi"}}
        }
    }
}


def _launcher(**changes: Any) -> ModelRuntimeLauncher:
    return ModelRuntimeLauncher(project_dir=str(PROJECT), **changes)


K8S = _launcher(environment="k8s", image=IMAGE, namespace="modelops")


def _pod(kind: RuntimeKind, tags: dict[str, Any] | None = None) -> dict[str, Any]:
    """The pod PipesK8sClient creates from our spec (dagster_k8s' own builder), as YAML data;
    Pipes' per-run variables replaced by notes. Paths are the image's (/app)."""
    from dagster_k8s.pipes import build_pod_body
    from kubernetes.client import ApiClient

    from modelops.resources.model_runtimes import LABELS
    from modelops.resources.runtime_pods import pod_resources_from_tags

    body = build_pod_body(
        pod_name="dagster-00000000-german-credit-trained-model",
        image=None,
        command=None,
        env_vars=PIPES_ENV,
        base_pod_meta={"labels": dict(LABELS)},
        base_pod_spec=K8S.pod_spec(
            kind, SCRIPTS[kind], resources=pod_resources_from_tags(tags or {})
        ),
    )
    return ApiClient().sanitize_for_serialization(body)


@pytest.mark.parametrize("kind", sorted(SCRIPTS))
def test_pod_matches_golden_file(kind: RuntimeKind) -> None:
    path = GOLDEN / f"german_credit__{kind}.yaml"
    header = (
        "# Kubernetes pod of one model script run through Dagster Pipes "
        "(tests/dagster/test_model_runtimes.py).\n"
        "# Regenerate: UPDATE_GOLDEN=1 uv run pytest tests/dagster/test_model_runtimes.py\n"
    )
    text = header + yaml.safe_dump(_pod(kind, TRAINING_TAGS), sort_keys=True, width=100)
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.is_file(), f"missing {path}; run with UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(), f"{kind}: pod changed; review, then UPDATE_GOLDEN=1"


def test_no_stale_golden_files() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.yaml")) == sorted(
        f"german_credit__{kind}" for kind in SCRIPTS
    )


@pytest.mark.parametrize("kind", sorted(SCRIPTS))
def test_pod_is_non_root_and_mounts_the_data_volume(kind: RuntimeKind) -> None:
    pod = _pod(kind)
    spec = pod["spec"]
    (container,) = spec["containers"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == IMAGE_UID
    assert spec["automountServiceAccountToken"] is False
    assert spec["restartPolicy"] == "Never"
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    (volume,) = spec["volumes"]
    assert volume["persistentVolumeClaim"]["claimName"] == K8S.data_volume_claim
    assert container["volumeMounts"] == [{"mountPath": K8S.data_mount, "name": volume["name"]}]
    assert container["image"] == IMAGE
    assert container["command"][-1] == f"/app/{SCRIPTS[kind]}"
    assert pod["metadata"]["labels"]["app.kubernetes.io/part-of"] == "modelops"
    names = {var["name"] for var in container["env"]}
    assert set(PIPES_ENV) <= names


def test_pod_takes_the_steps_size_else_a_default() -> None:
    (sized,) = _pod("r", TRAINING_TAGS)["spec"]["containers"]
    (default,) = _pod("r")["spec"]["containers"]
    assert sized["resources"] == TRAINING_TAGS[K8S_CONFIG_TAG]["container_config"]["resources"]
    assert default["resources"]["requests"] and default["resources"] != sized["resources"]


def test_r_pod_gets_the_r_client_at_its_image_path() -> None:
    (container,) = _pod("r")["spec"]["containers"]
    env = {var["name"]: var["value"] for var in container["env"]}
    assert env[R_CLIENT_VARIABLE] == f"/app/{R_CLIENT.relative_to(PROJECT)}"
    assert container["command"][:2] == ["Rscript", "--vanilla"]


def test_k8s_refuses_exchange_files_outside_the_data_volume() -> None:
    extras = {"mode": "train", "work_dir": "/data/runs/1", "train_path": "/tmp/train.csv"}
    with pytest.raises(ModelScriptError, match=r"train_path=/tmp/train\.csv"):
        K8S.run(None, kind="r", script=SCRIPTS["r"], extras=extras)  # type: ignore[arg-type]


def test_command_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    launcher = _launcher()
    script = PROJECT / SCRIPTS["r"]
    assert launcher.command("r", SCRIPTS["r"]) == ["Rscript", "--vanilla", str(script)]
    monkeypatch.setenv("UV", "/opt/uv/bin/uv")
    env_dir = PROJECT / "model_code" / "german_credit_sklearn"
    python = launcher.command("python-env", SCRIPTS["python-env"])
    assert python == [
        "/opt/uv/bin/uv", "run", "--frozen", "--no-dev", "--project", str(env_dir),
        "python", str(env_dir / "model.py"),
    ]  # fmt: skip
    monkeypatch.delenv("UV")
    monkeypatch.setattr("shutil.which", lambda name: None)
    fallback = launcher.command("python-env", SCRIPTS["python-env"], env_dir)
    assert fallback[:3] == [sys.executable, "-m", "uv"]


def test_child_env_never_downloads_python_and_names_the_r_client() -> None:
    launcher = _launcher()
    assert launcher.child_env("python-env")["UV_PYTHON_DOWNLOADS"] == "never"
    r_env = launcher.child_env("r")
    assert r_env[R_CLIENT_VARIABLE] == str(R_CLIENT)
    assert Path(r_env[R_CLIENT_VARIABLE]).is_file()


def test_scripts_outside_model_code_are_refused() -> None:
    with pytest.raises(ModelScriptError, match="outside the allowed root"):
        _launcher().command("r", "model_code/../src/modelops/cli.py")
    with pytest.raises(ModelScriptError, match="outside the allowed root"):
        _launcher().command("python-env", "/usr/bin/python3")
    with pytest.raises(ModelScriptError, match=r"model environment .* outside"):
        _launcher().command("python-env", SCRIPTS["python-env"], PROJECT)


def test_missing_r_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(ModelScriptError) as raised:
        _launcher().check_installed("r", SCRIPTS["r"])
    assert INSTALL_R in str(raised.value) and "model.R" in str(raised.value)


def test_missing_script_is_named() -> None:
    with pytest.raises(ModelScriptError, match="does not exist"):
        _launcher().check_installed("python-env", "model_code/german_credit_sklearn/nope.py")


def test_environments_register_the_launcher(tmp_path: Path) -> None:
    local = resources_for(Settings.from_env({"MODELOPS_HOME": str(tmp_path / "home")}))
    assert local.by_key()["runtimes"] is local.runtimes
    assert local.runtimes.environment == "local"
    assert Path(local.runtimes.project_dir) == PROJECT
    assert local.runtimes.image is None


def test_k8s_run_hands_the_pod_to_pipes_k8s_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a cluster: what `run` gives PipesK8sClient (namespace, our pod, the step's size)."""
    from types import SimpleNamespace

    import dagster_k8s

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(
        dagster_k8s.PipesK8sClient, "run", lambda self, **kwargs: calls.append(kwargs) or "done"
    )
    context = SimpleNamespace(op_def=SimpleNamespace(tags=TRAINING_TAGS))
    extras = {"mode": "train", "work_dir": "/data/runs/1", "train_path": "/data/runs/1/t.csv"}
    assert (
        K8S.run(context, kind="python-env", script=SCRIPTS["python-env"], extras=extras) == "done"
    )  # type: ignore[arg-type]
    (call,) = calls
    assert call["namespace"] == "modelops"
    assert call["extras"] == extras
    assert call["base_pod_spec"] == K8S.pod_spec(
        "python-env",
        SCRIPTS["python-env"],
        resources=TRAINING_TAGS[K8S_CONFIG_TAG]["container_config"]["resources"],
    )


def test_deploy_manifest_names_what_the_code_uses() -> None:
    """deploy/k8s/model-runtimes.yaml: the claim, the account and its pod rights under the
    launcher's default names (what the launching step pods and script pods refer to)."""
    path = PROJECT / "deploy" / "k8s" / "model-runtimes.yaml"
    docs = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(path.read_text())}
    claim = docs[("PersistentVolumeClaim", K8S.data_volume_claim)]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]  # step and script pod, two nodes
    assert claim["spec"]["storageClassName"].startswith("REPLACE_")
    assert ("ServiceAccount", K8S.service_account) in docs
    role = docs[("Role", K8S.service_account)]
    verbs = {res: set(r["verbs"]) for r in role["rules"] for res in r["resources"]}
    assert verbs == {"pods": {"create", "get", "list", "watch", "delete"}, "pods/log": {"get"}}
    assert all(r["apiGroups"] == [""] for r in role["rules"])
    binding = docs[("RoleBinding", K8S.service_account)]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": K8S.service_account, "namespace": K8S.namespace}
    ]
    assert {d["metadata"]["namespace"] for d in docs.values()} == {K8S.namespace}


@pytest.mark.parametrize("environment", ["local", "k8s"])
def test_exchange_folder_is_fresh_and_removed(tmp_path: Path, environment: str) -> None:
    """On k8s under the data mount (the script pod sees nothing else), locally a temp dir."""
    import tempfile

    launcher = _launcher(environment=environment, image=IMAGE, data_mount=str(tmp_path))
    with launcher.work_folder() as first, launcher.work_folder() as second:
        assert first.is_dir() and second.is_dir() and first != second
        expected = tmp_path / "runtime-exchange" if environment == "k8s" else None
        assert first.parent == (expected or Path(tempfile.gettempdir()))
        (first / "train.csv").write_text("label\n1\n")
    assert not first.exists() and not second.exists()
