"""The 0/1 label from the spec's target, and which rows it excludes.

A plain target compares its column with the positive class. A value mapping labels the bad
values 1 and the good values 0, and excludes the rest (indeterminate outcomes such as
"Current"); validation has already quarantined any value in no list. An expression labels
true (or non-zero) 1 and false 0, and excludes a row where it yields null or a non-finite
number. Excluded rows are dropped before the split and counted in the features' metadata.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from modelops.spec import UseCaseSpec
from modelops.spec.base import Scalar
from modelops.spec.target import Target


@dataclass(frozen=True)
class TargetExpressions:
    label: pl.Expr
    """1 for bad (the positive class), 0 for good, as Int8."""
    kept: pl.Expr
    """True for the rows that train and evaluate; False for excluded rows."""


def mapped_target_values(target: Target) -> list[Scalar]:
    """Every value a mapped target column may hold: bad, good and excluded."""
    return [
        *(target.bad_values or []),
        *(target.good_values or []),
        *(target.excluded_values or []),
    ]


def target_expressions(spec: UseCaseSpec) -> TargetExpressions:
    """How a validated table's label and kept rows are computed."""
    target = spec.target
    if target.form == "expression":
        value = pl.sql_expr(str(target.expression))
        finite = value.cast(pl.Float64, strict=False).is_finite().fill_null(False)
        return TargetExpressions(value.cast(pl.Boolean).cast(pl.Int8), finite)
    column = spec.data_schema.column(str(target.column))
    source = pl.col(column.name)
    textual = column.type in ("category", "text")
    if textual:
        source = source.cast(pl.String)

    def values(listed: list[Scalar] | None) -> list[Scalar]:
        return [str(v) for v in listed or []] if textual else list(listed or [])

    if target.form == "column":
        positive = str(target.positive_class) if textual else target.positive_class
        return TargetExpressions((source == positive).cast(pl.Int8), pl.lit(True))
    label = source.is_in(values(target.bad_values)).cast(pl.Int8)
    kept = ~source.is_in(values(target.excluded_values)) if target.excluded_values else pl.lit(True)
    return TargetExpressions(label, kept.fill_null(False))


def excluded_row_count(valid: pl.DataFrame, spec: UseCaseSpec) -> int:
    """Rows of a validated table the target excludes (0 for a plain target)."""
    if spec.target.form == "column" or valid.height == 0:
        return 0
    kept = valid.select(target_expressions(spec).kept.alias("_kept")).to_series()
    return int(valid.height - kept.sum())
