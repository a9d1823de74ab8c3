"""What the unit tests share: the real German credit data validated, through feature
engineering, split into training and holdout (built once per session: polars frames are
immutable), and a throwaway MLflow store per module."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from modelops.ml.features import build_features
from modelops.ml.split import split_train_holdout
from modelops.ml.validation import ValidationOutcome, validate_batch
from modelops.resources.tracking import ModelTracking
from modelops.spec import UseCaseSpec
from support import GERMAN_DATA


@pytest.fixture(scope="session")
def german_validation(german_spec: UseCaseSpec) -> ValidationOutcome:
    raw = pl.read_csv(GERMAN_DATA, infer_schema=False)
    return validate_batch(raw, german_spec)


@pytest.fixture(scope="session")
def german_valid(german_validation: ValidationOutcome) -> pl.DataFrame:
    return german_validation.valid


@pytest.fixture(scope="session")
def german_features(german_valid: pl.DataFrame, german_spec: UseCaseSpec) -> pl.DataFrame:
    return build_features(german_valid, german_spec)


@pytest.fixture(scope="session")
def german_split(
    german_features: pl.DataFrame, german_spec: UseCaseSpec
) -> tuple[pl.DataFrame, pl.DataFrame]:
    return split_train_holdout(german_features, german_spec)


@pytest.fixture(scope="module")
def tracking(tmp_path_factory: pytest.TempPathFactory) -> ModelTracking:
    """MLflow tracking and registry on a SQLite file of the module's own."""
    root: Path = tmp_path_factory.mktemp("mlflow")
    return ModelTracking(
        tracking_uri=f"sqlite:///{root}/mlflow.db", artifact_root=(root / "artifacts").as_uri()
    )
