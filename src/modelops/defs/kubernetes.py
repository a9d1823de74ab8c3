"""Kubernetes execution: what each step's pod asks for, from the spec's `compute` section.

The tags are attached to every step in every environment; only the k8s executor reads them.
"""

from __future__ import annotations

from typing import Any

from modelops.spec.model import PodResources

K8S_CONFIG_TAG = "dagster-k8s/config"


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
