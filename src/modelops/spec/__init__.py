"""The declarative model of a use case: one YAML file per use case, parsed into pydantic.

The sections live in their own modules (sources, schema, modelling, monitoring, operations,
risk); the names here are what the rest of the platform uses.
"""

from modelops.spec.loader import SpecError, load_spec, load_specs
from modelops.spec.model import UseCaseSpec
from modelops.spec.modelling import (
    EngineeredFeature,
    EstimatorSpec,
    Evaluation,
    Features,
    ModelSpec,
    Preprocessing,
    Split,
)
from modelops.spec.monitoring import Drift, Freshness, Monitoring, MonthlyFiles, Retraining
from modelops.spec.operations import Compute, Documentation, Owners, PodResources
from modelops.spec.schema import Column, DataSchema
from modelops.spec.sources import BigQuerySource, Source
from modelops.spec.target import Target

__all__ = [
    "BigQuerySource",
    "Column",
    "Compute",
    "DataSchema",
    "Documentation",
    "Drift",
    "EngineeredFeature",
    "EstimatorSpec",
    "Evaluation",
    "Features",
    "Freshness",
    "ModelSpec",
    "Monitoring",
    "MonthlyFiles",
    "Owners",
    "PodResources",
    "Preprocessing",
    "Retraining",
    "Source",
    "SpecError",
    "Split",
    "Target",
    "UseCaseSpec",
    "load_spec",
    "load_specs",
]
