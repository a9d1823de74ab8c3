"""The target: the binary outcome a model learns, taken from a column, mapped from a status
column's values, or computed by an expression; and the plain-text record of how."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PrivateAttr, model_validator

from modelops.spec.base import SafeName, Scalar, SpecModel, SpecProblems


class Target(SpecModel):
    """The binary outcome, in one of three forms (`ml/target.py` computes it):

    - `column` + `positive_class`: a two-valued column;
    - `column` + `bad_values` + `good_values` (+ `excluded_values`): a value mapping of a
      multi-valued status column; excluded rows (indeterminate) are dropped before the split;
    - `name` + `expression`: SQL over declared columns, true (or non-zero) = bad; a row where
      it yields null is excluded.

    The columns it is built from (`outcome_columns`) are never model inputs.
    """

    column: str | None = None
    positive_class: Scalar | None = None
    bad_values: list[Scalar] | None = None
    good_values: list[Scalar] | None = None
    excluded_values: list[Scalar] | None = None
    name: SafeName | None = None
    expression: Annotated[str, Field(min_length=1)] | None = None
    description: str | None = None
    _roots: tuple[str, ...] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _one_form(self) -> Target:
        problems = target_shape_problems(self)
        if problems:
            raise SpecProblems(problems)
        return self

    @property
    def form(self) -> Literal["column", "mapping", "expression"]:
        if self.expression is not None:
            return "expression"
        return "mapping" if self.bad_values is not None else "column"

    @property
    def label_name(self) -> str:
        """What the target is called: its column, or the name of its expression."""
        return self.name if self.expression is not None else str(self.column)

    @property
    def outcome_columns(self) -> tuple[str, ...]:
        """The declared columns the target is built from: never model inputs, and not part
        of a production application (its outcome is not known yet)."""
        if self.expression is None:
            return (str(self.column),)
        if self._roots is None:
            from modelops.spec.expressions import expression_roots

            self._roots = tuple(dict.fromkeys(expression_roots(self.expression)[0]))
        return self._roots

    def definition_text(self, excluded_rows: int | None = None) -> str:
        """Plain text for the card and lineage: how the label is made, and what was dropped."""
        if self.form == "column":
            text = (
                f"bad (1) = {self.column} is {_shown(self.positive_class)}; "
                "good (0) = any other value"
            )
        elif self.form == "mapping":
            text = (
                f"bad (1) = {self.column} in {_listed(self.bad_values)}; "
                f"good (0) = {_listed(self.good_values)}"
            )
            if self.excluded_values:
                text += f"; excluded (indeterminate) = {_listed(self.excluded_values)}"
        else:
            text = (
                f"bad (1) = {self.name} := {self.expression} (true or non-zero); good (0) = "
                "false or 0; excluded = null"
            )
        if excluded_rows is not None and self.form != "column":
            text += f"; {excluded_rows:,} rows excluded"
        return text


def _shown(value: Scalar | None) -> str:
    return value if isinstance(value, str) else repr(value)


def _listed(values: list[Scalar] | None) -> str:
    return "{" + ", ".join(_shown(v) for v in values or []) + "}"


def target_shape_problems(target: Target) -> list[tuple[str, str]]:
    """Which fields a target's form needs and refuses (the column checks are cross-checks)."""
    given = {name for name, value in target if value is not None and name != "description"}
    if target.expression is not None or target.name is not None:
        problems = [
            (field, "is not used with a target expression (name + expression)")
            for field in sorted(given - {"name", "expression"})
        ]
        if target.expression is None:
            problems.append(("expression", "a named target needs its SQL expression"))
        if target.name is None:
            problems.append(("name", "a target expression needs a name (e.g. bad_loan)"))
        return problems
    if target.column is None:
        return [
            (
                "column",
                "give column + positive_class, column + bad_values/good_values, or "
                "name + expression",
            )
        ]
    mapping = {"bad_values", "good_values", "excluded_values"} & given
    if target.positive_class is not None:
        return [
            (f, "is not used with positive_class (a two-valued target column)")
            for f in sorted(mapping)
        ]
    if not mapping:
        return [
            (
                "positive_class",
                "required field is missing (or map the column's values "
                "with bad_values and good_values)",
            )
        ]
    problems = [
        (f, "a value mapping needs bad_values and good_values")
        for f in ("bad_values", "good_values")
        if f not in given
    ]
    seen: dict[str, str] = {}
    for field in ("bad_values", "good_values", "excluded_values"):
        values = getattr(target, field) or []
        if field in given and not values and field != "excluded_values":
            problems.append((field, "must list at least one value"))
        for value in values:
            key = repr(value)
            if key in seen:
                problems.append((field, f"{value!r} is also listed in {seen[key]}"))
            seen[key] = field
    return problems
