"""The real German credit data as the ML tests use it: one fitted pipeline per preprocessing
family of the shared training split (tests/unit/conftest.py), with its reason codes, and the
outlier model.

Built once per session: polars frames are immutable and no test refits these pipelines in
place.
"""

from __future__ import annotations

import polars as pl
import pytest
from sklearn.pipeline import Pipeline

from modelops.ml.scoring import OutlierModel, ReasonCodes
from modelops.ml.training import fit_model
from modelops.spec import ModelSpec, UseCaseSpec

# The German credit spec's own model (a logistic scorecard), the same estimator with imputation
# and scaling, and the gradient-boosting alternative documented in assets/german_credit.yaml:
# one per preprocessing family.
MODEL_FAMILIES = {
    "scorecard": ModelSpec(
        estimator="sklearn.linear_model.LogisticRegression",
        params={"C": 0.3, "max_iter": 2000},
        preprocessing="scorecard",
        scorecard_bins=6,
    ),
    "standard": ModelSpec(
        estimator="sklearn.linear_model.LogisticRegression",
        params={"C": 0.3, "max_iter": 2000},
        preprocessing="standard",
    ),
    "native": ModelSpec(
        estimator="sklearn.ensemble.HistGradientBoostingClassifier",
        params={"max_iter": 200, "learning_rate": 0.05, "max_leaf_nodes": 15, "random_state": 0},
        preprocessing="native",
    ),
}


@pytest.fixture(params=list(MODEL_FAMILIES))
def family(request: pytest.FixtureRequest) -> str:
    """Each preprocessing family in turn (a test parametrizes `family` itself for a subset)."""
    return request.param


@pytest.fixture(scope="session")
def model_families() -> dict[str, ModelSpec]:
    return MODEL_FAMILIES


@pytest.fixture(scope="session")
def fitted(
    german_split: tuple[pl.DataFrame, pl.DataFrame], german_spec: UseCaseSpec
) -> dict[str, Pipeline]:
    """One pipeline per family, fitted on the training split."""
    train, _ = german_split
    return {name: fit_model(train, german_spec, model) for name, model in MODEL_FAMILIES.items()}


@pytest.fixture(scope="session")
def reasons(
    fitted: dict[str, Pipeline],
    german_split: tuple[pl.DataFrame, pl.DataFrame],
    german_spec: UseCaseSpec,
) -> dict[str, ReasonCodes]:
    """Each family's reason codes, fitted on the training split."""
    train, _ = german_split
    return {name: ReasonCodes.fit(p, train, german_spec) for name, p in fitted.items()}


@pytest.fixture(scope="session")
def outliers(
    german_split: tuple[pl.DataFrame, pl.DataFrame], german_spec: UseCaseSpec
) -> OutlierModel:
    """The outlier model of the training split."""
    return OutlierModel.fit(german_split[0], german_spec)
