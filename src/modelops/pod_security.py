"""How every modelops pod runs in Kubernetes, step jobs and the scoring service alike: the Pod
Security Standard "restricted" for an image that runs as uid 10001 (deploy/Dockerfile,
deploy/Dockerfile.serving). Defined once, so the two kinds of pod cannot drift apart."""

from __future__ import annotations

from typing import Any

IMAGE_UID = 10001

POD_SECURITY_CONTEXT: dict[str, Any] = {
    "runAsNonRoot": True,
    "runAsUser": IMAGE_UID,
    "runAsGroup": IMAGE_UID,
    "fsGroup": IMAGE_UID,
    "seccompProfile": {"type": "RuntimeDefault"},
}
CONTAINER_SECURITY_CONTEXT: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
}
