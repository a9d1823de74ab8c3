"""The declarative model of an ML use case.

A use case is onboarded by writing one YAML file that parses into `UseCaseSpec`. Every section
refuses unknown keys, so a typo fails at load time instead of being silently ignored, and the
cross-field rules (`cross_checks`) run once, here, so that the pipeline code can trust the spec.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from modelops.spec.alert_routes import AlertRoutes
from modelops.spec.base import SafeName, SpecModel, SpecProblems
from modelops.spec.cross_checks import cross_field_problems
from modelops.spec.explanations import Explanations, explanation_problems
from modelops.spec.modelling import (
    EngineeredFeature,
    Evaluation,
    Features,
    ModelSpec,
    Split,
)
from modelops.spec.monitoring import Drift, Freshness, Monitoring
from modelops.spec.notebooks import Notebook, notebook_problems
from modelops.spec.operations import Compute, Documentation, Owners
from modelops.spec.risk import RiskQuestionnaire
from modelops.spec.schema import NUMERIC_TYPES, DataSchema
from modelops.spec.serving import Serving
from modelops.spec.sources import Source
from modelops.spec.target import Target


class UseCaseSpec(SpecModel):
    """One ML use case: everything the platform needs to build its assets."""

    id: SafeName
    description: Annotated[str, Field(min_length=1)]
    owners: Owners
    source: Source
    data_schema: DataSchema = Field(alias="schema")
    target: Target
    features: Features
    split: Split = Split()
    # Validated like a written section, so the loader's estimator policy applies to defaults.
    model: ModelSpec = Field(default_factory=dict, validate_default=True)
    evaluation: Evaluation = Field(default_factory=dict, validate_default=True)
    drift: Drift = Drift()
    freshness: Freshness = Freshness()
    monitoring: Monitoring | None = None
    serving: Serving = Serving()
    alerts: AlertRoutes = AlertRoutes()
    compute: Compute = Compute()
    documentation: Documentation = Documentation()
    risk: RiskQuestionnaire | None = None
    """The risk exercise; the tier follows from it and the bank's risk policy. Without it the
    use case is treated as high risk."""
    explanations: Explanations | None = None
    """The reason-code catalogue (applicant-facing wording) and the faithfulness gate."""
    notebooks: tuple[Notebook, ...] = ()
    """Notebooks from the project's `notebooks/` folder that run as assets of the use case."""

    @model_validator(mode="after")
    def _fields_agree(self) -> UseCaseSpec:
        problems = cross_field_problems(
            self.data_schema,
            self.target,
            self.features,
            split=self.split,
            model=self.model,
            evaluation=self.evaluation,
        )
        if not problems:  # model_inputs needs sections that agree
            problems = explanation_problems(self.explanations, self.model_inputs)
        problems += notebook_problems(self.notebooks)
        if self.target.form == "expression" and self.monitoring and self.monitoring.labels:
            problems.append(
                (
                    "monitoring.labels",
                    "production outcomes are matched to a target column (plain or mapped); "
                    "a target computed by an expression is not supported there yet",
                )
            )
        if problems:
            raise SpecProblems(problems)
        return self

    # Derived views the pipeline uses, so no asset re-derives them differently.

    @property
    def registered_model_name(self) -> str:
        return self.model.registered_name or self.id

    @property
    def numeric_features(self) -> list[str]:
        raw = [c for c in self.features.raw if self.data_schema.column(c).type in NUMERIC_TYPES]
        return raw + [f.name for f in self.engineered_inputs if f.kind == "numeric"]

    @property
    def categorical_features(self) -> list[str]:
        raw = [c for c in self.features.raw if self.data_schema.column(c).type not in NUMERIC_TYPES]
        return raw + [f.name for f in self.engineered_inputs if f.kind == "categorical"]

    @property
    def engineered_inputs(self) -> list[EngineeredFeature]:
        return [f for f in self.features.engineered if f.model_input]

    @property
    def model_inputs(self) -> list[str]:
        return self.numeric_features + self.categorical_features

    @property
    def fairness_attributes(self) -> list[str]:
        if self.evaluation.fairness_attributes is not None:
            return list(self.evaluation.fairness_attributes)
        return [
            c.name
            for c in self.data_schema.columns
            if c.protected and (c.type in ("category", "bool") or c.allowed is not None)
        ]

    @property
    def split_strategy(self) -> Literal["random", "out_of_time"]:
        if self.split.strategy == "auto":
            return "out_of_time" if self.data_schema.date_column else "random"
        return self.split.strategy

    @property
    def passthrough_columns(self) -> list[str]:
        """Columns kept beside the features for slicing and fairness, never fed to the model."""
        analysis_only = [f.name for f in self.features.engineered if not f.model_input]
        wanted = [
            *self.data_schema.protected_attributes,
            *analysis_only,
            *self.evaluation.segments,
            *self.fairness_attributes,
        ]
        if self.data_schema.date_column:
            wanted.append(self.data_schema.date_column)
        inputs = set(self.model_inputs)
        return [c for c in dict.fromkeys(wanted) if c not in inputs]
