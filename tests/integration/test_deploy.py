"""deploy/ checked without a cluster or a Docker engine: the Dockerfile read instruction by
instruction, every YAML parsed and held to what the tools that read it need, the Helm values
held to the production dagster.yaml, and the MLflow manifest's command started for real.
"""

from __future__ import annotations

import base64
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from support import PROJECT

DEPLOY = PROJECT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
DAGSTER_YAML = DEPLOY / "dagster.yaml"
HELM_VALUES = DEPLOY / "helm" / "values.yaml"
MLFLOW = DEPLOY / "mlflow"
SECRETISH = re.compile(r"PASSWORD|SECRET|TOKEN|CREDENTIAL|PRIVATE|API_?KEY", re.IGNORECASE)
PLACEHOLDER = "REPLACE_ME"


# -- a small Dockerfile parser -----------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    value: str
    line: int

    def exec_form(self) -> list[str] | None:
        """The JSON (exec) form of CMD/ENTRYPOINT/RUN, None for the shell form."""
        if not self.value.startswith("["):
            return None
        return yaml.safe_load(self.value)


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with their continuation lines joined. Comment lines are dropped, also
    inside a continuation (as Docker does); the escape character is the default backslash."""
    instructions: list[Instruction] = []
    parts: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not parts:
            start = number
        continued = stripped.endswith("\\")
        parts.append(stripped[:-1].strip() if continued else stripped)
        if not continued:
            keyword, _, value = " ".join(parts).partition(" ")
            instructions.append(Instruction(keyword.upper(), value.strip(), start))
            parts = []
    if parts:
        raise ValueError(f"line {start}: continuation runs past the end of the file")
    return instructions


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    """One list per build stage, each starting with its FROM (global ARGs before it dropped)."""
    result: list[list[Instruction]] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def key_values(value: str) -> dict[str, str]:
    """`ENV`/`ARG`/`LABEL` pairs: `A=1 B="two words"` (and the legacy `ENV A 1`)."""
    words = shlex.split(value, posix=True)
    if words and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}
    return dict(word.split("=", 1) if "=" in word else (word, "") for word in words)


def test_parser_joins_continuations_and_skips_comments() -> None:
    parsed = parse_dockerfile(
        "# syntax=docker/dockerfile:1\n"
        "FROM python:3.11-slim AS builder\n"
        "RUN a \\\n"
        "    # a comment inside the continuation\n"
        "    && b \\\n"
        "    && c\n"
        "\n"
        'ENV A=1 \\\n    B="two words"\n'
        'CMD ["x", "-p", "4000"]\n'
    )
    assert [(i.keyword, i.line) for i in parsed] == [
        ("FROM", 2),
        ("RUN", 3),
        ("ENV", 8),
        ("CMD", 10),
    ]
    assert parsed[1].value == "a && b && c"
    assert key_values(parsed[2].value) == {"A": "1", "B": "two words"}
    assert parsed[3].exec_form() == ["x", "-p", "4000"]
    with pytest.raises(ValueError, match="continuation"):
        parse_dockerfile("RUN a \\\n")


@pytest.fixture(scope="module")
def dockerfile() -> list[list[Instruction]]:
    return stages(parse_dockerfile(DOCKERFILE.read_text()))


def _all(stage: list[Instruction], keyword: str) -> list[Instruction]:
    return [i for i in stage if i.keyword == keyword]


def test_two_stages_builder_then_slim_runtime(dockerfile: list[list[Instruction]]) -> None:
    builder, runtime = dockerfile
    assert builder[0].value.split() == ["python:3.11-slim", "AS", "builder"]
    assert runtime[0].value.split()[0] == "python:3.11-slim"
    copies = [i.value.split() for i in _all(runtime, "COPY")]
    assert ["--from=builder", "/app", "/app"] in copies
    # The runtime stage installs nothing: no compilers or uv in the final image.
    assert not any("pip install" in i.value or "uv " in i.value for i in _all(runtime, "RUN"))


def test_final_user_is_non_root_and_numeric(dockerfile: list[list[Instruction]]) -> None:
    users = _all(dockerfile[-1], "USER")
    assert users, "the final stage must set USER"
    user = users[-1].value.split(":")[0]
    assert user.isdigit() and int(user) != 0, f"USER {user}: Kubernetes runAsNonRoot needs a uid"
    assert any(f"--uid {user}" in i.value for i in _all(dockerfile[-1], "RUN"))


def test_dependencies_come_from_the_lock(dockerfile: list[list[Instruction]]) -> None:
    builder = dockerfile[0]
    syncs = [
        i for i in _all(builder, "RUN") if "uv sync" in i.value and "model_code" not in i.value
    ]
    assert len(syncs) == 2, "dependencies first (cached layer), then the project"
    for sync in syncs:
        flags = sync.value.split()
        assert {"--frozen", "--no-dev", "--compile-bytecode"} <= set(flags), sync
    assert "--no-install-project" in syncs[0].value
    # The lock is in the image before the first sync, the sources only after it.
    lock_copy = next(i for i in _all(builder, "COPY") if "uv.lock" in i.value)
    src_copy = next(i for i in _all(builder, "COPY") if i.value.startswith("src/"))
    assert lock_copy.line < syncs[0].line < src_copy.line < syncs[1].line
    assert any(re.search(r"pip install .*\buv==[\d.]+", i.value) for i in _all(builder, "RUN"))


def test_copied_paths_exist_and_pass_the_dockerignore(dockerfile: list[list[Instruction]]) -> None:
    """A COPY of a missing or ignored path fails the build; check it before anyone builds."""
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    included = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for stage in dockerfile:
        for copy in _all(stage, "COPY"):
            words = [w for w in copy.value.split() if not w.startswith("--")]
            if copy.value.startswith("--from"):
                continue
            for source in words[:-1]:
                assert (PROJECT / source).exists(), f"line {copy.line}: {source} does not exist"
                assert source.rstrip("/") in included, f"{source} is excluded by the dockerignore"


def test_image_holds_r_model_code_and_the_model_environments(
    dockerfile: list[list[Instruction]],
) -> None:
    """Script pods run this image: Rscript (Debian's R, CRAN is unreachable), model_code/, and
    each model environment synced from its own lock where the pod looks for its python."""
    from modelops.resources.model_runtimes import ModelRuntimeLauncher

    builder, runtime = dockerfile
    installs = [i.value.split() for i in _all(runtime, "RUN") if "apt-get install" in i.value]
    assert any(
        {"r-base-core", "r-cran-jsonlite", "--no-install-recommends"} <= set(words)
        for words in installs
    )
    copy = next(i for i in _all(builder, "COPY") if i.value.split()[0] == "model_code/")
    (sync,) = [i for i in _all(builder, "RUN") if "uv sync" in i.value and "model_code" in i.value]
    assert copy.line < sync.line
    assert {"--frozen", "--no-dev", "--compile-bytecode"} <= set(sync.value.split())
    assert "for project in model_code/*/" in sync.value and '"${project}uv.lock"' in sync.value
    assert 'UV_PROJECT_ENVIRONMENT="/app/${project}.venv"' in sync.value
    workdir = _all(runtime, "WORKDIR")[-1].value
    launcher = ModelRuntimeLauncher(project_dir=str(PROJECT), environment="k8s", image="i:1")
    assert launcher.image_project_dir == workdir == "/app"
    locks = sorted((PROJECT / "model_code").glob("*/uv.lock"))
    assert locks, "no model environment to check"
    for lock in locks:
        script = next(lock.parent.glob("*.py")).relative_to(PROJECT)
        (container,) = launcher.pod_spec("python-env", script)["containers"]
        assert (
            container["command"][0] == f"/app/{lock.parent.relative_to(PROJECT)}/.venv/bin/python"
        )
    (r_container,) = launcher.pod_spec("r", "model_code/german_credit_glm/model.R")["containers"]
    assert r_container["command"][0] == "Rscript"
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert "**/.venv" in ignore, "a local model .venv must not reach the image"


def test_no_remote_add_and_no_secrets_in_env_or_args(dockerfile: list[list[Instruction]]) -> None:
    for stage in dockerfile:
        for instruction in stage:
            if instruction.keyword == "ADD":
                assert not re.search(r"\b(https?|git)://", instruction.value), instruction
            if instruction.keyword in ("ENV", "ARG"):
                for name, value in key_values(instruction.value).items():
                    assert not SECRETISH.search(name), f"line {instruction.line}: {name}"
                    assert not re.search(r"://[^/\s]*:[^/\s]*@", value), f"credentials in {name}"
    assert not _all(dockerfile[-1], "ADD"), "COPY is enough for local files"


def test_runtime_environment(dockerfile: list[list[Instruction]]) -> None:
    runtime = dockerfile[-1]
    env: dict[str, str] = {}
    for instruction in _all(runtime, "ENV"):
        env.update(key_values(instruction.value))
    assert env["PATH"].startswith("/app/.venv/bin:")
    assert env["DAGSTER_HOME"] == "/opt/dagster/dagster_home"
    assert env["MODELOPS_ENV"] == "k8s"
    # Bytecode is compiled at build time and must stay usable: no PYTHONDONTWRITEBYTECODE.
    assert "PYTHONDONTWRITEBYTECODE" not in env
    # The commit recorded on MLflow runs comes from the build argument of the same stage.
    assert env["MODELOPS_GIT_COMMIT"] == "${GIT_COMMIT}"
    args = [key_values(i.value) for i in _all(runtime, "ARG")]
    assert any("GIT_COMMIT" in a for a in args)


def test_cmd_runs_the_code_server_on_the_code_location(
    dockerfile: list[list[Instruction]],
) -> None:
    runtime = dockerfile[-1]
    cmd = _all(runtime, "CMD")[-1].exec_form()
    assert cmd is not None, "exec form, so the server gets SIGTERM directly"
    assert cmd[:3] == ["dagster", "code-server", "start"]
    assert cmd[cmd.index("-m") + 1] == "modelops.definitions"
    assert cmd[cmd.index("-h") + 1] == "0.0.0.0"
    port = cmd[cmd.index("-p") + 1]
    assert [i.value for i in _all(runtime, "EXPOSE")] == [port]


# -- every YAML file under deploy/ --------------------------------------------------------------


def _documents(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def _manifests() -> dict[tuple[str, str], dict[str, Any]]:
    """Kubernetes objects under deploy/ by (kind, name)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(DEPLOY.rglob("*.yaml")):
        for doc in _documents(path):
            if isinstance(doc, dict) and "kind" in doc and "apiVersion" in doc:
                key = (doc["kind"], doc.get("metadata", {}).get("name", ""))
                assert key not in found, f"{key} defined twice"
                found[key] = {**doc, "_path": path}
    return found


@pytest.fixture(scope="module")
def manifests() -> dict[tuple[str, str], dict[str, Any]]:
    return _manifests()


def test_every_yaml_file_parses() -> None:
    paths = sorted(DEPLOY.rglob("*.yaml")) + sorted(DEPLOY.rglob("*.yml"))
    assert len(paths) >= 8
    for path in paths:
        docs = _documents(path)
        assert docs, f"{path} is empty"
        assert all(isinstance(doc, dict) for doc in docs), path


def test_kubernetes_objects_match_the_api_schema(
    manifests: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """Unknown or misspelt fields, at any depth, fail here instead of at `kubectl apply`."""
    import kubernetes
    from dagster_k8s.models import k8s_model_from_dict, k8s_snake_case_dict

    kinds = {
        "Deployment": kubernetes.client.V1Deployment,
        "Service": kubernetes.client.V1Service,
        "ConfigMap": kubernetes.client.V1ConfigMap,
        "Secret": kubernetes.client.V1Secret,
        "ServiceAccount": kubernetes.client.V1ServiceAccount,
        "HorizontalPodAutoscaler": kubernetes.client.V2HorizontalPodAutoscaler,
        "PersistentVolumeClaim": kubernetes.client.V1PersistentVolumeClaim,
        "Role": kubernetes.client.V1Role,
        "RoleBinding": kubernetes.client.V1RoleBinding,
    }
    for (kind, name), doc in manifests.items():
        if kind == "Kustomization":
            continue
        assert kind in kinds, f"no schema check for {kind}"
        body = {k: v for k, v in doc.items() if k != "_path"}
        k8s_model_from_dict(kinds[kind], k8s_snake_case_dict(kinds[kind], body))
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "modelops", name
        assert doc["metadata"]["namespace"] == "modelops", name


def test_deployment_containers_have_image_ports_and_probes(
    manifests: dict[tuple[str, str], dict[str, Any]],
) -> None:
    deployments = [doc for (kind, _), doc in manifests.items() if kind == "Deployment"]
    assert deployments
    for deployment in deployments:
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            assert container["image"] and ":" in container["image"], "a tagged image"
            ports = {p["name"]: p["containerPort"] for p in container["ports"]}
            for probe in ("readinessProbe", "livenessProbe"):
                check = container[probe]["httpGet"]
                assert check["path"] in {"/health", "/healthz", "/readyz"}  # MLflow, serving
                assert check["port"] in ports or check["port"] in ports.values()
            assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_services_select_their_deployments(
    manifests: dict[tuple[str, str], dict[str, Any]],
) -> None:
    services = [doc for (kind, _), doc in manifests.items() if kind == "Service"]
    assert services
    for service in services:
        selector = service["spec"]["selector"]
        targets = [
            doc
            for (kind, _), doc in manifests.items()
            if kind == "Deployment"
            and doc["spec"]["template"]["metadata"]["labels"].items() >= selector.items()
        ]
        assert len(targets) == 1, f"Service {service['metadata']['name']} selects {len(targets)}"
        (target,) = targets
        assert target["spec"]["selector"]["matchLabels"].items() <= selector.items()
        port_names = {
            port["name"]
            for container in target["spec"]["template"]["spec"]["containers"]
            for port in container["ports"]
        }
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names


def test_secrets_are_templates_with_placeholders_only(
    manifests: dict[tuple[str, str], dict[str, Any]],
) -> None:
    secrets = {name: doc for (kind, name), doc in manifests.items() if kind == "Secret"}
    assert set(secrets) == {"mlflow-secrets", "modelops-secrets"}
    for name, secret in secrets.items():
        assert secret["_path"].name.endswith(".template.yaml"), name
        assert "data" not in secret, f"{name}: base64 data hides values from review"
        for key, value in secret["stringData"].items():
            if SECRETISH.search(key) or "uri" in key or key.endswith(".ini"):
                assert PLACEHOLDER in value, f"{name}.{key} holds a value"
    for path in DEPLOY.rglob("kustomization.yaml"):
        resources = yaml.safe_load(path.read_text())["resources"]
        assert not [r for r in resources if "template" in r], f"{path} applies a template"
        assert all((path.parent / r).is_file() for r in resources)


def _env_sources(
    container: dict[str, Any], manifests: dict[tuple[str, str], dict[str, Any]]
) -> dict[str, str]:
    """Every variable a container gets and where from; references must resolve."""
    sources: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" not in source:
            continue  # a whole Secret (deploy/config/modelops-secrets.template.yaml)
        config_map = manifests[("ConfigMap", source["configMapRef"]["name"])]
        sources.update(dict.fromkeys(config_map["data"], "configmap"))
    for var in container.get("env", []):
        ref = var.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ref["key"] in manifests[("Secret", ref["name"])]["stringData"], ref
            sources[var["name"]] = "secret"
        else:
            sources[var["name"]] = "value"
    return sources


def test_mlflow_server_command_and_configuration(
    manifests: dict[tuple[str, str], dict[str, Any]],
) -> None:
    deployment = manifests[("Deployment", "mlflow")]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    command = container["command"] + container["args"]
    assert command[:2] == ["mlflow", "server"]

    def option(name: str) -> str:
        return command[command.index(name) + 1]

    assert "--serve-artifacts" in command
    assert option("--app-name") == "basic-auth"
    assert option("--host") == "0.0.0.0"
    assert int(option("--port")) == container["ports"][0]["containerPort"] == 5000
    sources = _env_sources(container, manifests)
    for reference in re.findall(r"\$\((\w+)\)", " ".join(command)):
        assert reference in sources, f"$({reference}) is not defined"
    # Credentials only from the Secret; plain settings from the ConfigMap.
    for name in ("MLFLOW_BACKEND_STORE_URI", "MLFLOW_AUTH_ADMIN_PASSWORD"):
        assert sources[name] == "secret"
    assert option("--backend-store-uri") == "$(MLFLOW_BACKEND_STORE_URI)"
    secret = manifests[("Secret", "mlflow-secrets")]["stringData"]
    assert secret["backend-store-uri"].startswith("postgresql+psycopg2://")
    config = manifests[("ConfigMap", "mlflow-config")]["data"]
    assert re.fullmatch(r"gs://[\w-]+/mlflow", config[option("--artifacts-destination")[2:-1]])
    # Basic auth keeps its users in the database of the Secret's ini, mounted where the
    # server is told to look.
    mount = next(m for m in container["volumeMounts"] if m["name"] == "auth-config")
    auth_path = next(v["value"] for v in container["env"] if v["name"] == "MLFLOW_AUTH_CONFIG_PATH")
    assert auth_path.startswith(mount["mountPath"] + "/")
    assert "database_uri = postgresql+psycopg2://" in secret["basic_auth.ini"]


def test_modelops_settings_load_as_k8s_settings(
    manifests: dict[tuple[str, str], dict[str, Any]], tmp_path: Path
) -> None:
    """The ConfigMap every modelops pod gets is complete: Settings.from_env accepts it."""
    from modelops.settings import Settings

    data = dict(manifests[("ConfigMap", "modelops-settings")]["data"])
    data = {k: v.replace("REPLACE_BUCKET", "bank-bucket") for k, v in data.items()}
    settings = Settings.from_env(
        {**data, "MODELOPS_PROJECT_DIR": str(PROJECT), "MODELOPS_HOME": str(tmp_path)}
    )
    assert settings.environment == "k8s" and settings.k8s is not None
    assert settings.k8s.namespace == "modelops"
    launcher = yaml.safe_load(DAGSTER_YAML.read_text())["run_launcher"]["config"]
    assert set(settings.k8s.env_secrets) <= set(launcher["env_secrets"])
    # Every variable deploy/dagster.yaml reads is provided (the password by the Secret).
    secret = manifests[("Secret", "modelops-secrets")]["stringData"]
    for name in re.findall(r"\{env: (\w+)\}", DAGSTER_YAML.read_text()):
        assert name in data or name in secret, name


# -- the production instance and the Helm values ------------------------------------------------


@pytest.fixture(scope="module")
def instance() -> dict[str, Any]:
    return yaml.safe_load(DAGSTER_YAML.read_text())


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return yaml.safe_load(HELM_VALUES.read_text())


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _run_limits(instance: dict[str, Any]) -> tuple[Any, Any]:
    """(max concurrent runs, tag limits) wherever the instance sets them."""
    runs = instance.get("concurrency", {}).get("runs")
    if runs is None:
        runs = instance["run_coordinator"].get("config", {})
    return runs.get("max_concurrent_runs"), runs.get("tag_concurrency_limits")


def test_dagster_yaml_has_what_production_needs(instance: dict[str, Any]) -> None:
    assert instance["telemetry"] == {"enabled": False}
    assert instance["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
    assert instance["run_coordinator"]["class"] == "QueuedRunCoordinator"
    max_runs, tag_limits = _run_limits(instance)
    assert max_runs and max_runs > 0
    assert {
        "key": "modelops/use_case",
        "value": {"applyLimitPerUniqueValue": True},
        "limit": 1,
    } in tag_limits
    assert instance["run_monitoring"]["enabled"] is True
    assert instance["run_monitoring"]["max_runtime_seconds"] > 0
    assert instance["run_retries"]["enabled"] is True
    assert instance["run_launcher"]["class"] == "K8sRunLauncher"
    assert instance["run_launcher"]["module"] == "dagster_k8s"


def test_run_launcher_config_is_valid_for_dagster_k8s(
    instance: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster._config import process_config, resolve_to_config_type
    from dagster_k8s import K8sRunLauncher

    monkeypatch.setenv("MODELOPS_K8S_NAMESPACE", "modelops")
    config = instance["run_launcher"]["config"]
    result = process_config(resolve_to_config_type(K8sRunLauncher.config_type()), config)
    assert result.success, result.errors
    assert config["run_k8s_config"]["pod_spec_config"]["securityContext"]["runAsNonRoot"]


def test_dagster_yaml_loads_as_an_instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster._core.instance.config import dagster_instance_config

    for name in re.findall(r"\{env: (\w+)\}", DAGSTER_YAML.read_text()):
        monkeypatch.setenv(name, "modelops" if "NAMESPACE" in name else "placeholder")
    (tmp_path / "dagster.yaml").write_text(DAGSTER_YAML.read_text())
    dagster_instance_config(str(tmp_path))


# Keys of the chart's values schema (helm/dagster/schema in dagster-io/dagster, 1.13) that this
# file uses; a misspelt key would otherwise be ignored by Helm without a word.
CHART_TOP_LEVEL = {
    "global",
    "serviceAccount",
    "generatePostgresqlPasswordSecret",
    "postgresql",
    "telemetry",
    "dagsterWebserver",
    "ingress",
    "dagster-user-deployments",
    "computeLogManager",
    "runLauncher",
    "concurrency",
    "dagsterDaemon",
}
CHART_K8S_RUN_LAUNCHER = {
    "image",
    "imagePullPolicy",
    "jobNamespace",
    "loadInclusterConfig",
    "kubeconfigFile",
    "envConfigMaps",
    "envSecrets",
    "envVars",
    "volumeMounts",
    "volumes",
    "labels",
    "failPodOnRunFailure",
    "resources",
    "schedulerName",
    "securityContext",
    "runK8sConfig",
}
CHART_USER_DEPLOYMENT = {
    "name",
    "image",
    "dagsterApiGrpcArgs",
    "codeServerArgs",
    "includeConfigInLaunchedRuns",
    "port",
    "env",
    "envConfigMaps",
    "envSecrets",
    "annotations",
    "nodeSelector",
    "affinity",
    "tolerations",
    "podSecurityContext",
    "securityContext",
    "resources",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "labels",
    "volumeMounts",
    "volumes",
    "schedulerName",
}


def test_helm_values_use_the_charts_keys(values: dict[str, Any]) -> None:
    assert set(values) <= CHART_TOP_LEVEL, set(values) - CHART_TOP_LEVEL
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert set(launcher) <= CHART_K8S_RUN_LAUNCHER, set(launcher) - CHART_K8S_RUN_LAUNCHER
    for deployment in values["dagster-user-deployments"]["deployments"]:
        assert set(deployment) <= CHART_USER_DEPLOYMENT, set(deployment) - CHART_USER_DEPLOYMENT
    run_k8s = {_snake(k) for k in launcher["runK8sConfig"]}
    assert run_k8s <= {
        "container_config",
        "pod_spec_config",
        "pod_template_spec_metadata",
        "job_spec_config",
        "job_metadata",
    }


def test_helm_values_deploy_the_code_location(values: dict[str, Any]) -> None:
    users = values["dagster-user-deployments"]
    assert users["enabled"] is True
    (deployment,) = users["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "modelops.definitions"]
    assert deployment["image"]["repository"] and deployment["image"]["tag"] != "latest"
    assert deployment["port"] == 4000
    assert [c["name"] for c in deployment["envConfigMaps"]] == ["modelops-settings"]
    assert [s["name"] for s in deployment["envSecrets"]] == ["modelops-secrets"]
    assert deployment["podSecurityContext"]["runAsUser"] == 10001


def test_helm_values_database_and_webserver(values: dict[str, Any]) -> None:
    postgres = values["postgresql"]
    assert postgres["enabled"] is False
    assert postgres["postgresqlHost"] and postgres["postgresqlUsername"]
    assert postgres["postgresqlDatabase"]
    assert "postgresqlPassword" not in postgres, "the password comes from a Secret"
    assert postgres["postgresqlScheme"] == "postgresql+psycopg2"
    assert values["global"]["postgresqlSecretName"]
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["dagsterWebserver"]["enableReadOnly"] is True
    assert "oauth2-proxy" in HELM_VALUES.read_text()
    assert values["telemetry"]["enabled"] is False


def test_helm_values_describe_the_same_instance_as_dagster_yaml(
    values: dict[str, Any], instance: dict[str, Any]
) -> None:
    """The chart renders its own dagster.yaml; it must be the production one."""
    daemon = values["dagsterDaemon"]
    assert daemon["enabled"] is True
    assert daemon["runCoordinator"]["type"] == instance["run_coordinator"]["class"]
    assert {_snake(k): v for k, v in daemon["runMonitoring"].items()} == instance["run_monitoring"]
    assert {_snake(k): v for k, v in daemon["runRetries"].items()} == instance["run_retries"]
    chart_runs = {_snake(k): v for k, v in values["concurrency"]["runs"].items()}
    assert (chart_runs["max_concurrent_runs"], chart_runs["tag_concurrency_limits"]) == (
        _run_limits(instance)
    )
    pools = instance["concurrency"]["pools"]
    assert values["concurrency"]["pools"]["defaultLimit"] == pools["default_limit"]
    assert values["telemetry"]["enabled"] == instance["telemetry"]["enabled"]

    assert values["runLauncher"]["type"] == instance["run_launcher"]["class"]
    chart = values["runLauncher"]["config"]["k8sRunLauncher"]
    ours = instance["run_launcher"]["config"]
    assert [c["name"] for c in chart["envConfigMaps"]] == ours["env_config_maps"]
    assert [s["name"] for s in chart["envSecrets"]] == ours["env_secrets"]
    assert chart["imagePullPolicy"] == ours["image_pull_policy"]
    assert chart["loadInclusterConfig"] == ours["load_incluster_config"]
    assert {_snake(k): v for k, v in chart["runK8sConfig"].items()} == ours["run_k8s_config"]
    assert values["global"]["serviceAccountName"] == ours["service_account_name"]


def test_helm_values_avoid_the_run_limit_conflict(values: dict[str, Any]) -> None:
    """Dagster refuses run limits in both `concurrency: runs` and the run coordinator."""
    coordinator = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert not {"maxConcurrentRuns", "tagConcurrencyLimits"} & set(coordinator or {})


# -- the MLflow manifest's command, run for real ------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(url: str, host: str, auth: tuple[str, str] | None = None) -> int:
    request = urllib.request.Request(url, headers={"Host": host})
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0  # not listening yet


@pytest.fixture
def mlflow_from_manifest(
    postgres_server: Any, postgres_database: Callable[[], str], tmp_path: Path
) -> Iterator[tuple[str, str]]:
    """`mlflow server` started with the Deployment's command and environment. Only the
    listening address, the artifact store (a folder for the bucket) and the placeholders
    change; the databases are throwaway Postgres databases (tests/postgres.py)."""
    manifests = _manifests()
    container = manifests[("Deployment", "mlflow")]["spec"]["template"]["spec"]["containers"][0]
    secret = manifests[("Secret", "mlflow-secrets")]["stringData"]
    config = manifests[("ConfigMap", "mlflow-config")]["data"]
    admin_password = "test-" + os.urandom(6).hex()
    auth_ini = tmp_path / "basic_auth.ini"
    auth_ini.write_text(
        re.sub(
            r"database_uri = .*",
            f"database_uri = {postgres_server.url(postgres_database())}",
            secret["basic_auth.ini"],
        )
    )
    values = {
        **config,
        "MLFLOW_BACKEND_STORE_URI": postgres_server.url(postgres_database()),
        "MLFLOW_ARTIFACTS_DESTINATION": (tmp_path / "artifacts").as_uri(),
        "MLFLOW_AUTH_ADMIN_PASSWORD": admin_password,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": os.urandom(16).hex(),
        "MLFLOW_AUTH_CONFIG_PATH": str(auth_ini),
        "HOME": str(tmp_path),
    }
    for var in container["env"]:
        assert var["name"] in values, f"test does not provide {var['name']}"
    port = _free_port()
    args = [re.sub(r"\$\((\w+)\)", lambda m: values[m.group(1)], a) for a in container["args"]]
    args[args.index("--host") + 1] = "127.0.0.1"
    args[args.index("--port") + 1] = str(port)
    executable = Path(sys.executable).with_name(container["command"][0])
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")},
        **values,
    }
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [str(executable), *args],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        # Probes come from the kubelet with the pod IP as Host: /health must answer them.
        while _request(f"{url}/health", host=f"10.0.0.7:{port}") != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail((tmp_path / "server.log").read_text()[-4000:])
            time.sleep(0.5)
        yield url, admin_password
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        log.close()


def test_mlflow_manifest_starts_an_authenticated_server(
    mlflow_from_manifest: tuple[str, str],
) -> None:
    url, admin_password = mlflow_from_manifest
    api = f"{url}/api/2.0/mlflow/experiments/search?max_results=1"
    in_cluster = "mlflow.modelops.svc:5000"
    assert _request(api, host=in_cluster) == 401, "no credentials, no access"
    assert _request(api, host=in_cluster, auth=("admin", "wrong")) == 401
    assert _request(api, host=in_cluster, auth=("admin", admin_password)) == 200
    assert _request(api, host="attacker.example:5000", auth=("admin", admin_password)) == 403
