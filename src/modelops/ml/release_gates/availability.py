"""Whether production really delivers every raw column the model needs, usably.

Checked on a sample of a production batch as the source delivers it (Parquet typed, CSV as
text): a column that is absent, of an unusable type, or null on every row would make
production scoring fail or silently score on imputed values.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from modelops.spec import Column, UseCaseSpec

_BOOL_TEXT = frozenset({"true", "false", "0", "1", "yes", "no"})


@dataclass(frozen=True)
class FeatureAvailability:
    """Whether the production source delivers every raw column the model needs, usably."""

    source: str
    """Where the production schema came from (a URI or a description)."""
    missing: tuple[str, ...]
    wrong_type: tuple[str, ...]
    empty: tuple[str, ...]
    """Each entry reads 'column: reason', the column named by its source header."""
    checked: tuple[str, ...]

    @property
    def problems(self) -> tuple[str, ...]:
        return self.missing + self.wrong_type + self.empty


def check_feature_availability(
    spec: UseCaseSpec, production: pl.DataFrame, source: str
) -> FeatureAvailability:
    """Check the raw columns the model needs against a sample of a production batch.

    `production` has the source's headers and types; every problem is reported at once.
    """
    missing: list[str] = []
    wrong_type: list[str] = []
    empty: list[str] = []
    checked: list[str] = []
    for column in _needed_columns(spec):
        header = column.header
        checked.append(header)
        named = f" (spec column {column.name})" if header != column.name else ""
        if header not in production.columns:
            missing.append(f"{header}: not in the production data{named}")
            continue
        values = _blank_as_null(production.get_column(header))
        if values.null_count() == values.len():
            reason = "the sample has no rows" if values.len() == 0 else "null on every row"
            empty.append(f"{header}: {reason}{named}")
            continue
        problem = _type_problem(values, column)
        if problem:
            wrong_type.append(f"{header}: {problem}{named}")
    return FeatureAvailability(
        source=source,
        missing=tuple(missing),
        wrong_type=tuple(wrong_type),
        empty=tuple(empty),
        checked=tuple(checked),
    )


def _needed_columns(spec: UseCaseSpec) -> list[Column]:
    """Raw model inputs plus the columns the engineered model inputs are computed from."""
    names = list(spec.features.raw)
    for feature in spec.engineered_inputs:
        names += pl.sql_expr(feature.expression).meta.root_names()
    return [spec.data_schema.column(name) for name in dict.fromkeys(names)]


def _blank_as_null(values: pl.Series) -> pl.Series:
    """Text as validation reads it: surrounding spaces ignored, a blank cell is a null."""
    if values.dtype != pl.String:
        return values
    return values.str.strip_chars().replace("", None)


def _type_problem(values: pl.Series, column: Column) -> str | None:
    """Why the values cannot be read as the column's spec type, or None when they can."""
    values = _blank_as_null(values)
    dtype = values.dtype
    expected = column.type
    if expected in ("int", "float"):
        if dtype.is_numeric():
            return None
        if dtype == pl.String:
            bad = values.filter(
                values.cast(pl.Float64, strict=False).is_null() & values.is_not_null()
            )
            return _bad_text(bad, f"text that is not a number (spec type {expected})")
    elif expected == "category":
        if dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum):
            return None
        return f"{dtype} values; a category must arrive as text (numbers as strings)"
    elif expected == "bool":
        if dtype == pl.Boolean:
            return None
        if dtype == pl.String:
            bad = values.filter(
                values.is_not_null() & ~values.str.to_lowercase().is_in(list(_BOOL_TEXT))
            )
            return _bad_text(bad, "text that is not a boolean (true/false, 0/1, yes/no)")
    else:  # date, datetime
        if dtype == pl.Date or isinstance(dtype, pl.Datetime):
            return None
        if dtype == pl.String:
            try:
                parsed = (
                    values.str.to_date(column.date_format, strict=False)
                    if expected == "date"
                    else values.str.to_datetime(column.date_format, strict=False)
                )
            except pl.exceptions.PolarsError:
                parsed = pl.Series([None] * values.len(), dtype=pl.Date)
            bad = values.filter(parsed.is_null() & values.is_not_null())
            fmt = f" in format {column.date_format}" if column.date_format else ""
            return _bad_text(bad, f"text that is not a {expected}{fmt}")
    return f"{dtype} values where the spec expects {expected}"


def _bad_text(bad: pl.Series, what: str) -> str | None:
    if bad.len() == 0:
        return None
    return f"{bad.len()} value(s) of {what}, e.g. '{bad[0]}'"
