"""Who answers for a use case, what its model card says it is for, and what its pods get."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from modelops.spec.base import TEAM_PATTERN, Email, SpecModel


class Owners(SpecModel):
    """The people answerable for the use case, its data and its model."""

    team: Annotated[str, Field(pattern=TEAM_PATTERN)]
    person: Email
    data_owner: Email | None = None

    @property
    def dagster_owners(self) -> list[str]:
        return [f"team:{self.team}", self.person]

    @property
    def dataset_owners(self) -> list[str]:
        owners = [f"team:{self.team}", self.data_owner or self.person]
        return list(dict.fromkeys(owners))


class Documentation(SpecModel):
    """The human part of the model card: what the model is for and what it must not be used for."""

    intended_use: str = "Not stated in the spec."
    out_of_scope_uses: list[str] = Field(default_factory=list)
    caveats: list[str] = Field(default_factory=list)
    ethical_considerations: list[str] = Field(default_factory=list)


K8S_CPU_PATTERN = r"^\d+(\.\d+)?m?$"
K8S_MEMORY_PATTERN = r"^\d+(\.\d+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$"


class PodResources(SpecModel):
    """Kubernetes requests of one step's pod; limits are set equal to requests for memory."""

    cpu: Annotated[str, Field(pattern=K8S_CPU_PATTERN)]
    memory: Annotated[str, Field(pattern=K8S_MEMORY_PATTERN)]


class Compute(SpecModel):
    """What each step needs when it runs as its own pod (MODELOPS_ENV=k8s).

    `training` applies to the steps that fit models (trained_model, evaluation_report);
    `default` to every other step.
    """

    default: PodResources = PodResources(cpu="500m", memory="1Gi")
    training: PodResources = PodResources(cpu="2", memory="4Gi")
