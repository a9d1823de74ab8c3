"""The target against the schema: its column or the columns its expression reads are declared,
a value mapping covers every allowed value exactly once, an expression yields true/false."""

from __future__ import annotations

from collections.abc import Callable

from modelops.spec.base import Problem
from modelops.spec.expressions import expression_roots, kind_problem
from modelops.spec.schema import Column, fits_type
from modelops.spec.target import Target

MAPPING_LISTS = ("bad_values", "good_values", "excluded_values")
NotDeclared = Callable[[str, dict[str, Column]], str]


def target_problems(
    target: Target, declared: dict[str, Column], not_declared: NotDeclared
) -> list[Problem]:
    """Every problem of the target with the declared columns; `not_declared(name, declared)`
    words a missing column."""
    if target.form == "expression":
        return _expression_problems(target, declared, not_declared)
    column = declared.get(str(target.column))
    if column is None:
        return [("target.column", not_declared(str(target.column), declared))]
    problems: list[Problem] = []
    if column.nullable:
        problems.append(
            (
                "target.column",
                "the target must not be nullable: unlabelled "
                "rows cannot train a model (they are quarantined instead)",
            )
        )
    if column.missing_values:
        problems.append(
            ("target.column", "the target column cannot declare missing_values (sentinels)")
        )
    if column.type in ("float", "date", "datetime"):
        return [*problems, ("target.column", f"a binary target cannot have type {column.type}")]
    if target.form == "mapping":
        return problems + _mapping_problems(target, column)
    return problems + _column_problems(target, column)


def _column_problems(target: Target, column: Column) -> list[Problem]:
    if column.type == "text":
        return [("target.column", "a text target needs a value mapping (bad_values, good_values)")]
    if not fits_type(target.positive_class, column.type):  # type: ignore[arg-type]
        return [
            (
                "target.positive_class",
                f"{target.positive_class!r} is not a "
                f"{column.type} value like the target column '{column.name}'",
            )
        ]
    if column.allowed is None and column.type in ("int", "category"):
        return [
            (
                "target.column",
                f"a binary target of type {column.type} needs 'allowed' listing its two values "
                f"(e.g. allowed: {'[0, 1]' if column.type == 'int' else '[good, bad]'}), so "
                "that any other value is quarantined instead of being counted as the negative "
                "class (or map several values with bad_values, good_values, excluded_values)",
            )
        ]
    if column.allowed is not None:
        if target.positive_class not in column.allowed:
            return [
                (
                    "target.positive_class",
                    f"{target.positive_class!r} is not "
                    f"among the target's allowed values {column.allowed}",
                )
            ]
        if len(column.allowed) != 2:
            return [
                (
                    "target.column",
                    f"a binary target needs exactly 2 allowed values, got "
                    f"{len(column.allowed)}; map them with bad_values, good_values and "
                    "excluded_values instead of positive_class",
                )
            ]
    return []


def _mapping_problems(target: Target, column: Column) -> list[Problem]:
    problems: list[Problem] = []
    listed: list[object] = []
    for field in MAPPING_LISTS:
        for value in getattr(target, field) or []:
            listed.append(value)
            if not fits_type(value, column.type):
                problems.append(
                    (
                        f"target.{field}",
                        f"{value!r} is not a {column.type} value of '{column.name}'",
                    )
                )
            elif column.allowed is not None and value not in column.allowed:
                problems.append(
                    (
                        f"target.{field}",
                        f"{value!r} is not among '{column.name}''s allowed values {column.allowed}",
                    )
                )
    if column.allowed is not None:
        unmapped = [v for v in column.allowed if v not in listed]
        if unmapped:
            problems.append(
                (
                    "target",
                    f"allowed value(s) {unmapped} of '{column.name}' are in none of bad_values, "
                    "good_values, excluded_values; every allowed value must be in exactly one",
                )
            )
    return problems


def _expression_problems(
    target: Target, declared: dict[str, Column], not_declared: NotDeclared
) -> list[Problem]:
    from modelops.spec.modelling import EngineeredFeature

    roots, error = expression_roots(str(target.expression))
    if error:
        return [("target.expression", error)]
    problems: list[Problem] = []
    if target.name in declared:
        problems.append(("target.name", f"'{target.name}' clashes with a declared column"))
    missing = [r for r in dict.fromkeys(roots) if r not in declared]
    problems += [("target.expression", not_declared(r, declared)) for r in missing]
    if not roots:
        problems.append(("target.expression", "reads no column: the target would be constant"))
    if missing or not roots:
        return problems
    as_feature = EngineeredFeature(
        name=str(target.name), expression=str(target.expression), kind="numeric"
    )
    wrong = kind_problem(as_feature, [declared[r] for r in dict.fromkeys(roots)])
    if wrong is not None:
        reason = wrong[1]
        if wrong[0] == "kind":
            reason = reason.split(";")[0].replace("declared numeric, but the expression", "it")
            reason = f"must yield true/false (or 0/1): {reason}"
        problems.append(("target.expression", reason))
    return problems


def leakage_problem(name: str, target: Target) -> str | None:
    """Why a column may not feed the model because the target is built from it."""
    if name not in target.outcome_columns:
        return None
    if target.form == "expression":
        return (
            f"'{name}' is an outcome column (read by target.expression): using it as an input "
            "leaks the label"
        )
    return f"'{name}' is the target: using it as an input leaks the label"
