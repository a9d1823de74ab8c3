"""Launches a model script (R, or Python in its own locked environment) through Dagster Pipes.

Locally (and on GCP, where steps run in one process) the script is a subprocess of the step;
on Kubernetes it is a pod of its own, built offline by `pod_spec` so it can be reviewed as a
golden file. Whatever fails, the error names the script and carries its own error text (the
exception it closed Pipes with, or the tail of its stderr), and a missing R, uv or lock says
what to install. The exchange files (CSV in, model and scores out) are the runtime contract of
`modelops.ml.runtimes`; this module only launches and reports.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import dagster as dg
from pydantic import BaseModel, ConfigDict, Field

from modelops.pod_security import CONTAINER_SECURITY_CONTEXT, POD_SECURITY_CONTEXT
from modelops.resources.runtime_pods import (
    DATA_MOUNT,
    DATA_VOLUME,
    DATA_VOLUME_CLAIM,
    EXCHANGE_FOLDER,
    PATH_EXTRAS,
    RUNTIME_SERVICE_ACCOUNT,
    pod_resources_from_tags,
    require_under_data_mount,
)
from modelops.resources.runtime_subprocess import (
    ModelScriptError,
    TailingSubprocessClient,
    failure_text,
    inherited_env,
    script_failed,
    uv_command,
)

RuntimeKind = Literal["r", "python-env"]
MODEL_CODE = "model_code"
"""The allow-listed root of model scripts, one folder per model, under the project."""
R_CLIENT_VARIABLE = "MODELOPS_R_PIPES_CLIENT"
FIT_CHECK = "runtime_fit_healthy"
INSTALL_R = (
    "R is not installed: run `make setup` (root installs r-base-core r-cran-jsonlite) or "
    "install Debian's r-base-core and r-cran-jsonlite"
)
INSTALL_UV = "uv is not installed: run `make setup` or `python3 -m pip install --user uv`"
CONTAINER = "model-runtime"
LABELS = {"app.kubernetes.io/part-of": "modelops", "app.kubernetes.io/component": CONTAINER}


class RuntimeRunResult(BaseModel):
    """What `modelops reproduce` reports of a launch outside a Dagster run."""

    model_config = ConfigDict(frozen=True)

    succeeded: bool
    error: str | None = None
    log_lines: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    checks: dict[str, bool] = Field(default_factory=dict)


class ModelRuntimeLauncher(dg.ConfigurableResource):
    """Runs `model_code/<model>/` scripts through Pipes, as the environment requires."""

    environment: Literal["local", "gcp", "k8s"] = "local"
    project_dir: str
    image: str | None = None
    """k8s: the image holding R, the model environments and model_code/ (the user-code image)."""
    namespace: str = "modelops"
    data_volume_claim: str = DATA_VOLUME_CLAIM
    """k8s: the shared claim the exchange files live on (mounted by the step pods too)."""
    data_mount: str = DATA_MOUNT
    service_account: str = RUNTIME_SERVICE_ACCOUNT  # of the launching step pod (runtime_pods)
    image_project_dir: str = "/app"
    """k8s: where the project is inside the image (deploy/Dockerfile's WORKDIR)."""
    pod_wait_timeout_seconds: float = 4 * 3600

    def script_path(self, script: str | Path) -> Path:
        """The script, resolved from the project; it must lie under model_code/."""
        return self._allowed(script, "model script")

    def _allowed(self, path: str | Path, what: str) -> Path:
        root = (Path(self.project_dir) / MODEL_CODE).resolve()
        resolved = (Path(self.project_dir) / path).resolve()
        if not resolved.is_relative_to(root):
            raise ModelScriptError(f"{what} {resolved} is outside the allowed root {root}")
        return resolved

    def environment_path(self, script: str | Path, environment_dir: str | Path | None) -> Path:
        """The Python environment's folder (its pyproject.toml and uv.lock); default: the
        script's own folder."""
        if environment_dir is None:
            return self.script_path(script).parent
        return self._allowed(environment_dir, "model environment")

    def command(
        self, kind: RuntimeKind, script: str | Path, environment_dir: str | Path | None = None
    ) -> list[str]:
        """The local command line: Rscript, or uv running the script in its own locked env."""
        path = self.script_path(script)
        if kind == "r":
            return ["Rscript", "--vanilla", str(path)]
        env_dir = self.environment_path(script, environment_dir)
        return [
            *uv_command(),
            "run",
            "--frozen",
            "--no-dev",
            "--project",
            str(env_dir),
            "python",
            str(path),
        ]

    def child_env(self, kind: RuntimeKind) -> dict[str, str]:
        """Variables the script gets on top of Pipes' own: R's Pipes client; for uv, never an
        interpreter download and the environment's bytecode compiled once when it is made."""
        if kind == "r":
            from modelops.pipes_clients import R_CLIENT

            return {R_CLIENT_VARIABLE: str(R_CLIENT)}
        return {"UV_PYTHON_DOWNLOADS": "never", "UV_COMPILE_BYTECODE": "1"}

    def check_installed(
        self, kind: RuntimeKind, script: str | Path, environment_dir: str | Path | None = None
    ) -> None:
        """Fail before launching when the script, R, uv or the environment's lock is missing."""
        path = self.script_path(script)
        if not path.is_file():
            raise ModelScriptError(f"model script {path} does not exist")
        if kind == "r":
            if shutil.which("Rscript") is None:
                raise ModelScriptError(f"{INSTALL_R} (needed by {path.name})")
            return
        env_dir = self.environment_path(script, environment_dir)
        for name in ("pyproject.toml", "uv.lock"):
            if not (env_dir / name).is_file():
                raise ModelScriptError(
                    f"{env_dir / name} is missing: the environment of {path.name} needs its own "
                    f"pyproject.toml and lock (`uv lock --project {env_dir}`)"
                )
        uv = uv_command()
        if uv[0] == sys.executable and importlib.util.find_spec("uv") is None:
            raise ModelScriptError(f"{INSTALL_UV} (needed by {path.name})")

    def pod_spec(
        self,
        kind: RuntimeKind,
        script: str | Path,
        environment_dir: str | Path | None = None,
        *,
        resources: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The script's pod on Kubernetes, as plain data: the platform's image, no token, the
        data volume mounted, paths as in the image (Python: the `.venv` the image built)."""
        if not self.image:
            raise ModelScriptError("the k8s runtime needs an image (MODELOPS_K8S_IMAGE)")
        script_in_image = self._in_image(self.script_path(script))
        if kind == "r":
            command = ["Rscript", "--vanilla", script_in_image]
            client = Path(self.child_env("r")[R_CLIENT_VARIABLE])
            env = {R_CLIENT_VARIABLE: self._in_image(client)}
        else:
            env_dir = self._in_image(self.environment_path(script, environment_dir))
            command = [f"{env_dir}/.venv/bin/python", script_in_image]
            env = {"PYTHONUNBUFFERED": "1"}  # Pipes messages travel in the pod's log
        return {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "securityContext": dict(POD_SECURITY_CONTEXT),
            "containers": [
                {
                    "name": CONTAINER,
                    "image": self.image,
                    "command": command,
                    "workingDir": self.image_project_dir,
                    "env": [{"name": k, "value": v} for k, v in sorted(env.items())],
                    "resources": dict(resources or pod_resources_from_tags({})),
                    "securityContext": dict(CONTAINER_SECURITY_CONTEXT),
                    "volumeMounts": [{"name": DATA_VOLUME, "mountPath": self.data_mount}],
                }
            ],
            "volumes": [
                {
                    "name": DATA_VOLUME,
                    "persistentVolumeClaim": {"claimName": self.data_volume_claim},
                }
            ],
        }

    def _in_image(self, path: Path) -> str:
        project = Path(self.project_dir).resolve()
        if path.is_relative_to(project):
            return str(Path(self.image_project_dir) / path.relative_to(project))
        return str(path)

    def run(
        self,
        context: dg.AssetExecutionContext | dg.OpExecutionContext,
        *,
        kind: RuntimeKind,
        script: str | Path,
        environment_dir: str | Path | None = None,
        extras: Mapping[str, Any],
    ) -> dg.PipesClientCompletedInvocation:
        """Launch the script in a Pipes session; its logs, metadata and checks reach `context`."""
        path = self.script_path(script)
        if self.environment == "k8s":
            return self._run_pod(context, kind, path, environment_dir, extras)
        self.check_installed(kind, path, environment_dir)
        client = TailingSubprocessClient(
            path,
            cwd=str(Path(extras.get("work_dir") or self.project_dir)),
            env={**inherited_env(), **self.child_env(kind)},
        )
        return client.run(
            command=self.command(kind, path, environment_dir), context=context, extras=dict(extras)
        )

    def _run_pod(
        self,
        context: dg.AssetExecutionContext | dg.OpExecutionContext,
        kind: RuntimeKind,
        path: Path,
        environment_dir: str | Path | None,
        extras: Mapping[str, Any],
    ) -> dg.PipesClientCompletedInvocation:
        from dagster_k8s import PipesK8sClient

        require_under_data_mount(extras, self.data_mount, path.name)
        tags = getattr(getattr(context, "op_def", None), "tags", None) or {}
        spec = self.pod_spec(kind, path, environment_dir, resources=pod_resources_from_tags(tags))
        try:
            return PipesK8sClient().run(
                context=context,
                extras=dict(extras),
                namespace=self.namespace,
                base_pod_meta={"labels": dict(LABELS)},
                base_pod_spec=spec,
                pod_wait_timeout=self.pod_wait_timeout_seconds,
            )
        except Exception as exc:
            raise script_failed(context, path, str(exc), []) from exc

    @contextmanager
    def work_folder(self) -> Iterator[Path]:
        """A fresh folder both sides of a launch can read and write, removed afterwards: on
        Kubernetes under the shared data volume (the script pod sees nothing else)."""
        parent = None
        if self.environment == "k8s":
            parent = Path(self.data_mount) / EXCHANGE_FOLDER
            parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="modelops-runtime-", dir=parent) as folder:
            yield Path(folder)

    def run_outside_dagster(
        self,
        *,
        kind: RuntimeKind,
        script: str | Path,
        environment_dir: str | Path | None = None,
        extras: Mapping[str, Any],
        asset_name: str,
    ) -> RuntimeRunResult:
        """The same launch for a command without a Dagster run (`modelops reproduce`): inside
        a one-off in-process run of a single asset on an ephemeral instance."""
        launcher = self
        checks: dict[str, bool] = {}

        @dg.asset(name=asset_name)
        def runtime_launch(context) -> Iterator[Any]:  # noqa: ANN001 (a string hint is refused)
            invocation = launcher.run(
                context, kind=kind, script=script, environment_dir=environment_dir, extras=extras
            )
            for reported in invocation.get_results():
                if isinstance(reported, dg.AssetCheckResult):  # kept here: no check is declared
                    checks[reported.check_name or "check"] = reported.passed
                else:
                    yield reported

        with dg.DagsterInstance.ephemeral() as instance:
            # The command prints its own report; the run's own log lines stay in `log_lines`.
            quiet = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
            result = dg.materialize(
                [runtime_launch], instance=instance, raise_on_error=False, run_config=quiet
            )
            logs = [
                entry.user_message
                for entry in instance.all_logs(result.run_id)
                if entry.dagster_event is None and entry.user_message
            ]
        metadata: dict[str, Any] = {}
        for materialization in result.asset_materializations_for_node(runtime_launch.op.name):
            metadata.update({k: _plain(v) for k, v in materialization.metadata.items()})
        return RuntimeRunResult(
            succeeded=result.success,
            error=None if result.success else failure_text(result),
            log_lines=logs,
            metadata=metadata,
            checks=checks,
        )


def _plain(value: Any) -> Any:
    raw = getattr(value, "value", value)
    return raw if isinstance(raw, str | int | float | bool | type(None)) else str(raw)


__all__ = ["PATH_EXTRAS", "ModelRuntimeLauncher", "ModelScriptError", "RuntimeRunResult"]
