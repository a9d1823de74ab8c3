"""Exact reason codes of LightGBM and XGBoost models: the boosters' own TreeSHAP values.

Each framework splits a row's raw margin (log-odds for a binary logistic objective) into one
value per encoded column plus a bias, exactly: their sum is the margin. Summed back to the
spec's features (`owner`), these are the reason codes; nothing is approximated, so nothing
needs to be stored but the model itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from modelops.ml.scoring.errors import ScoringError
from modelops.ml.tree_families import LIGHTGBM, XGBOOST, model_family

Matrix = np.ndarray | sparse.spmatrix


def supports(model: Any) -> bool:
    """Whether `model` (the pipeline's last step) has exact tree contributions."""
    return model_family(model) in (LIGHTGBM, XGBOOST)


def encoded_contributions(model: Any, matrix: Matrix) -> np.ndarray:
    """Rows × (encoded columns + 1): each column's SHAP value, the bias last (log-odds)."""
    dense = matrix.toarray() if sparse.issparse(matrix) else np.asarray(matrix)
    dense = np.asarray(dense, dtype=np.float64)
    family = model_family(model)
    if family == LIGHTGBM:
        values = model.booster_.predict(dense, raw_score=True, pred_contrib=True)
    elif family == XGBOOST:
        import xgboost as xgb

        booster = model.get_booster()
        data = xgb.DMatrix(
            dense,
            missing=model.missing if model.missing is not None else np.nan,
            feature_names=booster.feature_names,
            feature_types=booster.feature_types,
            enable_categorical=bool(model.enable_categorical),
        )
        values = booster.predict(data, pred_contribs=True, validate_features=False)
    else:
        raise TypeError(f"{type(model).__name__} has no exact tree contributions")
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape != (dense.shape[0], dense.shape[1] + 1):
        raise ValueError(
            f"tree contributions of shape {values.shape} for {dense.shape} inputs: only a "
            "binary classifier has one contribution per column"
        )
    return values


def raw_margin(model: Any, matrix: Matrix) -> np.ndarray:
    """The model's raw score (log-odds) from its ordinary prediction path: what the
    contributions must add up to (measured against it, not assumed)."""
    dense = matrix.toarray() if sparse.issparse(matrix) else np.asarray(matrix)
    if model_family(model) == LIGHTGBM:
        return np.asarray(model.predict(dense, raw_score=True), dtype=np.float64)
    return np.asarray(model.predict(dense, output_margin=True), dtype=np.float64)


def feature_contributions(
    model: Any, matrix: Matrix, owner: np.ndarray, n_features: int
) -> tuple[np.ndarray, np.ndarray]:
    """(rows × features contributions, per-row bias): the encoded columns' SHAP values summed
    into the features that own them."""
    values = encoded_contributions(model, matrix)
    columns, bias = values[:, :-1], values[:, -1]
    if columns.shape[1] != owner.size:
        raise ValueError(f"{columns.shape[1]} encoded columns, {owner.size} owners")
    membership = np.zeros((owner.size, n_features))
    membership[np.arange(owner.size), owner] = 1.0
    return columns @ membership, bias


def centred(model: Any, matrix: Matrix, owner: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Rows × features contributions minus their training means `offsets` (the reason codes)."""
    if model is None:
        raise ScoringError("tree reason codes need the model to compute contributions")
    summed, _ = feature_contributions(model, matrix, owner, offsets.size)
    return summed - offsets


def exact_fit(
    model: Any, matrix: Matrix, proba: np.ndarray, owner: np.ndarray, n_features: int
) -> tuple[np.ndarray, float, np.ndarray] | None:
    """(per-feature training means, baseline, raw margin) of the tree reason codes on the
    training rows `matrix`; None for a model without exact contributions, or whose
    probability `proba` is not the logistic of its raw margin (not a binary logistic
    objective). Contributions are centred on these means, as the linear ones are: a push is
    relative to the average training application, and baseline + pushes = the margin."""
    if not supports(model):
        return None
    from scipy.special import expit

    margin = raw_margin(model, matrix)
    # XGBoost predicts in float32: a looser tolerance than the linear check's, still far
    # below what another link (a sigmoid scale, a non-logistic objective) would give.
    if not np.allclose(expit(margin), proba, rtol=1e-6, atol=1e-7):
        return None
    summed, bias = feature_contributions(model, matrix, owner, n_features)
    offsets = summed.mean(axis=0)
    return offsets, float(bias.mean()) + float(offsets.sum()), margin
