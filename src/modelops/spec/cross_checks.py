"""The rules that span spec sections: the target is a declared column, features are declared,
not PII and do not leak the label, slices are categorical, ...

They run once, when the spec is parsed, so the pipeline code can trust the spec. Every
problem is reported at once, with the dotted path of the field it concerns.
"""

from __future__ import annotations

from modelops.spec.base import Problem
from modelops.spec.columns import RESERVED
from modelops.spec.expressions import expression_roots, kind_problem
from modelops.spec.missing import missing_policy_problems
from modelops.spec.modelling import Evaluation, Features, ModelSpec, Split
from modelops.spec.schema import NUMERIC_TYPES, TEMPORAL_TYPES, Column, DataSchema
from modelops.spec.target import Target
from modelops.spec.target_checks import leakage_problem, target_problems


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
    problems += target_problems(target, declared, _not_declared)
    feature_names, feature_problems = _feature_problems(features, target, model, declared)
    problems += feature_problems
    problems += _slice_problems(schema, features, evaluation, declared, feature_names)
    if target.name is not None and target.name in feature_names:
        problems.append(("target.name", f"'{target.name}' clashes with a feature"))
    problems += _missing_problems(features, model, declared)
    problems += _scorecard_problems(features, model, declared)
    return problems


def _missing_problems(
    features: Features, model: ModelSpec, declared: dict[str, Column]
) -> list[Problem]:
    """The missing-value policy against the inputs' kinds (numeric or categorical)."""
    kinds = {
        name: "numeric" if declared[name].type in NUMERIC_TYPES else "categorical"
        for name in features.raw
        if name in declared
    }
    engineered = {f.name for f in features.engineered if f.model_input}
    kinds |= {f.name: f.kind for f in features.engineered if f.model_input}
    return missing_policy_problems(
        features.missing,
        kinds,
        engineered,
        preprocessing=model.preprocessing,
        outside_runtime=model.runtime.outside,
    )


def _scorecard_problems(
    features: Features, model: ModelSpec, declared: dict[str, Column]
) -> list[Problem]:
    """Per-feature scorecard settings name raw input features; a special code is a value the
    column can hold (not one of its `missing_values`, which are read as missing first)."""
    card = model.scorecard
    if card is None:
        return []
    problems: list[Problem] = []
    per_feature = {
        "model.scorecard.monotonic": card.monotonic if isinstance(card.monotonic, dict) else {},
        "model.scorecard.special_codes": card.special_codes,
    }
    for path, settings in per_feature.items():
        for name in settings:
            if name not in features.raw:
                problems.append((f"{path}.{name}", f"'{name}' is not a raw feature (features.raw)"))
    for name, codes in card.special_codes.items():
        column = declared.get(name)
        if column is None or name not in features.raw:
            continue
        path = f"model.scorecard.special_codes.{name}"
        numeric = column.type in NUMERIC_TYPES
        if column.type == "bool" or any(isinstance(c, str) == numeric for c in codes):
            kind = "numbers" if numeric else "text"
            problems.append((path, f"codes for this {column.type} column must be {kind}"))
            continue
        if not codes:
            problems.append((path, "list at least one code"))
        sentinel = [c for c in codes if c in (column.missing_values or [])]
        if sentinel:
            problems.append(
                (path, f"{sentinel} are also schema missing_values (read as missing first)")
            )
        outside = [
            c
            for c in codes
            if (numeric and ((column.min is not None and c < column.min)
                             or (column.max is not None and c > column.max)))
            or (column.allowed is not None and c not in column.allowed)
        ]  # fmt: skip
        if outside:
            problems.append(
                (path, f"{outside} are outside the column's min/max or allowed values: "
                 "such rows would be quarantined")
            )  # fmt: skip
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
            elif root in target.outcome_columns:
                problems.append(
                    (
                        f"{path}.expression",
                        f"'{root}' is "
                        + (
                            "the target"
                            if root == target.column
                            else "an outcome column (read by target.expression)"
                        )
                        + ": a feature computed from it leaks the label",
                    )
                )
            elif feature.model_input:
                problems.extend(
                    (f"{path}.expression", p)
                    for p in _input_problems(root, column, target, model, derived=True)
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
        if c.type in ("category", "bool") or (c.type in NUMERIC_TYPES and c.allowed is not None)
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


def _input_problems(
    name: str, column: Column, target: Target, model: ModelSpec, *, derived: bool = False
) -> list[str]:
    """Why a column may not feed the model (or, `derived`, an engineered input): leakage,
    PII, protected attributes, dates, free text (unless an expression transforms it)."""
    leak = leakage_problem(name, target)
    if leak is not None:
        return [leak]
    if column.type == "text" and not derived:
        return [
            f"'{name}' is free text (type text), never a model input; derive a categorical "
            "feature from it (features.engineered, e.g. CASE WHEN ... THEN 'band' END)"
        ]
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
