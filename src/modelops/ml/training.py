"""Training: a scikit-learn pipeline built from the spec, fitted on the training set.

The pipeline owns its preprocessing, so the registered model takes the feature table's columns
as they are and can be scored anywhere MLflow's sklearn flavour loads.
"""

from __future__ import annotations

import importlib
import inspect
import warnings
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from sklearn.base import ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import KBinsDiscretizer, OneHotEncoder, OrdinalEncoder, StandardScaler

from modelops.ml.missing_policy import with_missing_policy
from modelops.ml.scorecard.pipeline import woe_pipeline
from modelops.ml.tree_families import CATEGORICAL_PARAM_WARNING, mark_categoricals
from modelops.spec import EstimatorSpec, ModelSpec, Preprocessing, UseCaseSpec
from modelops.spec.columns import LABEL
from modelops.spec.missing import MissingPolicy
from modelops.spec.modelling import ScorecardSpec


class EstimatorError(ValueError):
    """The spec names an estimator that cannot be built: not allowed, not a classifier,
    missing class, bad parameters. `field` is the spec field at fault (estimator or params)."""

    def __init__(self, message: str, field: str = "estimator") -> None:
        super().__init__(message)
        self.field = field


def resolve_estimator(spec: EstimatorSpec) -> ClassifierMixin:
    """The classifier the spec names, built with its parameters and checked, with a clear
    error if it can't be.

    The estimator policy that allowed the spec when it loaded is checked again first, so
    nothing outside it is imported, and nothing is instantiated before the class is known to
    be a probabilistic classifier and every parameter name is accepted.
    """
    refusal = spec.policy.refusal(spec.estimator)
    if refusal is not None:
        raise EstimatorError(refusal)
    cls = _classifier_class(spec.estimator)
    parameters = inspect.signature(cls).parameters.values()
    accepted = {p.name for p in parameters if p.kind is not p.VAR_KEYWORD}
    # A class taking **kwargs (LightGBM, XGBoost) passes them to its booster, which names them.
    open_ended = any(p.kind is p.VAR_KEYWORD for p in parameters)
    unknown = [] if open_ended else sorted(set(spec.params) - accepted)
    if unknown:
        raise EstimatorError(
            f"estimator '{spec.estimator}' does not take parameter(s) {unknown}; "
            f"it takes {sorted(accepted)}",
            "params",
        )
    try:
        estimator = cls(**spec.params)
        if hasattr(estimator, "_parameter_constraints"):
            # scikit-learn checks values only at fit(); check them now, with the spec's name.
            estimator._validate_params()
    except (TypeError, ValueError) as exc:
        raise EstimatorError(f"estimator '{spec.estimator}': {exc}", "params") from exc
    if not hasattr(estimator, "predict_proba"):
        raise EstimatorError(
            f"estimator '{spec.estimator}' has no predict_proba with these parameters; "
            "a score is needed",
            "params",
        )
    return estimator


def _classifier_class(import_path: str) -> type:
    """The class at an allowed import path, if it is a classifier with predict_proba."""
    module_name, _, class_name = import_path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise EstimatorError(f"estimator '{import_path}': cannot import '{module_name}'") from exc
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        raise EstimatorError(
            f"estimator '{import_path}': '{module_name}' has no class '{class_name}'"
        )
    if not (
        issubclass(cls, ClassifierMixin) or getattr(cls, "_estimator_type", None) == "classifier"
    ):
        raise EstimatorError(
            f"estimator '{import_path}' is not a classifier; the platform scores a binary "
            "target with a classifier's predict_proba"
        )
    if not hasattr(cls, "predict_proba"):
        raise EstimatorError(f"estimator '{import_path}' has no predict_proba; a score is needed")
    return cls


def estimator_problems(spec: UseCaseSpec) -> list[tuple[str, str]]:
    """What training would refuse about the model and the baseline, found without fitting
    (`modelops validate`): (spec field, reason) pairs."""
    problems: list[tuple[str, str]] = []
    checked = [("evaluation.baseline", spec.evaluation.baseline)]
    if not spec.model.runtime.outside:  # else the params are the script's, not an estimator's
        checked.insert(0, ("model", spec.model))
    for section, estimator in checked:
        try:
            resolve_estimator(estimator)
        except EstimatorError as exc:
            problems.append((f"{section}.{exc.field}", str(exc)))
    return problems


def build_pipeline(
    estimator_spec: EstimatorSpec,
    preprocessing: Preprocessing,
    numeric: list[str],
    categorical: list[str],
    *,
    scorecard_bins: int = 8,
    scorecard: ScorecardSpec | None = None,
    missing: MissingPolicy | None = None,
) -> Pipeline:
    """Preprocessing for the estimator family, then the estimator."""
    estimator = resolve_estimator(estimator_spec)
    if preprocessing == "native":
        numeric_steps: Any = "passthrough"
        categorical_steps: Any = OrdinalEncoder(
            handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan
        )
        if "categorical_features" in estimator.get_params() and categorical:
            mask = [False] * len(numeric) + [True] * len(categorical)
            if "categorical_features" not in estimator_spec.params:
                estimator.set_params(categorical_features=mask)
        mark_categoricals(estimator, estimator_spec.params, len(numeric), len(categorical))
    elif preprocessing == "woe":
        return woe_pipeline(estimator, numeric, categorical, scorecard)
    else:
        if preprocessing == "scorecard":
            # Quantile bands one-hot encoded: a logistic regression on them is a scorecard with
            # points per band, and outliers cannot dominate a coefficient.
            numeric_steps = Pipeline(
                [
                    ("impute", SimpleImputer(strategy="median")),
                    (
                        "band",
                        KBinsDiscretizer(
                            n_bins=scorecard_bins,
                            encode="onehot",
                            strategy="quantile",
                            quantile_method="averaged_inverted_cdf",
                        ),
                    ),
                ]
            )
        else:
            numeric_steps = Pipeline(
                [
                    ("impute", SimpleImputer(strategy="median")),
                    ("scale", StandardScaler()),
                ]
            )
        categorical_steps = OneHotEncoder(handle_unknown="ignore", min_frequency=5)
    transformers = []
    if numeric:
        transformers.append(("numeric", numeric_steps, numeric))
    if categorical:
        transformers.append(("categorical", categorical_steps, categorical))
    transformers = with_missing_policy(transformers, missing, preprocessing)
    preprocess = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
    return Pipeline([("preprocess", preprocess), ("model", estimator)])


MISSING_CATEGORY = "__missing__"


def model_input_frame(features: pl.DataFrame, spec: UseCaseSpec) -> pd.DataFrame:
    """The columns the model takes, as pandas: numbers as float64, text as pandas categoricals.

    Categoricals keep one copy of each distinct string instead of one Python object per row
    (about 60 bytes each), which is what keeps a million-row fit within memory; missing values
    become a category of their own. The fitted pipeline accepts plain strings as well.
    """
    categorical = [
        pl.col(c).cast(pl.Categorical)
        if features.schema[c] != pl.String and features.get_column(c).null_count() == 0
        else pl.col(c).cast(pl.String).fill_null(MISSING_CATEGORY).cast(pl.Categorical)
        for c in spec.categorical_features
    ]
    return features.select(
        *[pl.col(c).cast(pl.Float64) for c in spec.numeric_features], *categorical
    ).to_pandas()


def input_example(features: pl.DataFrame, spec: UseCaseSpec, rows: int = 5) -> pd.DataFrame:
    """A few rows as a caller would send them (plain strings), recorded with the model."""
    frame = model_input_frame(features.head(rows), spec)
    return frame.astype({c: object for c in spec.categorical_features})


def labels(features: pl.DataFrame) -> np.ndarray:
    return features.get_column(LABEL).to_numpy().astype(np.int8)


def fit_model(train: pl.DataFrame, spec: UseCaseSpec, model: ModelSpec | None = None) -> Pipeline:
    """Fit the spec's candidate model (or another `ModelSpec`) on the training set."""
    model = model or spec.model
    pipeline = build_pipeline(
        model,
        model.preprocessing,
        spec.numeric_features,
        spec.categorical_features,
        scorecard_bins=model.scorecard_bins,
        scorecard=model.scorecard,
        missing=spec.features.missing,
    )
    with warnings.catch_warnings():
        # Quantile bands of a column with few distinct values collapse; that is expected.
        warnings.filterwarnings("ignore", message="Bins whose width are too small")
        warnings.filterwarnings("ignore", message=CATEGORICAL_PARAM_WARNING)
        pipeline.fit(model_input_frame(train, spec), labels(train))
    return pipeline


def fit_baseline(train: pl.DataFrame, spec: UseCaseSpec) -> Pipeline:
    """The simple model every candidate must beat (a depth-3 tree on one-hot inputs by default)."""
    pipeline = build_pipeline(
        spec.evaluation.baseline, "standard", spec.numeric_features, spec.categorical_features
    )
    pipeline.fit(model_input_frame(train, spec), labels(train))
    return pipeline


SCORING_BATCH_ROWS = 200_000


def predict_scores(pipeline: Pipeline, features: pl.DataFrame, spec: UseCaseSpec) -> np.ndarray:
    """Probability of the positive class for each row of a feature table.

    Scored in slices of `SCORING_BATCH_ROWS`, so the encoded matrices of a large table never
    all exist at once (the same scores, a fraction of the peak memory).
    """
    if features.height == 0:
        return np.empty(0)
    parts = [
        pipeline.predict_proba(model_input_frame(part, spec))[:, 1]
        for part in features.iter_slices(SCORING_BATCH_ROWS)
    ]
    return np.concatenate(parts)
