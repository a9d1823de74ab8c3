"""The shape of a validation failure (one row per row, column and check failed), and the
rows that repeat an earlier row or its id."""

from __future__ import annotations

import polars as pl

from modelops.spec.columns import ROW_ID

WHOLE_ROW = "(row)"
"""The `column` of a failure that concerns the whole row (a duplicate)."""
FAILURE_SCHEMA = {
    ROW_ID: pl.Int64,
    "column": pl.String,
    "check": pl.String,
    "value": pl.String,
    "reason": pl.String,
}


def repeated_rows(source: pl.DataFrame, names: list[str], carry: tuple[str, ...]) -> pl.DataFrame:
    """Rows identical to an earlier row ("duplicate of row N"), and other rows repeating an
    earlier row's id (a carried column): the first occurrence is kept."""
    first = source.select(
        ROW_ID,
        *carry,
        pl.col(ROW_ID).min().over(*carry, *names).alias("_first"),
        *[pl.col(ROW_ID).min().over(i).alias(f"_first_{i}") for i in carry],
    )
    copies = first.filter(pl.col(ROW_ID) != pl.col("_first")).select(
        ROW_ID,
        pl.lit(WHOLE_ROW).alias("column"),
        pl.lit("duplicate").alias("check"),
        pl.format("row {}", "_first").alias("value"),
        pl.format("duplicate of row {}", "_first").alias("reason"),
    )
    rest = first.filter(pl.col(ROW_ID) == pl.col("_first"))
    ids = [
        rest.filter(pl.col(i).is_not_null() & (pl.col(ROW_ID) != pl.col(f"_first_{i}"))).select(
            ROW_ID,
            pl.lit(i).alias("column"),
            pl.lit("unique").alias("check"),
            pl.col(i).cast(pl.String).alias("value"),
            pl.format(f"{i}: '{{}}' repeats the id of row {{}}", i, f"_first_{i}").alias("reason"),
        )
        for i in carry
    ]
    return pl.concat([copies, *ids], how="vertical").cast(FAILURE_SCHEMA).sort(ROW_ID)


def first_of_repeated_ids(source: pl.DataFrame, carry: tuple[str, ...]) -> pl.DataFrame:
    """The first row of every id that repeats (`monitoring.incidents.duplicates: quarantine`:
    no row of a repeated application is answered, rather than guess which one is right)."""
    parts = [
        source.filter(
            pl.col(i).is_not_null()
            & (pl.len().over(i) > 1)
            & (pl.col(ROW_ID) == pl.col(ROW_ID).min().over(i))
        ).select(
            ROW_ID,
            pl.lit(i).alias("column"),
            pl.lit("unique").alias("check"),
            pl.col(i).cast(pl.String).alias("value"),
            pl.format(f"{i}: '{{}}' appears {{}} times in the batch", i, pl.len().over(i)).alias(
                "reason"
            ),
        )
        for i in carry
    ]
    return pl.concat(parts, how="vertical").cast(FAILURE_SCHEMA) if parts else _empty()


def answered_before(
    source: pl.DataFrame, column: str, earlier: dict[str, pl.Series]
) -> pl.DataFrame:
    """Rows whose id was already answered in an earlier month (month -> its ids): one
    application is never scored twice silently."""
    parts = [
        source.filter(pl.col(column).cast(pl.String).is_in(ids.cast(pl.String).implode())).select(
            ROW_ID,
            pl.lit(column).alias("column"),
            pl.lit("unique").alias("check"),
            pl.col(column).cast(pl.String).alias("value"),
            pl.format(f"{column}: '{{}}' was already answered in {month}", column).alias("reason"),
        )
        for month, ids in sorted(earlier.items(), reverse=True)
    ]
    if not parts:
        return _empty()
    found = pl.concat(parts, how="vertical").cast(FAILURE_SCHEMA)
    return found.unique(ROW_ID, keep="first", maintain_order=True)  # the latest month named


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=FAILURE_SCHEMA)
