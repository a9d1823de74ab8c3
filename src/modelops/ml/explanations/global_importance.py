"""Global explanation of a trained model: which features matter, by a method its family
supports, named in the record so a reader knows what the numbers mean.

- linear model on encoded inputs (exact reason codes, method `linear`): the coefficients
  summed per spec feature, and the spread (standard deviation) of each feature's
  contribution to the log-odds on the training set, which ranks them;
- tree models (HistGradientBoosting, LightGBM, XGBoost): the mean absolute contribution
  (log-odds) on the training set, from the exact TreeSHAP reason codes, or from the additive
  surrogate (whose fidelity is stated);
- anything else (or a pipeline the reason codes cannot read): permutation importance on the
  holdout, the drop in AUC when a feature's values are shuffled (seeded).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict
from sklearn.pipeline import Pipeline

from modelops.formatting import Markdown, code, number, table
from modelops.ml.scoring.compiled import encode
from modelops.ml.scoring.reasons import ReasonCodes
from modelops.ml.training import model_input_frame
from modelops.spec.columns import LABEL
from modelops.spec.model import UseCaseSpec

Method = Literal["coefficients", "mean_abs_contribution", "permutation"]

_MEASURES: dict[str, str] = {
    "coefficients": "spread (standard deviation) of the feature's contribution to the "
    "log-odds on the training set; the coefficient beside it where the feature is one column",
    "mean_abs_contribution": "mean absolute contribution to the log-odds on the training set",
    "permutation": "drop in holdout AUC when the feature's values are shuffled (mean of "
    "seeded repeats)",
}
_TREE_ESTIMATORS = (
    "HistGradientBoosting",
    "GradientBoosting",
    "RandomForest",
    "ExtraTrees",
    "DecisionTree",
    "LGBM",
    "XGB",
)


class FeatureImportance(BaseModel):
    model_config = ConfigDict(frozen=True)

    feature: str
    importance: float
    """What the record's `method` measures; features are ranked by it."""
    coefficient: float | None = None
    """Linear: the coefficients of the feature's encoded columns, summed (for a one-hot
    feature a sum of its categories' coefficients: read `spread` to rank)."""
    columns: int | None = None
    """How many encoded columns the feature has (one per category when one-hot)."""
    spread: float | None = None
    """Standard deviation of the feature's contribution (log-odds) on the training set."""
    mean_abs_contribution: float | None = None


class GlobalExplanation(BaseModel):
    """Which features the model relies on, by one named method."""

    model_config = ConfigDict(frozen=True)

    method: Method
    source: str
    """Where the numbers come from: `linear`, `tree` (exact TreeSHAP), `surrogate`, `holdout`."""
    measure: str
    rows: int
    """Rows the figures were computed on (training sample, or holdout for permutation)."""
    features: tuple[FeatureImportance, ...]
    """Largest importance first."""
    fidelity_r2: float | None = None
    """Surrogate only: how much of the model's log-odds the contributions reproduce."""


def global_importance(
    pipeline: Pipeline,
    spec: UseCaseSpec,
    training: pl.DataFrame,
    holdout: pl.DataFrame,
    *,
    reasons: ReasonCodes | None = None,
    max_rows: int = 20_000,
    repeats: int = 5,
    seed: int = 0,
) -> GlobalExplanation:
    """The global explanation of `pipeline` (fitted on `training`; `holdout` has `label`).

    `reasons`: the version's reason codes (the serving bundle's); fitted here when absent.
    At most `max_rows` rows (a seeded sample) are used.
    """
    train = training.sample(max_rows, seed=seed) if training.height > max_rows else training
    if reasons is None:
        try:
            reasons = ReasonCodes.fit(pipeline, train, spec, seed=seed)
        except Exception:  # a preprocessing the reason codes cannot read
            reasons = None
    model = pipeline[-1]
    if reasons is not None and (reasons.method != "surrogate" or _is_tree(model)):
        matrix = encode(pipeline, train, spec, None)
        values = reasons.contributions(matrix, model)
        return _from_contributions(reasons, values, train.height)
    return permutation(pipeline, spec, holdout, max_rows=max_rows, repeats=repeats, seed=seed)


def _is_tree(model: object) -> bool:
    return any(part in type(model).__name__ for part in _TREE_ESTIMATORS)


def _from_contributions(reasons: ReasonCodes, values: np.ndarray, rows: int) -> GlobalExplanation:
    spread = values.std(axis=0) if rows else np.zeros(len(reasons.features))
    mean_abs = np.abs(values).mean(axis=0) if rows else np.zeros(len(reasons.features))
    coefficients = None
    if reasons.method == "linear" and reasons.weights is not None:
        coefficients = reasons.weights.sum(axis=0)
    method: Method = "coefficients" if coefficients is not None else "mean_abs_contribution"
    ranking = spread if coefficients is not None else mean_abs
    widths = np.bincount(reasons.owner, minlength=len(reasons.features))
    features = [
        FeatureImportance(
            feature=name,
            importance=float(ranking[j]),
            coefficient=None if coefficients is None else float(coefficients[j]),
            spread=float(spread[j]),
            mean_abs_contribution=float(mean_abs[j]),
            columns=int(widths[j]),
        )
        for j, name in enumerate(reasons.features)
    ]
    return GlobalExplanation(
        method=method,
        source=reasons.method,
        measure=_MEASURES[method],
        rows=rows,
        features=_ranked(features),
        fidelity_r2=reasons.fidelity.r2 if reasons.method == "surrogate" else None,
    )


def permutation(
    pipeline: Pipeline,
    spec: UseCaseSpec,
    holdout: pl.DataFrame,
    *,
    max_rows: int = 20_000,
    repeats: int = 5,
    seed: int = 0,
) -> GlobalExplanation:
    """Permutation importance on the holdout (AUC drop per spec feature, seeded)."""
    from sklearn.inspection import permutation_importance

    rows = holdout.sample(max_rows, seed=seed) if holdout.height > max_rows else holdout
    frame = model_input_frame(rows, spec)
    labels = rows.get_column(LABEL).to_numpy()
    if len(np.unique(labels)) < 2:
        raise ValueError("permutation importance needs both classes in the holdout")
    result = permutation_importance(
        pipeline, frame, labels, scoring="roc_auc", n_repeats=repeats, random_state=seed
    )
    features = [
        FeatureImportance(feature=str(name), importance=float(result.importances_mean[j]))
        for j, name in enumerate(frame.columns)
    ]
    return GlobalExplanation(
        method="permutation",
        source="holdout",
        measure=_MEASURES["permutation"],
        rows=rows.height,
        features=_ranked(features),
    )


def _ranked(features: list[FeatureImportance]) -> tuple[FeatureImportance, ...]:
    """Largest importance first; the spec's order on ties."""
    order = sorted(range(len(features)), key=lambda j: (-features[j].importance, j))
    return tuple(features[j] for j in order)


def global_explanation_lines(record: GlobalExplanation, *, top: int = 15) -> list[str]:
    """The record as markdown (card, evaluation report): the method, then the top features."""
    lines = [
        f"Method: {code(record.method)} ({record.measure}), on {record.rows:,} rows"
        + (f" (reason codes: {code(record.source)})" if record.method != "permutation" else "")
        + ".",
    ]
    if record.fidelity_r2 is not None:
        lines[0] += (
            f" The contributions come from an additive surrogate of the model "
            f"(fidelity R² {number(record.fidelity_r2, 3)})."
        )
    lines.append("")
    shown = record.features[:top]
    if record.method == "coefficients":
        header = [
            "rank",
            "feature",
            "contribution spread",
            "coefficient",
            "encoded columns",
            "mean abs contribution",
        ]
        rows = [
            [
                i,
                f.feature,
                number(f.importance),
                # A one-hot or banded feature has one coefficient per column; their sum says
                # nothing (with an L2 penalty it is the same for every such feature).
                number(f.coefficient) if f.columns == 1 else "per column",
                f.columns,
                number(f.mean_abs_contribution),
            ]
            for i, f in enumerate(shown, 1)
        ]
        lines += table(header, rows, align="rlrrrr")
    elif record.method == "mean_abs_contribution":
        header = ["rank", "feature", "mean abs contribution", "contribution spread"]
        rows = [
            [i, f.feature, number(f.importance), number(f.spread)] for i, f in enumerate(shown, 1)
        ]
        lines += table(header, rows, align="rlrr")
    else:
        header = ["rank", "feature", "AUC drop"]
        rows = [[i, f.feature, number(f.importance)] for i, f in enumerate(shown, 1)]
        lines += table(header, rows, align="rlr")
    if len(record.features) > top:
        lines += ["", Markdown(f"_{len(record.features) - top} more features not shown_")]
    return lines
