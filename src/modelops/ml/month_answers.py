"""A production month's answers: one per application, whatever happened to it.

Valid applications are scored by the champion's serving bundle through the scoring core
(`ApplicationScorer.score_table`, the batch door), so a month's answers are the service's.
Applications that failed validation are answered `refer` with their reasons; a whole month is
answered `refer`, with one machine-readable reason, when there is no champion, when the use
case is stopped, when the champion cannot be loaded, or when it fails on the month's rows.
Production always answers: a credit officer decides where the model cannot.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from modelops.ml.scoring import fallback_predictions
from modelops.ml.scoring.answers import REFER
from modelops.ml.scoring.fallback_reasons import (
    INVALID_INPUT,
    MODEL_ERROR,
    MODEL_UNAVAILABLE,
    NO_CHAMPION,
)
from modelops.spec import UseCaseSpec
from modelops.spec.columns import ROW_ID

if TYPE_CHECKING:
    from modelops.ml.serving_bundle import ServingBundle

__all__ = ["INVALID_INPUT", "MODEL_ERROR", "MODEL_UNAVAILABLE", "NO_CHAMPION", "answer_month"]
_MAX_CAUSE = 300


def answer_month(
    features: pl.DataFrame,
    quarantined: pl.DataFrame,
    bundle: ServingBundle | None,
    spec: UseCaseSpec,
    *,
    month: str,
    scored_at: datetime,
    fallback_reason: str | None = None,
    model_version: str | None = None,
    runtime_scores: np.ndarray | None = None,
) -> pl.DataFrame:
    """The month's answers (`prediction_schema` plus the spec's id column and `month`), in
    `row_id` order. With `fallback_reason` (or without a bundle) every row is answered
    `refer` with that reason (default `NO_CHAMPION`), carrying `model_version`.
    `runtime_scores`: the valid rows' scores from the model's own runtime (R through Pipes)."""
    assert spec.monitoring is not None
    carry = spec.monitoring.id_column
    top_k = spec.monitoring.reason_codes
    version = bundle.model_version if bundle is not None else model_version
    reason = fallback_reason or (NO_CHAMPION if bundle is None else None)
    if reason is None and bundle is not None:
        scored, reason = _scored(features, bundle, spec, scored_at, runtime_scores)
    if reason is not None:
        scored = fallback_predictions(
            pl.concat([features.get_column(ROW_ID), quarantined.get_column(ROW_ID)]),
            reason=reason,
            model_version=version,
            scored_at=scored_at,
            top_k=top_k,
        )
    else:
        referred = fallback_predictions(
            quarantined.get_column(ROW_ID),
            reason=quarantined.select(f"{INVALID_INPUT}: " + pl.col("reasons")).to_series(),
            model_version=version,
            scored_at=scored_at,
            top_k=top_k,
        )
        scored = pl.concat([scored, referred], how="vertical")
    ids = pl.concat([features.select(ROW_ID, carry), quarantined.select(ROW_ID, carry)])
    return (
        scored.join(ids, on=ROW_ID, how="left")
        .with_columns(pl.lit(month).alias("month"))
        .sort(ROW_ID)
    )


def referred_throughout(answers: pl.DataFrame) -> pl.DataFrame:
    """Every answer turned into `refer`, scores and reasons kept: a month with a data incident
    the spec refers to a person (`monitoring.incidents.actions`)."""
    return answers.with_columns(pl.lit(REFER).alias("decision"))


def _scored(
    features: pl.DataFrame,
    bundle: ServingBundle,
    spec: UseCaseSpec,
    scored_at: datetime,
    runtime_scores: np.ndarray | None,
) -> tuple[pl.DataFrame, str | None]:
    """The valid rows scored through the core, or why the model could not score them."""
    from modelops.ml.scoring.applications import ApplicationScorer

    try:
        scorer = ApplicationScorer(bundle, spec)
        return scorer.score_table(features, scored_at=scored_at, scores=runtime_scores), None
    except Exception as exc:  # production always answers: the month is referred, named
        cause = str(exc).strip().splitlines()
        text = f"{type(exc).__name__}: {cause[0]}" if cause else type(exc).__name__
        return pl.DataFrame(), f"{MODEL_ERROR}: version {bundle.model_version}: {text[:_MAX_CAUSE]}"
