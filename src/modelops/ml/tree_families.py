"""Gradient-boosting frameworks outside scikit-learn (LightGBM, XGBoost) as in-process
estimators: which family a fitted model belongs to, and how each is told that the ordinal-
encoded columns of the native preprocessing are categories.

The frameworks are an optional install (`frameworks` extra): nothing here imports them; a model
is recognised by the module its class comes from.
"""

from __future__ import annotations

from typing import Any

LIGHTGBM = "lightgbm"
XGBOOST = "xgboost"
SKLEARN = "sklearn"
TREE_FAMILIES = (LIGHTGBM, XGBOOST)
"""Families whose boosters give exact per-feature contributions (TreeSHAP)."""

CATEGORICAL_PARAM_WARNING = "categorical_feature keyword has been found in `params`"
"""LightGBM's warning when the categorical columns come as a parameter, not a fit argument: the
booster still treats them as categorical (checked in tests), so the warning is silenced."""


def model_family(model: Any) -> str:
    """`lightgbm`, `xgboost` or `sklearn` (anything else) for an estimator or a pipeline."""
    estimator = model[-1] if hasattr(model, "steps") else model
    top = type(estimator).__module__.partition(".")[0]
    return top if top in TREE_FAMILIES else SKLEARN


def mark_categoricals(
    estimator: Any, spec_params: dict[str, Any], n_numeric: int, n_categorical: int
) -> None:
    """Tell a tree family that the last `n_categorical` columns (after `n_numeric` numeric
    ones) are ordinal codes of categories, unless the spec set the parameter itself.

    Missing values stay NaN (both frameworks route them natively); a category unseen at
    training is encoded as NaN by the ordinal encoder, so it goes where missing values go.
    """
    family = model_family(estimator)
    if family == SKLEARN or n_categorical == 0:
        return
    if family == LIGHTGBM and "categorical_feature" not in spec_params:
        indices = list(range(n_numeric, n_numeric + n_categorical))
        estimator.set_params(categorical_feature=indices)
    elif family == XGBOOST and "feature_types" not in spec_params:
        estimator.set_params(
            enable_categorical=True,
            feature_types=["q"] * n_numeric + ["c"] * n_categorical,
        )
