"""A bundle whose drift reference is recent production: a shift the model was trained to
cover stops breaching, while the same months still breach against the training data."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from modelops.ml.monthly_drift import measure_month_drift
from modelops.ml.serving_bundle import ServingBundle
from modelops.ml.training import predict_scores
from modelops.spec import UseCaseSpec


def shifted(frame: pl.DataFrame) -> pl.DataFrame:
    """A persistent population shift of valid values: longer, larger loans."""
    return frame.with_columns(
        (pl.col("duration_months") + 18).cast(frame.schema["duration_months"]),
        (pl.col("credit_amount") * 2.5).cast(frame.schema["credit_amount"]),
        (pl.col("monthly_installment") * 2.5).cast(frame.schema["monthly_installment"]),
    )


@pytest.fixture(scope="module")
def bundles(german_spec, german_split, fitted) -> tuple[ServingBundle, ServingBundle]:
    """The same model with its training data as reference, and with shifted production months."""
    train, holdout = german_split
    common = dict(
        model_version="2",
        pipeline=fitted["standard"],
        training=train,
        holdout=holdout,
        model_sha256="ab" * 32,
    )
    on_training = ServingBundle.build(german_spec, **common)
    recent = shifted(train)
    on_production = ServingBundle.build(
        german_spec, **common, reference=recent, reference_months=("2025-06", "2025-07")
    )
    return on_training, on_production


def month(bundle: ServingBundle, spec: UseCaseSpec, frame: pl.DataFrame):
    scores = pl.Series(predict_scores(bundle.pipeline, frame, spec))
    return measure_month_drift(bundle, frame.select(spec.model_inputs), scores, spec, "2025-08")


def test_a_learnt_shift_breaches_the_training_reference_but_not_the_production_one(
    german_spec, german_split, bundles
):
    on_training, on_production = bundles
    _, holdout = german_split
    later = shifted(holdout)  # a later month of the same shifted population
    assert month(on_training, german_spec, later).summary.breach
    settled = month(on_production, german_spec, later).summary
    assert not settled.breach, settled
    # ...and it is not blind: the old population now breaches against the new reference.
    assert month(on_production, german_spec, holdout).summary.breach


def test_the_reference_sample_and_scores_come_from_the_production_months(
    german_spec, german_split, bundles
):
    on_training, on_production = bundles
    train, _ = german_split
    assert on_production.manifest.drift_reference_months == ("2025-06", "2025-07")
    assert on_training.manifest.drift_reference_months == ()
    assert on_production.reference_sample["credit_amount"].mean() == pytest.approx(
        shifted(train)["credit_amount"].mean()
    )
    expected = predict_scores(on_production.pipeline, on_production.reference_sample, german_spec)
    assert np.allclose(on_production.reference_scores(german_spec), expected)
    assert np.array_equal(on_training.reference_scores(german_spec), on_training.holdout_scores)


def test_the_production_months_survive_writing_and_loading(bundles):
    _, on_production = bundles
    files = on_production.to_files()
    loaded = ServingBundle.from_files(
        files.__getitem__, expected_sha256=ServingBundle.digest_of(files)
    )
    assert loaded.manifest.drift_reference_months == ("2025-06", "2025-07")
