"""The declared missing-value policy of the model inputs (`features.missing`).

Without a declaration the platform keeps its long-standing treatment, which
`ml.missing_policy` states in the card: numeric inputs median-imputed (`scorecard`,
`standard`), left to the estimator (`native`) or binned on their own (`woe`); categorical
inputs get a `__missing__` category of their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import Field

from modelops.spec.base import Problem, SpecModel

MissingTreatment = Literal["own_bin", "impute_median", "impute_mean", "reject"]
IMPUTATIONS = ("impute_median", "impute_mean")


class MissingPolicy(SpecModel):
    """`default` for every model input (None: the platform's default above), `per_feature`
    for named inputs. `own_bin`: a numeric input gets a missing indicator (its own points), a
    categorical one the `__missing__` category; `impute_*`: the training statistic (numeric
    inputs only); `reject`: a row missing the input is quarantined (raw columns only)."""

    default: MissingTreatment | None = None
    per_feature: dict[str, MissingTreatment] = Field(default_factory=dict)

    @property
    def declared(self) -> bool:
        return self.default is not None or bool(self.per_feature)

    def rejected(self, raw_inputs: list[str]) -> list[str]:
        """The raw inputs whose missing rows are quarantined."""
        return [c for c in raw_inputs if self.treatment(c) == "reject"]

    def treatment(self, feature: str) -> MissingTreatment | None:
        """The declared treatment of one input (None: the platform's default)."""
        return self.per_feature.get(feature, self.default)


def missing_policy_problems(
    policy: MissingPolicy,
    kinds: Mapping[str, str],
    engineered: set[str],
    *,
    preprocessing: str,
    outside_runtime: bool,
) -> list[Problem]:
    """Why the declared policy cannot apply: `kinds` maps each model input to numeric or
    categorical; `engineered` names the engineered inputs."""
    if not policy.declared:
        return []
    problems: list[Problem] = []
    base = "features.missing"
    if outside_runtime and any(policy.treatment(f) not in (None, "reject") for f in kinds):
        problems.append(
            (
                base,
                "own_bin and impute_* are applied by the in-process scikit-learn pipeline; a "
                "model script (model.runtime) treats missing values itself (reject still "
                "applies)",
            )
        )
    if preprocessing == "woe" and any(policy.treatment(f) in IMPUTATIONS for f in kinds):
        problems.append(
            (
                base,
                "preprocessing woe gives missing values a bin of their own (own_bin); "
                "impute_median/impute_mean do not apply to it",
            )
        )
    for feature, treatment in policy.per_feature.items():
        path = f"{base}.per_feature.{feature}"
        if feature not in kinds:
            problems.append(
                (path, f"'{feature}' is not a model input (features.raw or engineered)")
            )
        elif treatment in IMPUTATIONS and kinds[feature] == "categorical":
            problems.append(
                (
                    path,
                    f"{treatment} applies to numeric inputs; '{feature}' is categorical "
                    "(own_bin or reject)",
                )
            )
        elif treatment == "reject" and feature in engineered:
            problems.append(
                (
                    path,
                    "reject quarantines rows at validation, before engineered features are "
                    "computed: reject the raw columns it reads instead",
                )
            )
    unresolved = sorted(e for e in engineered if e not in policy.per_feature)
    if policy.default == "reject" and unresolved:
        problems.append(
            (
                f"{base}.default",
                f"reject cannot apply to engineered inputs ({', '.join(unresolved)}); "
                "give them a per_feature treatment",
            )
        )
    return problems
