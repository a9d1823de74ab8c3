"""Are the stated reasons the largest true contributions? Measured on the holdout, per row.

- Exact reason codes (`linear`, `tree`): the truth is recomputed from the model itself (its
  coefficients and the training means of its encoded columns, or a WoE scorecard's best
  bins; the booster's TreeSHAP values centred on their training means), not from the stored
  reason codes. A row is faithful
  when its stated reasons are a top-k of the true contributions (ties allowed) and no
  feature pushing towards the positive class was left out while there was room.
  A correct explainer measures 1.0.
- Surrogate reason codes: a perturbation test against the model. For every feature, the
  row's value is replaced by the training baseline (median, or the most frequent category)
  and the drop in log-odds is measured. A row is faithful when each stated reason's
  replacement moves the score towards good at least as much as any un-stated feature's.
  Rows without a stated reason are not counted.

The share of faithful rows is the figure a release gate compares with the tier's
`reason_faithfulness_min` (`faithfulness_minimum`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, computed_field
from scipy.special import logit
from sklearn.pipeline import Pipeline

from modelops.formatting import code, number, pass_fail, percent
from modelops.ml.scorecard.points import best_bin_log_odds
from modelops.ml.scoring import tree_contributions
from modelops.ml.scoring.blocks import output_features
from modelops.ml.scoring.compiled import encode
from modelops.ml.scoring.reasons import ReasonCodes
from modelops.ml.training import predict_scores
from modelops.spec.model import UseCaseSpec
from modelops.spec.risk import TierPolicy

DEFAULT_MINIMUM = 0.9
"""The limit when the spec asks for the gate (`explanations.faithfulness_gate`) and its tier
sets none."""
TOLERANCE = 1e-9
"""Log-odds differences below this are ties."""


class FaithfulnessRecord(BaseModel):
    """How often the stated top reasons are the largest true contributions."""

    model_config = ConfigDict(frozen=True)

    method: Literal["exact", "perturbation"]
    reason_method: str
    """The reason codes' method: `linear`, `tree` or `surrogate`."""
    top_k: int
    rows: int
    """Holdout rows counted."""
    faithful_rows: int
    rows_without_reasons: int = 0
    """Perturbation: rows with no stated reason (not counted)."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def share(self) -> float | None:
        return self.faithful_rows / self.rows if self.rows else None


def stated_top_k(spec: UseCaseSpec) -> int:
    """How many reasons an answer states (as `ApplicationScorer` does)."""
    return spec.monitoring.reason_codes if spec.monitoring else 3


def faithfulness(
    pipeline: Pipeline,
    reasons: ReasonCodes,
    spec: UseCaseSpec,
    training: pl.DataFrame,
    holdout: pl.DataFrame,
    *,
    top_k: int | None = None,
    max_rows: int = 20_000,
    perturbation_rows: int = 500,
    seed: int = 0,
) -> FaithfulnessRecord:
    """The faithfulness of `reasons` (the version's reason codes) for `pipeline` on `holdout`,
    with baselines and means from `training` (each a seeded sample of at most `max_rows`;
    the perturbation test uses at most `perturbation_rows` holdout rows)."""
    k = top_k or stated_top_k(spec)
    train = training.sample(max_rows, seed=seed) if training.height > max_rows else training
    if reasons.method == "surrogate":
        rows = _sample(holdout, perturbation_rows, seed)
        return _perturbation(pipeline, reasons, spec, train, rows, k)
    rows = _sample(holdout, max_rows, seed)
    truth = exact_contributions(pipeline, reasons.method, spec, train, rows)
    stated = _stated(pipeline, reasons, spec, rows, k)
    faithful = [_is_top(truth[i], stated[i], k, require_count=True) for i in range(rows.height)]
    return FaithfulnessRecord(
        method="exact",
        reason_method=reasons.method,
        top_k=k,
        rows=rows.height,
        faithful_rows=int(sum(faithful)),
    )


def exact_contributions(
    pipeline: Pipeline,
    method: str,
    spec: UseCaseSpec,
    training: pl.DataFrame,
    rows: pl.DataFrame,
) -> np.ndarray:
    """Rows × spec features: the true contributions, from the model (not the reason codes),
    centred on the training means, in `output_features` order of first appearance."""
    owners = output_features(pipeline, spec)
    features = list(dict.fromkeys(owners))
    owner = np.array([features.index(o) for o in owners], dtype=np.int64)
    model = pipeline[-1]
    train_matrix = encode(pipeline, training, spec, None)
    matrix = encode(pipeline, rows, spec, None)
    if method == "tree":
        summed, _ = tree_contributions.feature_contributions(model, matrix, owner, len(features))
        reference, _ = tree_contributions.feature_contributions(
            model, train_matrix, owner, len(features)
        )
        return summed - reference.mean(axis=0)
    coef = np.asarray(model.coef_, dtype=np.float64).ravel()
    dense = np.asarray(matrix.toarray() if hasattr(matrix, "toarray") else matrix, np.float64)
    best = best_bin_log_odds(pipeline)
    if best is not None:  # a WoE scorecard: what each feature lost against its best bin
        per_column = dense * coef - best
    else:
        per_column = (dense - np.asarray(train_matrix.mean(axis=0)).ravel()) * coef
    membership = np.zeros((owner.size, len(features)))
    membership[np.arange(owner.size), owner] = 1.0
    return per_column @ membership


def _stated(
    pipeline: Pipeline, reasons: ReasonCodes, spec: UseCaseSpec, rows: pl.DataFrame, k: int
) -> list[list[int]]:
    """Per row, the indexes (into `reasons.features`) of the reasons an answer states."""
    matrix = encode(pipeline, rows, spec, None)
    columns = reasons.top_reasons(reasons.contributions(matrix, pipeline[-1]), k)
    index = {name: j for j, name in enumerate(reasons.features)}
    named = zip(*[c.to_list() for c in columns], strict=True) if columns else []
    return [[index[n] for n in row if n is not None] for row in named]


def _is_top(truth: np.ndarray, stated: list[int], k: int, *, require_count: bool) -> bool:
    """Whether `stated` are a top of `truth`: none smaller than an un-stated value (ties
    within `TOLERANCE`); with `require_count`, as many as `truth` has positive values, up
    to `k`, and no stated value that is not positive."""
    others = np.delete(truth, stated)
    if stated and others.size and truth[stated].min() < others.max() - TOLERANCE:
        return False
    if not require_count:
        return True
    positive = int(np.sum(truth > TOLERANCE))
    possible = int(np.sum(truth > -TOLERANCE))
    return min(k, positive) <= len(stated) <= min(k, possible)


def _perturbation(
    pipeline: Pipeline,
    reasons: ReasonCodes,
    spec: UseCaseSpec,
    training: pl.DataFrame,
    rows: pl.DataFrame,
    k: int,
) -> FaithfulnessRecord:
    stated = _stated(pipeline, reasons, spec, rows, k)
    drops = perturbation_drops(pipeline, spec, list(reasons.features), training, rows)
    counted = [i for i, s in enumerate(stated) if s]
    faithful = sum(_is_top(drops[i], stated[i], k, require_count=False) for i in counted)
    return FaithfulnessRecord(
        method="perturbation",
        reason_method=reasons.method,
        top_k=k,
        rows=len(counted),
        faithful_rows=int(faithful),
        rows_without_reasons=rows.height - len(counted),
    )


def perturbation_drops(
    pipeline: Pipeline,
    spec: UseCaseSpec,
    features: list[str],
    training: pl.DataFrame,
    rows: pl.DataFrame,
) -> np.ndarray:
    """Rows × `features`: how far the model's log-odds fall when the feature is set to its
    training baseline (positive: the feature pushed the score towards the positive class)."""

    def log_odds(frame: pl.DataFrame) -> np.ndarray:
        return logit(np.clip(predict_scores(pipeline, frame, spec), 1e-12, 1 - 1e-12))

    original = log_odds(rows)
    replaced = pl.concat(
        [rows.with_columns(_baseline(training, name)) for name in features], how="vertical"
    )
    moved = log_odds(replaced).reshape(len(features), rows.height).T
    return original[:, None] - moved


def _baseline(training: pl.DataFrame, name: str) -> pl.Expr:
    """The column set to its training median (numeric) or most frequent value."""
    column = training.get_column(name)
    dtype = column.dtype
    if dtype.is_numeric():
        value = column.median()
    else:
        modes = column.drop_nulls().mode().sort()
        value = modes[0] if modes.len() else None
    return pl.lit(value).cast(dtype).alias(name)


def _sample(frame: pl.DataFrame, limit: int, seed: int) -> pl.DataFrame:
    return frame.sample(limit, seed=seed) if frame.height > limit else frame


def faithfulness_minimum(spec: UseCaseSpec, tier: TierPolicy) -> float | None:
    """The share the release gate requires, or None when the check is not gated: the tier's
    `reason_faithfulness_min`, else `DEFAULT_MINIMUM` when the spec asks for the gate."""
    if tier.reason_faithfulness_min is not None:
        return tier.reason_faithfulness_min
    if spec.explanations is not None and spec.explanations.faithfulness_gate:
        return DEFAULT_MINIMUM
    return None


def faithfulness_passed(record: FaithfulnessRecord, minimum: float) -> bool:
    """An unmeasurable share (no row counted) does not pass."""
    return record.share is not None and record.share >= minimum - 1e-12


def faithfulness_lines(record: FaithfulnessRecord, minimum: float | None = None) -> list[str]:
    """The record as markdown: method, share, and the verdict when gated."""
    how = (
        "exact contributions recomputed from the model"
        if record.method == "exact"
        else "perturbation test (each feature set to its training baseline)"
    )
    line = (
        f"Reason faithfulness ({code(record.reason_method)} reason codes, {how}): the top "
        f"{record.top_k} stated reasons are the largest true contributions on "
        f"{percent(record.share)} of {record.rows:,} holdout rows "
        f"(share {number(record.share, 3)})."
    )
    if record.rows_without_reasons:
        line += f" {record.rows_without_reasons:,} rows stated no reason and are not counted."
    if minimum is not None:
        verdict = pass_fail(faithfulness_passed(record, minimum))
        line += f" Gate: at least {number(minimum, 2)}: **{verdict}**."
    else:
        line += " Not gated for this tier."
    return [line]
