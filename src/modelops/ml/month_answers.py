"""A production month's answers: one per application, whatever happened to it.

Valid applications are scored by the champion's serving bundle; applications that failed
validation, and every application of a month without a champion, are answered `refer` with
the reason. Production always answers: a credit officer decides where the model cannot.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import polars as pl

from modelops.ml.scoring import fallback_predictions, score_batch
from modelops.spec import UseCaseSpec
from modelops.spec.columns import ROW_ID

if TYPE_CHECKING:
    from modelops.ml.serving_bundle import ServingBundle

NO_CHAMPION = "no champion model to score with"


def answer_month(
    features: pl.DataFrame,
    quarantined: pl.DataFrame,
    bundle: ServingBundle | None,
    spec: UseCaseSpec,
    *,
    month: str,
    scored_at: datetime,
) -> pl.DataFrame:
    """The month's answers (`prediction_schema` plus the spec's id column and `month`), in
    `row_id` order."""
    assert spec.monitoring is not None
    carry = spec.monitoring.id_column
    top_k = spec.monitoring.reason_codes
    version = bundle.model_version if bundle is not None else None
    if bundle is None:
        scored = fallback_predictions(
            features.get_column(ROW_ID),
            reason=NO_CHAMPION,
            model_version=None,
            scored_at=scored_at,
            top_k=top_k,
        )
    else:
        scored = score_batch(
            features,
            pipeline=bundle.pipeline,
            reasons=bundle.reasons,
            outliers=bundle.outliers,
            spec=spec,
            model_version=bundle.model_version,
            threshold=spec.evaluation.operating_threshold,
            top_k=top_k,
            scored_at=scored_at,
        )
    referred = fallback_predictions(
        quarantined.get_column(ROW_ID),
        reason=quarantined.select("input failed validation: " + pl.col("reasons")).to_series(),
        model_version=version,
        scored_at=scored_at,
        top_k=top_k,
    )
    ids = pl.concat([features.select(ROW_ID, carry), quarantined.select(ROW_ID, carry)])
    return (
        pl.concat([scored, referred], how="vertical")
        .join(ids, on=ROW_ID, how="left")
        .with_columns(pl.lit(month).alias("month"))
        .sort(ROW_ID)
    )
