"""The spec's optional `explanations` section: the reason-code catalogue that turns a model's
reasons (a feature and its push on the log-odds) into wording a credit officer may give an
applicant, adverse-action style, and whether the faithfulness of those reasons is gated.

```yaml
explanations:
  reasons:
    employment_since: {code: R03, text: Length of current employment}
  default_text: Other factors in your application
  faithfulness_gate: true
```

The text is kept as written (it is data); whatever renders it to markdown or HTML escapes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator, model_validator

from modelops.spec.base import Problem, SafeName, SpecModel, SpecProblems

REASON_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,15}$"
"""A code an adverse-action notice or a downstream system can carry: 1-16 letters, digits,
`_`, `.` or `-` (e.g. `R03`, `EMP-1`)."""

DEFAULT_TEXT = "Other factors in your application"

ApplicantText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]
"""One line of applicant-facing wording (no line breaks: it goes into letters and tables)."""


class ReasonText(SpecModel):
    """What an applicant is told for one feature among the top reasons."""

    code: Annotated[str, Field(pattern=REASON_CODE_PATTERN)]
    text: ApplicantText

    @field_validator("text")
    @classmethod
    def _one_line(cls, text: str) -> str:
        if any(c in text for c in "\r\n"):
            raise ValueError("must be one line (no line breaks)")
        return text


class Explanations(SpecModel):
    """The reason-code catalogue (per model input) and the faithfulness gate switch."""

    reasons: dict[SafeName, ReasonText] = Field(default_factory=dict)
    """Model input -> its code and applicant-facing text."""
    default_text: ApplicantText = DEFAULT_TEXT
    """The text of a reason whose feature the catalogue does not list."""
    default_code: Annotated[str, Field(pattern=REASON_CODE_PATTERN)] | None = None
    """The code of such a reason (none by default)."""
    faithfulness_gate: bool = False
    """True: the release gates check that the stated reasons are the largest true
    contributions, even where the risk tier does not require it (limit: the tier's
    `reason_faithfulness_min`, else `ml.explanations.faithfulness.DEFAULT_MINIMUM`)."""

    @model_validator(mode="after")
    def _codes_unique(self) -> Explanations:
        problems: list[Problem] = []
        seen: dict[str, str] = {}
        for feature, reason in self.reasons.items():
            if reason.code in seen:
                problems.append(
                    (
                        f"reasons.{feature}.code",
                        f"code '{reason.code}' is already the code of '{seen[reason.code]}': "
                        "each reason needs its own code",
                    )
                )
            seen.setdefault(reason.code, feature)
        if self.default_code is not None and self.default_code in seen:
            problems.append(
                (
                    "default_code",
                    f"code '{self.default_code}' is already the code of "
                    f"'{seen[self.default_code]}'",
                )
            )
        if problems:
            raise SpecProblems(problems)
        return self


def explanation_problems(
    explanations: Explanations | None, model_inputs: Iterable[str]
) -> list[Problem]:
    """Catalogue entries that name no model input (a typo, or a column the model never sees:
    it can never be a reason). Paths are the spec's (`explanations.reasons.<feature>`)."""
    if explanations is None:
        return []
    inputs = list(model_inputs)
    known = set(inputs)
    return [
        (
            f"explanations.reasons.{feature}",
            f"'{feature}' is not a model input; reasons can name: {', '.join(inputs)}",
        )
        for feature in explanations.reasons
        if feature not in known
    ]
