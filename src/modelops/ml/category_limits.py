"""A category column with very many distinct values is probably free text (an employer's
title): worth a warning at validation, never a failure."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import polars as pl

from modelops.spec import Column, DataSchema


def distinct_warnings(
    valid: pl.DataFrame, schema: DataSchema, columns: Sequence[Column]
) -> Iterator[str]:
    """One warning per `category` column of the valid rows with more distinct values than
    its `max_distinct` (default `schema.max_distinct`), naming the spec field."""
    for i, column in enumerate(schema.columns):
        limit = column.max_distinct or schema.max_distinct
        if column.type != "category" or limit is None or column not in columns:
            continue
        if column.name not in valid.columns:
            continue
        distinct = valid.get_column(column.name).drop_nulls().n_unique()
        if distinct > limit:
            yield (
                f"schema.columns[{i}] ({column.name}).max_distinct: {distinct:,} distinct values "
                f"(limit {limit:,}); free text is declared `type: text` (never a model input), "
                "or raise the limit"
            )
