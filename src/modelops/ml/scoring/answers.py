"""The answer production gives per application: the model version, the score, the decision,
the top reasons and the outlier score, or a fallback answer when the model cannot give one.

Decisions follow the spec's intended use, "support, not replace, a credit officer's
decision": a score at or above the operating threshold is `refer` (a person reviews the
application), anything else is `accept`. The model never declines on its own, and every
answer that is not a model score (no model, input that failed validation) is `refer` too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import polars as pl
from sklearn.pipeline import Pipeline

from modelops.ml import training
from modelops.ml.scoring.compiled import compiled_preprocess, encode
from modelops.ml.scoring.errors import ScoringError
from modelops.ml.scoring.outliers import OutlierModel
from modelops.ml.scoring.reason_catalogue import ReasonCatalogue, reason_text_schema
from modelops.ml.scoring.reasons import ReasonCodes
from modelops.spec.columns import ROW_ID
from modelops.spec.model import UseCaseSpec

ACCEPT = "accept"
"""The score is below the operating threshold."""
REFER = "refer"
"""A credit officer reviews the application: the score is at or above the threshold, or there
is no model score (fallback)."""


def prediction_schema(top_k: int = 3) -> pl.Schema:
    """The columns every answer has, model score or fallback alike."""
    return pl.Schema(
        {
            ROW_ID: pl.Int64,
            "model_version": pl.String,
            "score": pl.Float64,
            "decision": pl.String,
            **{f"reason_{i}": pl.String for i in range(1, top_k + 1)},
            **{f"reason_{i}_contribution": pl.Float64 for i in range(1, top_k + 1)},
            **reason_text_schema(top_k),
            "outlier_score": pl.Float64,
            "outlier_flag": pl.Boolean,
            "outlier_inputs": pl.String,
            "scored_at": pl.Datetime("us", "UTC"),
        }
    )


def score_batch(
    features: pl.DataFrame,
    *,
    pipeline: Pipeline,
    reasons: ReasonCodes,
    outliers: OutlierModel,
    spec: UseCaseSpec,
    model_version: str,
    threshold: float,
    top_k: int = 3,
    scored_at: datetime,
    fast_transform: bool = True,
    scores: np.ndarray | None = None,
) -> pl.DataFrame:
    """One answer per row of a feature table (`build_features(..., with_label=False)`), in
    its order: see `prediction_schema` (the top reasons, their contributions to the
    log-odds and the catalogue's code and text, as every door gives them).

    `decision` is `refer` when the score is at or above `threshold` (or missing), `accept`
    otherwise; `outlier_flag` is `outlier_score >= outliers.threshold` and does not change the
    decision (the caller may route flagged rows to review too); `outlier_inputs` names the
    inputs that made the row unusual.

    Rows are scored in slices of `training.SCORING_BATCH_ROWS`; each slice is encoded once and
    that matrix gives both the score (`predict_proba` of the pipeline's model, the same number
    `predict_scores` gives) and the contributions. Each call first checks that `reasons` were
    fitted on this pipeline and that `CompiledPreprocess` reproduces scikit-learn on this
    batch (about 0.1 s, whatever the batch size); `fast_transform=False` encodes with
    scikit-learn instead (slower; for comparison). `scores`, when given, are the model's own
    runtime's (R through Pipes), one per row: they replace the pipeline's, which still gives
    the reason codes.
    """
    if not 0 < threshold < 1:
        raise ScoringError(f"threshold must be between 0 and 1, got {threshold}")
    if top_k < 1:
        raise ScoringError(f"top_k must be at least 1, got {top_k}")
    stamp = _utc(scored_at)
    reasons.check(pipeline, spec)
    # Checked on this batch's own rows too: an Enum column takes another path than text.
    compiled = None
    if fast_transform:
        compiled = compiled_preprocess(pipeline, spec, features, reasons.probe)
    model = pipeline[-1]
    catalogue = ReasonCatalogue.of(spec)
    if scores is not None and len(scores) != features.height:
        raise ScoringError(f"{len(scores)} runtime scores for {features.height} rows")
    parts = []
    for offset, part in enumerate(features.iter_slices(training.SCORING_BATCH_ROWS)):
        matrix = encode(pipeline, part, spec, compiled)
        if scores is None:
            part_scores = model.predict_proba(matrix)[:, 1]
        else:
            start = offset * training.SCORING_BATCH_ROWS
            part_scores = scores[start : start + part.height]
        top, pushes = reasons.top_reason_columns(reasons.contributions(matrix, model), top_k)
        unusual, unusual_inputs = outliers.score_and_inputs(part)
        parts.append(
            pl.DataFrame(
                [
                    part.get_column(ROW_ID).cast(pl.Int64),
                    pl.Series("score", part_scores, dtype=pl.Float64),
                    *top,
                    *pushes,
                    *catalogue.columns(top),
                    unusual,
                    unusual_inputs,
                ]
            )
        )
    if not parts:
        return pl.DataFrame(schema=prediction_schema(top_k))
    scored = pl.concat(parts, how="vertical")
    return scored.select(
        ROW_ID,
        pl.lit(model_version, dtype=pl.String).alias("model_version"),
        "score",
        # NaN and null compare as not below the threshold: no score is never an accept.
        pl.when(pl.col("score") < threshold)
        .then(pl.lit(ACCEPT))
        .otherwise(pl.lit(REFER))
        .alias("decision"),
        *[f"reason_{i}" for i in range(1, top_k + 1)],
        *[f"reason_{i}_contribution" for i in range(1, top_k + 1)],
        *reason_text_schema(top_k),
        "outlier_score",
        (pl.col("outlier_score") >= outliers.threshold).alias("outlier_flag"),
        "outlier_inputs",
        pl.lit(stamp, dtype=pl.Datetime("us", "UTC")).alias("scored_at"),
    )


def fallback_predictions(
    row_ids: Sequence[int] | pl.Series | np.ndarray,
    *,
    reason: str | Sequence[str] | pl.Series,
    model_version: str | None,
    scored_at: datetime,
    top_k: int = 3,
) -> pl.DataFrame:
    """The answer when the model cannot give one: `refer` with no score, the reason in
    `reason_1` (one for all rows, or one per row, e.g. each row's quarantine reasons).

    Production always answers: rows that fail validation and batches the model cannot score
    still get a decision, a person's.
    """
    ids = pl.Series(ROW_ID, row_ids, dtype=pl.Int64)
    if isinstance(reason, str):
        reasons = pl.Series("reason_1", [reason] * len(ids), dtype=pl.String)
    else:
        reasons = pl.Series("reason_1", reason, dtype=pl.String)
        if len(reasons) != len(ids):
            raise ScoringError(f"{len(reasons)} reasons for {len(ids)} rows")
    schema = prediction_schema(top_k)
    return (
        pl.DataFrame([ids, reasons])
        .select(
            ROW_ID,
            pl.lit(model_version, dtype=pl.String).alias("model_version"),
            pl.lit(None, dtype=pl.Float64).alias("score"),
            pl.lit(REFER).alias("decision"),
            "reason_1",
            *[pl.lit(None, dtype=pl.String).alias(f"reason_{i}") for i in range(2, top_k + 1)],
            *[
                pl.lit(None, dtype=pl.Float64).alias(f"reason_{i}_contribution")
                for i in range(1, top_k + 1)
            ],
            *[pl.lit(None, dtype=pl.String).alias(name) for name in reason_text_schema(top_k)],
            pl.lit(None, dtype=pl.Float64).alias("outlier_score"),
            pl.lit(None, dtype=pl.Boolean).alias("outlier_flag"),
            pl.lit(None, dtype=pl.String).alias("outlier_inputs"),
            pl.lit(_utc(scored_at), dtype=pl.Datetime("us", "UTC")).alias("scored_at"),
        )
        .cast(dict(schema))
    )


def _utc(moment: datetime) -> datetime:
    """Audit timestamps are UTC; a naive datetime is ambiguous, so it is refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ScoringError("scored_at must be timezone-aware (e.g. datetime.now(UTC))")
    return moment.astimezone(UTC)
