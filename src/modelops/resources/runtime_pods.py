"""The Kubernetes side of model runtimes: the script pod's size and its exchange files.

On Kubernetes the script runs in a pod of its own, which sees only what is on the shared data
volume: every file named in the Pipes extras must lie under its mount. The pod gets the size
of the step that launches it (the spec's `compute`, through the step's op tags).

The step pod that launches it (`trained_model`, `predictions` of an R / python-env use case)
needs two things other step pods must not have: the data volume, to write and read the
exchange files, and a service-account token allowed to run pods (`launcher_step_tags`;
deploy/k8s/model-runtimes.yaml holds the claim and the RBAC under the same names).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from modelops.resources.runtime_subprocess import ModelScriptError

K8S_CONFIG_TAG = "dagster-k8s/config"
DATA_VOLUME = "data"
DATA_VOLUME_CLAIM = "modelops-data"
DATA_MOUNT = "/data"
RUNTIME_SERVICE_ACCOUNT = "modelops-model-runtimes"
"""May create/get/list/watch/delete pods and get pods/log in the namespace, nothing else."""
EXCHANGE_FOLDER = "runtime-exchange"
"""Under the data mount: one folder per launch, removed after it."""
PATH_EXTRAS = ("work_dir", "train_path", "holdout_path", "input_path", "model_path")
"""Extras that name exchange files or folders."""
DEFAULT_RESOURCES: dict[str, Any] = {
    "requests": {"cpu": "500m", "memory": "1Gi"},
    "limits": {"memory": "1Gi"},
}


def pod_resources_from_tags(tags: Mapping[str, Any]) -> dict[str, Any]:
    """The container resources of a step's `dagster-k8s/config` op tag, else the default."""
    config = tags.get(K8S_CONFIG_TAG) or {}
    if isinstance(config, str):  # tags set as JSON text
        import json

        config = json.loads(config)
    resources = (config.get("container_config") or {}).get("resources")
    return dict(resources) if resources else {k: dict(v) for k, v in DEFAULT_RESOURCES.items()}


def launcher_step_tags(
    tags: Mapping[str, Any],
    *,
    claim: str = DATA_VOLUME_CLAIM,
    mount: str = DATA_MOUNT,
    service_account: str = RUNTIME_SERVICE_ACCOUNT,
) -> dict[str, Any]:
    """A launching step's op tags: its own (pod size) plus the data volume and the runtime
    service account with its token mounted. Keys as the executor's step config spells them,
    so the op tags override it (dagster-k8s merges op tags last)."""
    config = dict(tags.get(K8S_CONFIG_TAG) or {})
    container = dict(config.get("container_config") or {})
    container["volume_mounts"] = [{"name": DATA_VOLUME, "mountPath": mount}]
    pod = dict(config.get("pod_spec_config") or {})
    pod["volumes"] = [{"name": DATA_VOLUME, "persistentVolumeClaim": {"claimName": claim}}]
    pod["serviceAccountName"] = service_account
    pod["automountServiceAccountToken"] = True
    return {
        **tags,
        K8S_CONFIG_TAG: {**config, "container_config": container, "pod_spec_config": pod},
    }


def require_under_data_mount(extras: Mapping[str, Any], data_mount: str, script: str) -> None:
    """Refuse a launch whose exchange files the pod could not see."""
    mount = PurePosixPath(data_mount)
    outside = [
        f"{key}={extras[key]}"
        for key in PATH_EXTRAS
        if extras.get(key) and not PurePosixPath(str(extras[key])).is_relative_to(mount)
    ]
    if outside:
        raise ModelScriptError(
            f"{script}: on Kubernetes the exchange files must be on the data volume "
            f"({data_mount}); outside it: {', '.join(outside)}"
        )
