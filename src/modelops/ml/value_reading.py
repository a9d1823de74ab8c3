"""Reading a source column as its declared type, with casts that cannot raise.

A CSV column arrives as text, a Parquet column in its own type; either is read as the spec's
type, and a value that cannot be read, or that does not fit the type (an integer beyond 64
bits, a year beyond 9999), becomes null with a reason, never an exception. Validation
(`ml.validation`) quarantines the rows these reasons name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from modelops.spec import Column
from modelops.spec.columns import ROW_ID
from modelops.spec.schema import BOOL_SPELLINGS

_POLARS_TYPES: dict[str, pl.DataType] = {
    "int": pl.Int64(),
    "float": pl.Float64(),
    "category": pl.String(),
    "bool": pl.Boolean(),
    "date": pl.Date(),
    "datetime": pl.Datetime("us"),
    "text": pl.String(),
}
_YEARS = (1, 9999)
"""Dates every reader of a table (Python, pandas, Parquet tools) can hold."""
_RANGES = {
    "int": "the 64-bit integer range",
    "float": "the 64-bit float range",
    "date": f"the supported years ({_YEARS[0]} to {_YEARS[1]})",
    "datetime": f"the supported years ({_YEARS[0]} to {_YEARS[1]})",
}
_READABLE = {
    # The kinds of source values each spec type can be read from.
    "int": {"text", "number", "bool"},
    "float": {"text", "number", "bool"},
    "category": {"text", "number", "bool", "temporal"},
    "text": {"text", "number", "bool", "temporal"},
    "bool": {"text", "number", "bool"},
    "date": {"text", "temporal"},
    "datetime": {"text", "temporal"},
}


def polars_type(column: Column) -> pl.DataType:
    return _POLARS_TYPES[column.type]


def unreadable_reason(dtype: pl.DataType, column: Column) -> str | None:
    """Why no value of a source column of `dtype` can be read as the column's spec type (a
    list, a struct, bytes, a date where a number is expected), or None when they can be."""
    kind = value_kind(dtype)
    if kind == "null" or kind in _READABLE[column.type]:
        return None
    return f"{dtype} values cannot be read as {column.type}"


@dataclass(frozen=True)
class Reading:
    value: pl.Expr
    """The column in its declared type: null where a value cannot be read or does not fit."""
    out_of_range: pl.Expr
    """True where a value is of the type but beyond what the type can hold (evaluated on the
    values that failed only)."""
    sentinel: pl.Expr = field(default_factory=lambda: pl.lit(False))
    """True where the source value is one of the column's `missing_values` (read as null)."""


def value_kind(dtype: pl.DataType) -> str:
    if dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum):
        return "text"
    if dtype == pl.Null:
        return "null"
    if dtype == pl.Boolean:
        return "bool"
    if dtype.is_numeric():
        return "number"
    if dtype == pl.Date or isinstance(dtype, pl.Datetime):
        return "temporal"
    return "other"


def reading(dtype: pl.DataType, column: Column) -> Reading:
    """How one source column is read as its declared type, with casts that cannot raise; the
    column's sentinel codes (`missing_values`) are read as null."""
    plain = _typed_reading(dtype, column)
    if not column.missing_values:
        return plain
    sentinel = _sentinel(dtype, column)
    return Reading(
        pl.when(sentinel).then(None).otherwise(plain.value), plain.out_of_range, sentinel
    )


def _sentinel(dtype: pl.DataType, column: Column) -> pl.Expr:
    """Where a source value is one of the column's missing-value codes: the same text, or (a
    numeric code) the same number however it is written ("999", "999.0", 999)."""
    codes = column.missing_values or []
    numbers = [float(v) for v in codes if isinstance(v, int | float) and not isinstance(v, bool)]
    source = pl.col(column.name)
    kind = value_kind(dtype)
    if kind == "text":
        text = source.cast(pl.String).str.strip_chars()
        found = text.is_in([str(v) for v in codes])
        if numbers:
            found = found | text.cast(pl.Float64, strict=False).is_in(numbers)
    elif kind == "number" and numbers:
        found = source.cast(pl.Float64).is_in(numbers)
    else:
        return pl.lit(False)
    return found.fill_null(False)


def _typed_reading(dtype: pl.DataType, column: Column) -> Reading:
    expr = pl.col(column.name)
    kind = value_kind(dtype)
    if kind == "null":
        return Reading(expr.cast(polars_type(column)), pl.lit(False))
    if kind == "text":
        expr = expr.cast(pl.String).str.strip_chars()
    never = pl.lit(False)
    if column.type in ("category", "text"):
        return Reading(pl.col(column.name).cast(pl.String), never)
    if column.type == "bool":
        if kind == "bool":
            return Reading(expr, never)
        if kind == "text":  # the spellings of BOOL_SPELLINGS, or 1/0 however written ("1.0")
            number = expr.cast(pl.Float64, strict=False)
            true = expr.str.to_lowercase().is_in(BOOL_SPELLINGS[True]) | (number == 1)
            false = expr.str.to_lowercase().is_in(BOOL_SPELLINGS[False]) | (number == 0)
        else:  # a number: 1 or 0
            true, false = expr == 1, expr == 0
        return Reading(pl.when(true).then(True).when(false).then(False).otherwise(None), never)
    if column.type == "int":
        number = expr.cast(pl.Float64, strict=False)
        whole = number.is_finite() & (number == number.round())
        if kind == "text":  # "3.0" is an integer a writer printed as a float; "3.5" is not
            value = pl.coalesce(
                expr.cast(pl.Int64, strict=False),
                pl.when(whole).then(number).cast(pl.Int64, strict=False),
            )
        else:
            value = pl.when(whole).then(expr.cast(pl.Int64, strict=False))
        # A whole number that does not become an Int64 is beyond its range.
        return Reading(value, whole.fill_null(False) & value.is_null())
    if column.type == "float":
        number = expr.cast(pl.Float64, strict=False)
        # Text that is no infinity ("1e400") overflows; an infinity is reported as not finite.
        overflow = number.is_infinite() & ~expr.str.contains("(?i)inf") if kind == "text" else never
        overflow = overflow.fill_null(False)
        return Reading(pl.when(~overflow).then(number), overflow)
    if kind == "text":
        fmt = column.date_format
        if column.type == "date":
            parsed = expr.str.to_date(fmt, strict=False)
        else:
            parsed = expr.str.to_datetime(fmt, strict=False).cast(pl.Datetime("us"), strict=False)
    else:
        parsed = expr.cast(polars_type(column), strict=False)
    fits = parsed.dt.year().is_between(*_YEARS)
    return Reading(pl.when(fits).then(parsed), (parsed.is_not_null() & ~fits).fill_null(False))


def cast_failures(
    source: pl.DataFrame, typed: pl.DataFrame, column: Column, reading: Reading
) -> pl.DataFrame:
    """A reason for every value that is there but did not become a value of the type."""
    values = source.get_column(column.name)
    failed = values.is_not_null() & typed.get_column(column.name).is_null()
    if column.missing_values:  # a sentinel is read as missing, not as a bad value
        failed = failed & ~source.select(reading.sentinel.alias("_sentinel")).to_series()
    if value_kind(values.dtype) == "text":
        failed = failed & (values.cast(pl.String).str.strip_chars() != "")
    rows = source.filter(failed)
    text = pl.col(column.name).cast(pl.String)
    out = reading.out_of_range
    return rows.select(
        ROW_ID,
        pl.lit(column.name).alias("column"),
        pl.when(out)
        .then(pl.lit(f"range_{column.type}"))
        .otherwise(pl.lit(f"type_{column.type}"))
        .alias("check"),
        text.alias("value"),
        pl.when(out)
        .then(pl.lit(f"{column.name}: '") + text + f"' is out of {_RANGES.get(column.type)}")
        .otherwise(pl.lit(f"{column.name}: '") + text + f"' is not a valid {column.type}")
        .alias("reason"),
    )
