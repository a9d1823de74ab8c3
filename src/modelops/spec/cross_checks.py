"""The rules that span spec sections: the target is a declared column, features are declared,
not PII and do not leak the label, slices are categorical, ...

They run once, when the spec is parsed, so the pipeline code can trust the spec. Every
problem is reported at once, with the dotted path of the field it concerns.
"""

from __future__ import annotations

from modelops.spec.base import Problem
from modelops.spec.columns import RESERVED
from modelops.spec.expressions import expression_roots, kind_problem
from modelops.spec.modelling import Evaluation, Features, ModelSpec, Split, Target
from modelops.spec.schema import TEMPORAL_TYPES, Column, DataSchema, fits_type


def cross_field_problems(
    schema: DataSchema,
    target: Target,
    features: Features,
    *,
    split: Split,
    model: ModelSpec,
    evaluation: Evaluation,
) -> list[Problem]:
    """Every disagreement between the sections, in the order the spec declares them."""
    declared = {c.name: c for c in schema.columns}
    problems = _schema_problems(schema, split, declared)
    problems += _target_problems(target, declared)
    feature_names, feature_problems = _feature_problems(features, target, model, declared)
    problems += feature_problems
    problems += _slice_problems(schema, features, evaluation, declared, feature_names)
    return problems


def _schema_problems(
    schema: DataSchema, split: Split, declared: dict[str, Column]
) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, column in enumerate(schema.columns):
        if column.name in RESERVED:
            problems.append(
                (
                    f"schema.columns[{i}].name",
                    f"'{column.name}' is reserved by the "
                    f"platform ({', '.join(sorted(RESERVED))}); rename it",
                )
            )
        if column.name in seen:
            problems.append(
                (f"schema.columns[{i}].name", f"column '{column.name}' is declared twice")
            )
        seen.add(column.name)
    headers = [c.header for c in schema.columns]
    for header in {h for h in headers if headers.count(h) > 1}:
        problems.append(("schema.columns", f"source column '{header}' is mapped twice"))

    if schema.date_column is not None:
        date_col = declared.get(schema.date_column)
        if date_col is None:
            problems.append(("schema.date_column", _not_declared(schema.date_column, declared)))
        elif date_col.type not in TEMPORAL_TYPES:
            problems.append(
                (
                    "schema.date_column",
                    f"'{schema.date_column}' has type {date_col.type}, expected date or datetime",
                )
            )
    elif split.strategy == "out_of_time":
        problems.append(("split.strategy", "out_of_time needs schema.date_column to be declared"))
    return problems


def _target_problems(target: Target, declared: dict[str, Column]) -> list[Problem]:
    column = declared.get(target.column)
    if column is None:
        return [("target.column", _not_declared(target.column, declared))]
    problems: list[Problem] = []
    if column.nullable:
        problems.append(
            (
                "target.column",
                "the target must not be nullable: unlabelled "
                "rows cannot train a model (they are quarantined instead)",
            )
        )
    if column.type in ("float", "date", "datetime"):
        problems.append(("target.column", f"a binary target cannot have type {column.type}"))
    elif not fits_type(target.positive_class, column.type):
        problems.append(
            (
                "target.positive_class",
                f"{target.positive_class!r} is not a "
                f"{column.type} value like the target column '{column.name}'",
            )
        )
    if column.allowed is None and column.type in ("int", "category"):
        problems.append(
            (
                "target.column",
                f"a binary target of type {column.type} needs 'allowed' listing its two values "
                f"(e.g. allowed: {'[0, 1]' if column.type == 'int' else '[good, bad]'}), so "
                "that any other value is quarantined instead of being counted as the negative "
                "class",
            )
        )
    elif column.allowed is not None:
        if target.positive_class not in column.allowed:
            problems.append(
                (
                    "target.positive_class",
                    f"{target.positive_class!r} is not "
                    f"among the target's allowed values {column.allowed}",
                )
            )
        elif len(column.allowed) != 2:
            problems.append(
                (
                    "target.column",
                    f"a binary target needs exactly 2 allowed values, got {len(column.allowed)}",
                )
            )
    return problems


def _feature_problems(
    features: Features, target: Target, model: ModelSpec, declared: dict[str, Column]
) -> tuple[set[str], list[Problem]]:
    """The names of every feature, and why raw or engineered features may not be used."""
    problems: list[Problem] = []
    feature_names: set[str] = set()
    for i, name in enumerate(features.raw):
        path = f"features.raw[{i}]"
        column = declared.get(name)
        if column is None:
            problems.append((path, _not_declared(name, declared)))
            continue
        if name in feature_names:
            problems.append((path, f"feature '{name}' is listed twice"))
        feature_names.add(name)
        problems.extend((path, p) for p in _input_problems(name, column, target, model))

    for i, feature in enumerate(features.engineered):
        path = f"features.engineered[{i}]"
        if feature.name in declared or feature.name in feature_names:
            problems.append((f"{path}.name", f"'{feature.name}' clashes with a column or feature"))
        feature_names.add(feature.name)
        roots, error = expression_roots(feature.expression)
        if error:
            problems.append((f"{path}.expression", error))
            continue
        if all(root in declared for root in roots):
            wrong_kind = kind_problem(feature, [declared[root] for root in dict.fromkeys(roots)])
            if wrong_kind is not None:
                problems.append((f"{path}.{wrong_kind[0]}", wrong_kind[1]))
        for root in dict.fromkeys(roots):
            column = declared.get(root)
            if column is None:
                problems.append((f"{path}.expression", _not_declared(root, declared)))
            elif root == target.column:
                problems.append(
                    (
                        f"{path}.expression",
                        f"'{root}' is the target: a feature computed from it leaks the label",
                    )
                )
            elif feature.model_input:
                problems.extend(
                    (f"{path}.expression", p) for p in _input_problems(root, column, target, model)
                )
    return feature_names, problems


def _slice_problems(
    schema: DataSchema,
    features: Features,
    evaluation: Evaluation,
    declared: dict[str, Column],
    feature_names: set[str],
) -> list[Problem]:
    """Segments and fairness groups need few distinct values: text, booleans, or integers
    with an `allowed` list."""
    categorical = {f.name for f in features.engineered if f.kind == "categorical"} | {
        c.name
        for c in schema.columns
        if c.type in ("category", "bool") or (c.type == "int" and c.allowed is not None)
    }
    slices = [(f"evaluation.segments[{i}]", s) for i, s in enumerate(evaluation.segments)]
    slices += [
        (f"evaluation.fairness_attributes[{i}]", s)
        for i, s in enumerate(evaluation.fairness_attributes or [])
    ]
    problems: list[Problem] = []
    for path, segment in slices:
        if segment not in declared and segment not in feature_names:
            problems.append((path, _not_declared(segment, declared)))
        elif segment not in categorical:
            problems.append(
                (
                    path,
                    f"'{segment}' is not categorical; "
                    "declare a categorical engineered feature (a band) to slice on it",
                )
            )
    return problems


def _input_problems(name: str, column: Column, target: Target, model: ModelSpec) -> list[str]:
    """Why a column may not feed the model: leakage, PII, protected attributes, dates."""
    if name == target.column:
        return [f"'{name}' is the target: using it as an input leaks the label"]
    if column.pii:
        return [f"'{name}' is flagged PII and may not be a model input"]
    if column.protected and not model.allow_protected_features:
        return [
            f"'{name}' is a protected attribute; set model.allow_protected_features: true "
            "only if the risk assessment allows it"
        ]
    if column.type in TEMPORAL_TYPES:
        return [f"'{name}' is a {column.type}; derive a numeric or categorical feature from it"]
    return []


def _not_declared(name: str, declared: dict[str, Column]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(declared), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"'{name}' is not a column declared in schema.columns{hint}"
