"""Whether production really delivers every raw column the model needs, usably.

Judged on a sample of a production batch as the source delivers it (Parquet typed, CSV as
text) by the validation's own rules (`ml.validation`) and limit: production scoring answers
'refer' to every row the schema quarantines, so a needed column that is missing, arrives in a
type validation cannot read, is null on every row, or would quarantine more than
`schema.max_quarantine_share` of the rows, would leave production without answers. A few bad
values under the limit are what the quarantine is for: they do not block a release.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import polars as pl

from modelops.ml.validation import column_failures
from modelops.ml.value_reading import unreadable_reason
from modelops.spec import Column, UseCaseSpec
from modelops.spec.columns import ROW_ID

EPSILON = 1e-9
"""A share exactly at the limit passes; float noise must not fail it."""

Problem = Literal["missing", "wrong type", "empty", "over the quarantine limit"]
PROBLEMS: tuple[Problem, ...] = ("missing", "wrong type", "empty", "over the quarantine limit")


@dataclass(frozen=True)
class ColumnAvailability:
    """One needed column in the production sample."""

    header: str
    """The column's name in the source."""
    name: str
    """The spec's name for it."""
    problem: Problem | None
    quarantined_share: float | None
    """Share of the sample's rows the schema would quarantine for this column (None when it
    could not be measured: the column is missing or unreadable)."""
    reason: str

    @property
    def line(self) -> str:
        """'column: reason', the column named by its source header."""
        named = f" (spec column {self.name})" if self.header != self.name else ""
        return f"{self.header}: {self.reason}{named}"


@dataclass(frozen=True)
class FeatureAvailability:
    """Whether the production source delivers every raw column the model needs, usably."""

    source: str
    """Where the production sample came from (a URI or a description)."""
    rows: int
    max_quarantine_share: float
    """The spec's limit (`schema.max_quarantine_share`), applied per column."""
    columns: tuple[ColumnAvailability, ...]
    unreadable: str | None = None
    """Why the production batch could not be read at all (then no column was checked)."""

    @property
    def checked(self) -> tuple[str, ...]:
        return tuple(c.header for c in self.columns)

    def with_problem(self, problem: Problem) -> tuple[str, ...]:
        return tuple(c.line for c in self.columns if c.problem == problem)

    @property
    def problems(self) -> tuple[str, ...]:
        batch = (self.unreadable,) if self.unreadable else ()
        return batch + tuple(line for p in PROBLEMS for line in self.with_problem(p))

    @property
    def largest_share(self) -> float | None:
        shares = [c.quarantined_share for c in self.columns if c.quarantined_share is not None]
        return max(shares) if shares else None


def check_feature_availability(
    spec: UseCaseSpec, production: pl.DataFrame, source: str
) -> FeatureAvailability:
    """Check the raw columns the model needs against a sample of a production batch.

    `production` has the source's headers and types; every column is reported.
    """
    limit = spec.data_schema.max_quarantine_share
    needed = _needed_columns(spec)
    present = [c for c in needed if c.header in production.columns]
    readable = [c for c in present if unreadable_reason(production.schema[c.header], c) is None]
    failures = column_failures(production, spec, readable)
    rows = production.height
    columns = []
    for column in needed:
        if column.header not in production.columns:
            columns.append(_column(column, "missing", None, "not in the production data"))
            continue
        unreadable = unreadable_reason(production.schema[column.header], column)
        if unreadable is not None:
            columns.append(_column(column, "wrong type", None, unreadable))
            continue
        values = _blank_as_null(production.get_column(column.header))
        if values.null_count() == values.len():
            reason = "the sample has no rows" if rows == 0 else "null on every row"
            columns.append(_column(column, "empty", None, reason))
            continue
        failed = failures.filter(pl.col("column") == column.name)
        share = failed.get_column(ROW_ID).n_unique() / rows
        if share > limit + EPSILON:
            reason = (
                f"{share:.2%} of rows would be quarantined (limit {limit * 100:g}%), "
                f"e.g. {failed.get_column('reason')[0]}"
            )
            columns.append(_column(column, "over the quarantine limit", share, reason))
        else:
            columns.append(_column(column, None, share, f"{share:.2%} of rows quarantined"))
    return FeatureAvailability(source, rows, limit, tuple(columns))


def unreadable_production(spec: UseCaseSpec, source: str, reason: str) -> FeatureAvailability:
    """The production batch could not be read as a table: nothing is delivered usably."""
    limit = spec.data_schema.max_quarantine_share
    return FeatureAvailability(source, 0, limit, (), unreadable=reason)


def _column(
    column: Column, problem: Problem | None, share: float | None, reason: str
) -> ColumnAvailability:
    return ColumnAvailability(column.header, column.name, problem, share, reason)


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
