"""The declarative model of a use case: one YAML file per use case, parsed into pydantic."""

from modelops.spec.loader import SpecError, load_spec, load_specs
from modelops.spec.model import Column, UseCaseSpec

__all__ = ["Column", "SpecError", "UseCaseSpec", "load_spec", "load_specs"]
