"""Synthetic credit applications: same schema as the source, valid, and calibrated on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from modelops.ml.validation import validate_batch
from modelops.simulation.synthetic import SyntheticApplications, write_synthetic_source
from modelops.spec import UseCaseSpec, load_spec
from support import GERMAN_DATA, GERMAN_SPEC

SPEC_PATH = GERMAN_SPEC
REAL_PATH = GERMAN_DATA
TARGET = "creditability"
DURATION, AMOUNT = "duration_in_month", "credit_amount"


@pytest.fixture(scope="module")
def spec() -> UseCaseSpec:
    return load_spec(SPEC_PATH)


@pytest.fixture(scope="module")
def real() -> pl.DataFrame:
    return pl.read_csv(REAL_PATH)


@pytest.fixture(scope="module")
def generator(real: pl.DataFrame, spec: UseCaseSpec) -> SyntheticApplications:
    return SyntheticApplications.fit(real, spec)


@pytest.fixture(scope="module")
def synthetic(generator: SyntheticApplications) -> pl.DataFrame:
    return generator.sample(50_000, seed=7)


def _spec_with_date_column() -> UseCaseSpec:
    raw = yaml.safe_load(SPEC_PATH.read_text())
    raw["schema"]["columns"].append({"name": "application_date", "type": "date"})
    raw["schema"]["date_column"] = "application_date"
    return UseCaseSpec.model_validate(raw)


def _category_columns(real: pl.DataFrame) -> list[str]:
    return [h for h, dtype in real.schema.items() if dtype == pl.String and h != TARGET]


def _integer_columns(real: pl.DataFrame) -> list[str]:
    return [h for h, dtype in real.schema.items() if dtype.is_integer()]


def test_shape_and_dtypes_match_the_source(synthetic: pl.DataFrame, real: pl.DataFrame) -> None:
    assert synthetic.height == 50_000
    assert synthetic.schema == real.schema


def test_every_value_passes_the_spec(synthetic: pl.DataFrame, spec: UseCaseSpec) -> None:
    for column in spec.data_schema.columns:
        values = synthetic[column.header]
        assert values.null_count() == 0, column.header
        if column.allowed is not None:
            assert set(values.unique().to_list()) <= set(column.allowed), column.header
        if column.min is not None:
            assert values.min() >= column.min, column.header
        if column.max is not None:
            assert values.max() <= column.max, column.header


def test_the_platform_validation_quarantines_no_synthetic_row(
    synthetic: pl.DataFrame, spec: UseCaseSpec
) -> None:
    outcome = validate_batch(synthetic, spec)
    assert outcome.quarantined.height == 0
    assert outcome.valid.height == synthetic.height


def test_bad_rate_matches_the_real_prior(synthetic: pl.DataFrame, real: pl.DataFrame) -> None:
    real_rate = (real[TARGET] == "bad").mean()
    assert abs((synthetic[TARGET] == "bad").mean() - real_rate) < 0.02


@pytest.mark.parametrize("label", ["good", "bad"])
def test_class_conditional_marginals_match(
    synthetic: pl.DataFrame, real: pl.DataFrame, label: str
) -> None:
    real_class = real.filter(pl.col(TARGET) == label)
    synthetic_class = synthetic.filter(pl.col(TARGET) == label)
    for header in _category_columns(real):
        expected = real_class[header].value_counts(normalize=True)
        observed = synthetic_class[header].value_counts(normalize=True)
        joined = expected.join(observed, on=header, how="full", coalesce=True).fill_null(0)
        distance = 0.5 * (joined["proportion"] - joined["proportion_right"]).abs().sum()
        assert distance < 0.05, (header, distance)
    # Integers: Kolmogorov-Smirnov distance between the real and synthetic distributions.
    for header in _integer_columns(real):
        a, b = real_class[header].to_numpy(), synthetic_class[header].to_numpy()
        grid = np.union1d(a, b)
        cdf_a = np.searchsorted(np.sort(a), grid, side="right") / len(a)
        cdf_b = np.searchsorted(np.sort(b), grid, side="right") / len(b)
        assert np.abs(cdf_a - cdf_b).max() < 0.05, header


def test_duration_amount_correlation_is_preserved(
    synthetic: pl.DataFrame, real: pl.DataFrame
) -> None:
    def spearman(frame: pl.DataFrame) -> float:
        return frame.select(pl.corr(DURATION, AMOUNT, method="spearman")).item()

    assert spearman(real) > 0.5
    assert abs(spearman(synthetic) - spearman(real)) < 0.1


def test_sampling_is_deterministic_for_a_seed(generator: SyntheticApplications) -> None:
    first = generator.sample(3_000, seed=11)
    assert first.equals(generator.sample(3_000, seed=11))
    assert not first.equals(generator.sample(3_000, seed=12))


def test_batches_add_up_to_the_sample(generator: SyntheticApplications) -> None:
    batches = list(generator.iter_batches(2_500, seed=3, batch_rows=1_000))
    assert [b.height for b in batches] == [1_000, 1_000, 500]
    assert generator.sample(0, seed=3).schema == batches[0].schema


def test_a_model_trained_on_synthetic_rows_ranks_real_rows(
    generator: SyntheticApplications, real: pl.DataFrame
) -> None:
    """The calibration evidence: what a scorecard learns from synthetic data holds on real data."""
    categories, integers = _category_columns(real), _integer_columns(real)
    model = make_pipeline(
        ColumnTransformer(
            [
                ("categories", OneHotEncoder(handle_unknown="ignore"), categories),
                ("integers", StandardScaler(), integers),
            ]
        ),
        LogisticRegression(C=0.3, max_iter=2000),
    )
    train = generator.sample(20_000, seed=5).to_pandas()
    model.fit(train.drop(columns=TARGET), train[TARGET] == "bad")
    scores = model.predict_proba(real.drop(TARGET).to_pandas())[:, 1]
    assert roc_auc_score(real[TARGET].to_numpy() == "bad", scores) > 0.65


def test_a_declared_date_column_missing_from_the_data_is_skipped(real: pl.DataFrame) -> None:
    spec = _spec_with_date_column()
    synthetic = SyntheticApplications.fit(real, spec).sample(100, seed=0)
    assert synthetic.columns == real.columns


def test_a_date_column_is_drawn_across_its_real_range(real: pl.DataFrame) -> None:
    spec = _spec_with_date_column()
    dates = pl.date_range(pl.date(2024, 1, 1), pl.date(2026, 9, 26), eager=True)
    dated = real.with_columns(application_date=dates)
    synthetic = SyntheticApplications.fit(dated, spec).sample(20_000, seed=0)
    assert synthetic.schema == dated.schema
    dates = synthetic["application_date"]
    assert dates.min() >= dated["application_date"].min()
    assert dates.max() <= dated["application_date"].max()
    # Uniform: each half of the range gets about half the rows.
    middle = dated["application_date"].to_physical().mean()
    assert abs((dates.to_physical() < middle).mean() - 0.5) < 0.02


def test_nulls_of_a_nullable_column_are_reproduced(real: pl.DataFrame) -> None:
    raw = yaml.safe_load(SPEC_PATH.read_text())
    for column in raw["schema"]["columns"]:
        if column["name"] in ("age_years", "telephone"):
            column["nullable"] = True
    spec = UseCaseSpec.model_validate(raw)
    every_fifth = pl.int_range(pl.len()) % 5 == 0
    holed = real.with_columns(
        pl.when(every_fifth).then(None).otherwise(pl.col(c)).alias(c)
        for c in ("age_in_years", "telephone")
    )
    synthetic = SyntheticApplications.fit(holed, spec).sample(20_000, seed=0)
    assert synthetic.schema == holed.schema
    for header in ("age_in_years", "telephone"):
        assert abs(synthetic[header].null_count() / synthetic.height - 0.2) < 0.02


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_write_synthetic_source(tmp_path: Path, spec: UseCaseSpec, suffix: str) -> None:
    out = write_synthetic_source(REAL_PATH, spec, 2_000, tmp_path / f"credit{suffix}", seed=1)
    written = pl.read_parquet(out) if suffix == ".parquet" else pl.read_csv(out)
    expected = SyntheticApplications.fit(pl.read_csv(REAL_PATH), spec).sample(2_000, seed=1)
    assert written.equals(expected)
