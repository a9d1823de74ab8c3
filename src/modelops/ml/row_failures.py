"""The shape of a validation failure (one row per row, column and check failed), and the
rows that repeat an earlier row."""

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
    """Rows identical to an earlier row in `names` and the carried columns ("duplicate of row
    N"): the first occurrence is kept. (Repeated ids are `ml/duplicate_ids.py`'s.)"""
    first = source.select(ROW_ID, pl.col(ROW_ID).min().over(*carry, *names).alias("_first"))
    copies = first.filter(pl.col(ROW_ID) != pl.col("_first")).select(
        ROW_ID,
        pl.lit(WHOLE_ROW).alias("column"),
        pl.lit("duplicate").alias("check"),
        pl.format("row {}", "_first").alias("value"),
        pl.format("duplicate of row {}", "_first").alias("reason"),
    )
    return copies.cast(FAILURE_SCHEMA).sort(ROW_ID)
