"""A month's online decisions in the shape of the batch's tables, so drift and realised
performance cover applications scored online as well as the monthly files.

Only decisions the model scored count (a fallback has no score, and its inputs may have
failed validation), as only valid batch rows reach `production_features`. Their inputs, as the
service validated them, go through the same `build_features` as a batch.
"""

from __future__ import annotations

import json

import polars as pl

from modelops.ml.features import build_features
from modelops.spec import UseCaseSpec
from modelops.spec.columns import ROW_ID
from modelops.spec.schema import validated_dtype

ONLINE_ROW_OFFSET = 1_000_000_000_000
"""Online rows' `row_id`s start here, apart from any batch's."""


def scored_decisions(decisions: pl.DataFrame) -> pl.DataFrame:
    return decisions.filter(pl.col("probability").is_not_null())


def online_features(decisions: pl.DataFrame, spec: UseCaseSpec) -> pl.DataFrame:
    """The scored decisions' features, in `production_features`' columns."""
    assert spec.monitoring is not None
    scored = scored_decisions(decisions)
    carry = spec.monitoring.id_column
    columns = [c for c in spec.data_schema.columns if c.name not in spec.target.outcome_columns]
    records = [json.loads(text) for text in scored.get_column("inputs").to_list()]
    typed = pl.DataFrame(
        {
            ROW_ID: pl.Series(
                ROW_ID, range(ONLINE_ROW_OFFSET, ONLINE_ROW_OFFSET + len(records)), pl.Int64
            ),
            carry: scored.get_column("application_id"),
            **{
                c.name: pl.Series(c.name, [r.get(c.name) for r in records]).cast(
                    validated_dtype(c), strict=False
                )
                for c in columns
            },
        }
    )
    return build_features(typed, spec, with_label=False, carry=(carry,))


def online_scores(decisions: pl.DataFrame, spec: UseCaseSpec) -> pl.DataFrame:
    """The scored decisions as realised performance reads predictions: the id, the score and
    the model version."""
    assert spec.monitoring is not None
    return scored_decisions(decisions).select(
        pl.col("application_id").alias(spec.monitoring.id_column),
        pl.col("probability").alias("score"),
        "model_version",
    )


def with_online(batch: pl.DataFrame, online: pl.DataFrame) -> pl.DataFrame:
    """The batch's rows then the online rows, in the batch's columns and types. An online
    value the batch's type cannot hold (an application id `A-17` where the batch's ids are
    integers) becomes null rather than failing the month: that row then joins no label."""
    if online.height == 0:
        return batch
    typed = online.select(batch.columns).cast(dict(batch.schema), strict=False)
    return pl.concat([batch, typed], how="vertical")
