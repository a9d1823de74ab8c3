"""Feature engineering: the model inputs, the analysis columns and the label, in one table.

Engineered features are SQL expressions from the spec evaluated by polars, so a data
scientist declares `credit_amount / duration_months` instead of writing a transformer.
"""

from __future__ import annotations

import polars as pl

from modelops.ml.target import target_expressions
from modelops.spec import UseCaseSpec
from modelops.spec.columns import LABEL, ROW_ID


def build_features(
    valid: pl.DataFrame, spec: UseCaseSpec, *, with_label: bool = True, carry: tuple[str, ...] = ()
) -> pl.DataFrame:
    """`row_id`, numeric inputs (Float64), categorical inputs, analysis columns, label
    (`ml.target`; with it, the rows the target excludes are left out).

    A numeric expression that yields inf or NaN (a division by zero) becomes null, which the
    model's imputer handles. Categorical inputs stay dictionary-encoded (Enum for columns with
    an `allowed` list, Categorical otherwise), so every encoder sees one kind of type.
    """
    engineered = [pl.sql_expr(f.expression).alias(f.name) for f in spec.features.engineered]
    frame = valid.with_columns(engineered) if engineered else valid
    numeric = [
        pl.when(pl.col(c).cast(pl.Float64).is_finite()).then(pl.col(c).cast(pl.Float64)).alias(c)
        for c in spec.numeric_features
    ]
    categorical = [
        pl.col(c)
        if isinstance(frame.schema[c], pl.Enum | pl.Categorical)
        else pl.col(c).cast(pl.String).cast(pl.Categorical)
        for c in spec.categorical_features
    ]
    passthrough = [pl.col(c) for c in spec.passthrough_columns]
    label = []
    if with_label:  # rows the target excludes (indeterminate outcomes) are dropped here
        target = target_expressions(spec)
        frame = frame.filter(target.kept)
        label = [target.label.alias(LABEL)]
    return frame.select(pl.col(ROW_ID), *carry, *numeric, *categorical, *passthrough, *label)


def all_null_inputs(features: pl.DataFrame, spec: UseCaseSpec) -> list[str]:
    """Model inputs without a single value in a non-empty table: an upstream feature broke."""
    if features.height == 0:
        return []
    return [c for c in spec.model_inputs if features.get_column(c).null_count() == features.height]
