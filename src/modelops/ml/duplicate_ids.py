"""One answer per application: repeated application ids in a production batch, ids already
answered in earlier months, labels that repeat an id, and answers that repeat one.

A bank must never answer the same application twice silently (possibly `accept` once and
`refer` the other time), nor count it twice when its outcome arrives. Within a batch and across
the months of `monitoring.incidents.duplicate_window_months`, repeats are quarantined with a
reason (validation); a labels file that repeats an id is refused, since which outcome is right
cannot be guessed; joins of outcomes with answers are one-to-one.

Failures come in validation's shape (`row_failures.FAILURE_SCHEMA`): `row_id`, `column`,
`check`, `value`, `reason`.
"""

from __future__ import annotations

import polars as pl

from modelops.ml.row_failures import FAILURE_SCHEMA
from modelops.spec.columns import ROW_ID
from modelops.spec.incidents import DuplicateHandling

EXAMPLES = 5
"""Repeated ids named in a refusal; the rest are counted."""


class RepeatedIdsError(ValueError):
    """A table that must hold one row per application (labels, the rows a join pairs) repeats
    an id: joining it would count an application twice, or pick an outcome at random."""


def repeated_id_failures(
    frame: pl.DataFrame, id_column: str, policy: DuplicateHandling
) -> pl.DataFrame:
    """Rows of `frame` (with `row_id`) whose id another row of the batch repeats. `first`: the
    rows after the first of the id, each naming that first row; `quarantine`: every row of the
    id, saying how many times it appears (no row is answered from a guess which one is right).
    A missing id repeats nothing."""
    ids = pl.col(id_column)
    first = pl.col(ROW_ID).min().over(id_column)
    repeated = frame.filter(ids.is_not_null() & (pl.len().over(id_column) > 1))
    if policy == "first":
        picked = repeated.filter(pl.col(ROW_ID) != first)
        reason = pl.format(f"{id_column}: '{{}}' repeats the id of row {{}}", ids, first)
    else:
        picked = repeated
        count = pl.len().over(id_column)
        reason = pl.format(f"{id_column}: '{{}}' appears {{}} times in the batch", ids, count)
    return (
        repeated.with_columns(reason.alias("reason"))
        .filter(pl.col(ROW_ID).is_in(picked.get_column(ROW_ID).implode()))
        .select(
            ROW_ID,
            pl.lit(id_column).alias("column"),
            pl.lit("unique").alias("check"),
            ids.cast(pl.String).alias("value"),
            "reason",
        )
        .cast(FAILURE_SCHEMA)
        .sort(ROW_ID)
    )


def earlier_ids_failures(
    frame: pl.DataFrame, id_column: str, earlier: dict[str, pl.Series]
) -> pl.DataFrame:
    """Rows of `frame` (with `row_id`) whose id was already answered in an earlier month
    (`earlier`: month `YYYY-MM` -> the ids its predictions answered), one failure per row
    naming the most recent such month. Ids compare as text, so an id stored as an integer
    one month and read as text the next still matches."""
    text = pl.col(id_column).cast(pl.String)
    parts = [
        frame.filter(text.is_in(ids.cast(pl.String).drop_nulls().implode())).select(
            ROW_ID,
            pl.lit(id_column).alias("column"),
            pl.lit("answered").alias("check"),
            text.alias("value"),
            pl.format(
                f"{id_column}: application id '{{}}' already answered in {month}", text
            ).alias("reason"),
        )
        for month, ids in sorted(earlier.items(), reverse=True)
    ]
    if not parts:
        return pl.DataFrame(schema=FAILURE_SCHEMA)
    found = pl.concat(parts, how="vertical").cast(FAILURE_SCHEMA)
    return found.unique(ROW_ID, keep="first", maintain_order=True).sort(ROW_ID)


def require_unique_ids(frame: pl.DataFrame, id_column: str, *, file: str) -> None:
    """Refuse `frame` when a (non-missing) id appears more than once, naming `file`, the id
    column and a few of the repeated ids with their counts."""
    counts = (
        frame.select(pl.col(id_column).cast(pl.String))
        .drop_nulls()
        .group_by(id_column, maintain_order=True)
        .len()
        .filter(pl.col("len") > 1)
    )
    if counts.height == 0:
        return
    examples = ", ".join(
        f"'{value}' ({times} times)" for value, times in counts.head(EXAMPLES).iter_rows()
    )
    more = f" and {counts.height - EXAMPLES} more" if counts.height > EXAMPLES else ""
    raise RepeatedIdsError(
        f"{file}: monitoring.id_column: {counts.height} id(s) in column '{id_column}' appear "
        f"more than once, e.g. {examples}{more}; each application must appear once (which "
        "of its rows is right cannot be guessed): deliver the file with one row per id"
    )


def latest_answers(answers: pl.DataFrame, id_column: str) -> pl.DataFrame:
    """One answer per id: the latest, i.e. the last row of the id in `answers`, which lists
    the answers in the order they were given (the month's batch, then its online decisions in
    time order). An application answered twice (re-submitted online after the batch) is
    judged on the answer that stood last. Rows without an id are kept as they are."""
    has_id = pl.col(id_column).is_not_null()
    last = pl.int_range(pl.len()).over(id_column) == pl.len().over(id_column) - 1
    return answers.filter(~has_id | last)
