"""Validating a raw batch against the spec's schema: good rows go on, bad rows are kept aside.

A bank cannot silently lose a loan application, so validation never drops a row: each row
either passes every check (and is typed) or lands in the quarantine with every reason it
failed. Only problems with the batch as a whole (a declared column is missing, or arrives in a
type none of whose values can be read, such as a list) stop the run.

Reading a value as its declared type never raises (`ml.value_reading`): a value that cannot be
read, or that does not fit the type (an integer beyond 64 bits, a year beyond 9999),
quarantines its row. A row
identical to an earlier one is quarantined too (unless the spec's `schema.duplicates` allows
identical rows), so no case is counted twice or lands on both sides of the train/holdout
split. In a production batch a repeated application id is quarantined even in an allowed copy
(`ml.duplicate_ids`): one application is never answered twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandera.polars as pap
import polars as pl

from modelops.ml.category_limits import distinct_warnings
from modelops.ml.duplicate_ids import earlier_ids_failures, repeated_id_failures
from modelops.ml.missing_policy import rejected_missing
from modelops.ml.row_failures import FAILURE_SCHEMA, WHOLE_ROW, repeated_rows
from modelops.ml.target import mapped_target_values
from modelops.ml.value_reading import cast_failures, polars_type, reading, unreadable_reason
from modelops.spec import Column, UseCaseSpec
from modelops.spec.columns import QUARANTINE_REASONS, ROW_ID


class MissingColumnsError(ValueError):
    """The batch lacks columns the spec declares: no row can be validated."""


class UnreadableColumnError(ValueError):
    """A declared column arrives in a type none of whose values can be read as the spec's type."""


@dataclass(frozen=True)
class ValidationOutcome:
    valid: pl.DataFrame
    """Rows that passed every check, typed as the spec declares (categories as polars Enum or
    Categorical), with `row_id` first."""
    quarantined: pl.DataFrame
    """Rows that failed: `row_id`, `reasons`, then the source values as text."""
    failures: pl.DataFrame
    """One row per (column, check) that failed, with the number of rows failing it."""
    ignored_columns: tuple[str, ...]
    """Source columns the spec does not declare; reported, not validated."""
    duplicate_rows: int = 0
    """Rows identical to an earlier row in every declared column (quarantined unless the spec
    allows duplicates)."""
    duplicate_ids: int = 0
    """Other rows quarantined for their id (production batches): repeating another row's id
    (`monitoring.incidents.duplicates`), or already answered in an earlier month."""
    warnings: tuple[str, ...] = ()
    """Not failures: a category column with more distinct values than `max_distinct`."""

    @property
    def quarantine_share(self) -> float:
        total = self.valid.height + self.quarantined.height
        return self.quarantined.height / total if total else 0.0

    def quality_problems(self, max_quarantine_share: float, min_valid_rows: int) -> list[str]:
        """Why the batch as a whole is unfit to train on (empty when it is fit), each after
        the spec field whose limit it breaks."""
        problems = []
        if self.quarantine_share > max_quarantine_share:
            repeated = self.duplicate_rows + self.duplicate_ids
            problems.append(
                f"schema.max_quarantine_share: {self.quarantine_share:.2%} of rows quarantined "
                f"(limit {max_quarantine_share:.0%})"
                + (f", {repeated} of them duplicates" if repeated else "")
            )
        if self.valid.height < min_valid_rows:
            problems.append(
                f"schema.min_valid_rows: {self.valid.height} valid rows (minimum {min_valid_rows})"
            )
        return problems


def pandera_schema(spec: UseCaseSpec, only: Sequence[Column] | None = None) -> pap.DataFrameSchema:
    """The pandera schema the spec implies: types, nullability, allowed values, ranges."""
    columns = {}
    for column in spec.data_schema.columns if only is None else only:
        checks = []
        if column.allowed is not None:
            coded = column.type == "float"  # 1 and 1.5 both as floats, as the column holds them
            checks.append(
                pap.Check.isin([float(v) for v in column.allowed] if coded else column.allowed)
            )
        elif column.name == spec.target.column and spec.target.form == "mapping":
            checks.append(pap.Check.isin(mapped_target_values(spec.target)))
        if column.min is not None:
            checks.append(pap.Check.ge(column.min))
        if column.max is not None:
            checks.append(pap.Check.le(column.max))
        if column.type == "float":
            # A plain float column accepts inf; no bank metric survives one.
            checks.append(pap.Check(_is_finite, name="is_finite", error="value is not finite"))
        columns[column.name] = pap.Column(
            polars_type(column), checks=checks, nullable=column.nullable, coerce=False
        )
    return pap.DataFrameSchema(columns, strict=False, name=spec.id)


def _is_finite(data: pap.PolarsData) -> pl.LazyFrame:
    return data.lazyframe.select(pl.col(data.key).is_finite() | pl.col(data.key).is_null())


def validate_batch(
    raw: pl.DataFrame,
    spec: UseCaseSpec,
    *,
    labelled: bool = True,
    carry: tuple[str, ...] = (),
    file: str = "the batch",
    earlier_ids: dict[str, pl.Series] | None = None,
) -> ValidationOutcome:
    """Split a raw batch (source headers, any types) into typed valid rows and quarantined rows.

    A production batch is not `labelled` (the outcome is not known yet): its target column is
    neither required nor checked. `carry` names source columns kept as they are beside
    `row_id` in both outputs (an application id), required but never validated, except that
    an id repeated from an earlier row quarantines the later row (every row of the id with
    `monitoring.incidents.duplicates: quarantine`), as does an id already answered in an
    earlier month (`earlier_ids`: month -> ids). `file` names the batch in the errors that
    stop it.
    """
    outcome = spec.target.outcome_columns
    columns = [c for c in spec.data_schema.columns if labelled or c.name not in outcome]
    expected = [*carry, *(c.header for c in columns)]
    missing = [name for name in expected if name not in raw.columns]
    if missing:
        field = "monitoring.id_column" if set(missing) <= set(carry) else "schema.columns"
        raise MissingColumnsError(
            f"{file}: {field}: the batch lacks column(s) {missing} that use case '{spec.id}' "
            f"declares; it has {raw.columns}"
        )
    ignored = tuple(c for c in raw.columns if c not in expected)

    source = _numbered(raw, columns, carry, file)
    typed, failure_frame = _typed_and_failures(source, spec, columns, carry)
    repeats, duplicate_rows = _repeats(source, spec, columns, carry, earlier_ids)
    failure_frame = pl.concat([failure_frame, repeats], how="vertical")

    bad_ids = failure_frame.get_column(ROW_ID).unique()
    per_row = (
        failure_frame.group_by(ROW_ID, maintain_order=True)
        .agg(pl.col("reason").str.join("; ").alias(QUARANTINE_REASONS))
        .sort(ROW_ID)
    )
    quarantined = per_row.join(
        source.filter(pl.col(ROW_ID).is_in(bad_ids.implode())).select(
            ROW_ID, *carry, *[pl.col(c.name).cast(pl.String) for c in columns]
        ),
        on=ROW_ID,
        how="left",
    )
    valid = typed.filter(~pl.col(ROW_ID).is_in(bad_ids.implode())).with_columns(
        _categorical(c) for c in columns if c.type == "category"
    )
    failures = (
        failure_frame.group_by("column", "check")
        .agg(pl.len().cast(pl.Int64).alias("rows"), pl.col("value").first().alias("example"))
        .sort("rows", "column", descending=[True, False])
    )
    duplicate_ids = repeats.filter(pl.col("column") != WHOLE_ROW).get_column(ROW_ID).n_unique()
    warnings = tuple(distinct_warnings(valid, spec.data_schema, columns))
    return ValidationOutcome(
        valid, quarantined, failures, ignored, duplicate_rows, duplicate_ids, warnings
    )


def _repeats(
    source: pl.DataFrame,
    spec: UseCaseSpec,
    columns: Sequence[Column],
    carry: tuple[str, ...],
    earlier_ids: dict[str, pl.Series] | None,
) -> tuple[pl.DataFrame, int]:
    """The failures of rows identical to an earlier one (unless the spec allows them) and,
    in a production batch (`carry`), of rows repeating an id, per
    `monitoring.incidents.duplicates`, or answered in an earlier month; and how many rows are
    identical copies. A copy allowed by `schema.duplicates` still repeats its id: one
    application is never answered twice."""
    whole = repeated_rows(source, [c.name for c in columns], carry)
    copies = whole.height
    if spec.data_schema.duplicates == "allow":
        whole = whole.filter(pl.lit(False))
    if not carry:
        return whole, copies
    policy = spec.monitoring.incidents.duplicates if spec.monitoring is not None else "first"
    ids = [repeated_id_failures(source, c, policy) for c in carry]
    # A quarantined copy already says whose copy it is; its id adds nothing.
    parts = [whole, *(f.join(whole, on=ROW_ID, how="anti") for f in ids)]
    if earlier_ids:
        id_column = spec.monitoring.id_column if spec.monitoring is not None else carry[0]
        parts.append(earlier_ids_failures(source, id_column, earlier_ids))
    return pl.concat(parts, how="vertical").sort(ROW_ID, maintain_order=True), copies


def column_failures(
    raw: pl.DataFrame, spec: UseCaseSpec, columns: Sequence[Column]
) -> pl.DataFrame:
    """What validation would quarantine in `raw` because of `columns` alone: one row per
    (row, column, check) failed, with `row_id` (1-based), `column`, `check`, `value` and
    `reason`. Every column must be present (by its source header) and readable."""
    source = _numbered(raw, columns, (), "the batch")
    return _typed_and_failures(source, spec, columns, ())[1]


def _numbered(
    raw: pl.DataFrame, columns: Sequence[Column], carry: tuple[str, ...], file: str
) -> pl.DataFrame:
    """The declared columns under the spec's names, after a 1-based `row_id` and the carried
    columns; refuses a column no value of which can be read."""
    unreadable = [
        f"'{c.header}' ({reason})"
        for c in columns
        if (reason := unreadable_reason(raw.schema[c.header], c)) is not None
    ]
    if unreadable:
        raise UnreadableColumnError(
            f"{file}: schema.columns: column(s) {', '.join(unreadable)} cannot be validated: "
            "deliver them as text or in the declared type"
        )
    return raw.select(
        pl.int_range(1, raw.height + 1, dtype=pl.Int64).alias(ROW_ID),
        *[pl.col(name) for name in carry],
        *[pl.col(c.header).alias(c.name) for c in columns],
    )


def _typed_and_failures(
    source: pl.DataFrame, spec: UseCaseSpec, columns: Sequence[Column], carry: tuple[str, ...]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The declared columns in their types, and every value that failed to read or a check."""
    readings = [reading(source.schema[c.name], c) for c in columns]
    typed = source.select(
        ROW_ID, *carry, *[r.value.alias(c.name) for c, r in zip(columns, readings, strict=True)]
    )
    unread = (
        pl.concat(
            [cast_failures(source, typed, c, r) for c, r in zip(columns, readings, strict=True)],
            how="vertical",
        )
        if columns
        else pl.DataFrame(schema=FAILURE_SCHEMA)
    )
    # A value that could not be read is null once typed; say "not a valid int" once, not also
    # "value is missing".
    check_failures = _check_failures(typed, spec, columns).join(
        unread.select(ROW_ID, "column"), on=[ROW_ID, "column"], how="anti"
    )
    rejected = rejected_missing(typed, spec, columns).join(
        unread.select(ROW_ID, "column"), on=[ROW_ID, "column"], how="anti"
    )
    return typed, pl.concat([unread, check_failures, rejected], how="vertical")


def _categorical(column: Column) -> pl.Expr:
    """Valid text columns as dictionary-encoded categories: a quarter of the memory, and
    tables that write and hash several times faster than plain strings."""
    if column.allowed is not None:
        return pl.col(column.name).cast(pl.Enum([str(v) for v in column.allowed]))
    return pl.col(column.name).cast(pl.Categorical)


def _check_failures(
    typed: pl.DataFrame, spec: UseCaseSpec, columns: Sequence[Column]
) -> pl.DataFrame:
    """Run pandera lazily and turn its failure cases into one reason per (row, check)."""
    import pandera.errors

    if not columns:
        return pl.DataFrame(schema=FAILURE_SCHEMA)
    try:
        pandera_schema(spec, columns).validate(typed, lazy=True)
        return pl.DataFrame(schema=FAILURE_SCHEMA)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    row_level = cases.filter(pl.col("index").is_not_null())
    if row_level.height < cases.height:
        # Whole-frame failures cannot happen after coercion; if one does, it is a bug to surface.
        whole = cases.filter(pl.col("index").is_null())
        raise RuntimeError(f"unexpected schema-level validation failures: {whole}")
    ids = typed.get_column(ROW_ID)
    check = pl.col("check").cast(pl.String)
    value = pl.col("failure_case").cast(pl.String)
    limit = check.str.extract(r"\((.*)\)$")
    explanation = (
        pl.when((check == "not_nullable") & (value == "NaN"))
        .then(value + " is not a finite number")
        .when(check == "not_nullable")
        .then(pl.lit("value is missing"))
        .when(check.str.starts_with("isin"))
        .then(pl.lit("'") + value + "' is not an allowed value")
        .when(check.str.starts_with("greater_than_or_equal_to"))
        .then(value + " is below the minimum " + limit)
        .when(check.str.starts_with("less_than_or_equal_to"))
        .then(value + " is above the maximum " + limit)
        .when(check == "value is not finite")
        .then(value + " is not a finite number")
        .otherwise(value.fill_null("null") + " fails " + check)
    )
    reasons = row_level.select(
        ids.gather(row_level.get_column("index")).alias(ROW_ID),
        pl.col("column").cast(pl.String),
        check.alias("check"),
        value.alias("value"),
        (pl.col("column").cast(pl.String) + ": " + explanation).alias("reason"),
    )
    # pandera counts NaN as null too: one reason per (row, message) is enough.
    return reasons.unique(subset=[ROW_ID, "reason"], keep="first", maintain_order=True)
