"""What every spec section shares: a strict, immutable base model and the name patterns."""

from __future__ import annotations

from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field

SAFE_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
"""Names the platform builds keys, paths and HTML reports from: lower snake case only.

Restricting names (instead of escaping them everywhere) is what keeps a column name from
injecting markup into an HTML report or a path into storage; a source header that does not fit
is mapped with `source_name`.
"""

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
TEAM_PATTERN = r"^[a-z][a-z0-9-]{1,62}$"
IMPORT_PATH_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$"

SafeName = Annotated[str, Field(pattern=SAFE_NAME_PATTERN)]
Email = Annotated[str, Field(pattern=EMAIL_PATTERN)]
Scalar = str | int | float | bool


class SpecModel(BaseModel):
    """Base of every spec section: unknown keys are refused, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


Problem = tuple[str, str]
"""(dotted field path, reason)."""


class SpecProblems(ValueError):
    """Problems found inside a section, each with the dotted path (relative to the section)
    of the field it concerns; the loader prefixes the section's own path."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))


def yaml_reason(exc: yaml.YAMLError) -> str:
    """A YAML error in one line, with where it is: 'expected ... (line 3, column 7)'."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark else problem
