"""The serving bundle: written once at training, loaded anywhere, refused when changed."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from polars.testing import assert_frame_equal

from modelops.ml.model_integrity import ModelIntegrityError
from modelops.ml.month_answers import answer_month
from modelops.ml.scoring import score_batch
from modelops.ml.serving_bundle import MANIFEST, PIPELINE, ServingBundle
from modelops.ml.training import predict_scores

NOW = datetime(2026, 1, 31, tzinfo=UTC)


@pytest.fixture(scope="module", params=["standard", "native"])
def built(request, german_spec, german_split, fitted) -> ServingBundle:
    """A linear model with exact reason codes, and boosting with a surrogate."""
    train, holdout = german_split
    return ServingBundle.build(
        german_spec,
        model_version="3",
        pipeline=fitted[request.param],
        training=train,
        holdout=holdout,
        model_sha256="ab" * 32,
    )


@pytest.fixture(scope="module")
def stored(built) -> dict[str, bytes]:
    return built.to_files()


def load(files: dict[str, bytes], digest: str | None = None) -> ServingBundle:
    return ServingBundle.from_files(
        files.__getitem__, expected_sha256=digest or ServingBundle.digest_of(files)
    )


def test_a_loaded_bundle_scores_exactly_like_the_objects_it_was_built_from(
    german_spec, german_split, built, stored
):
    _, holdout = german_split
    loaded = load(stored)

    def answers(bundle: ServingBundle):
        return score_batch(
            holdout,
            pipeline=bundle.pipeline,
            reasons=bundle.reasons,
            outliers=bundle.outliers,
            spec=german_spec,
            model_version=bundle.model_version,
            threshold=0.5,
            scored_at=NOW,
        )

    assert_frame_equal(answers(loaded), answers(built))
    assert np.array_equal(
        loaded.holdout_scores, predict_scores(built.pipeline, holdout, german_spec)
    )
    assert_frame_equal(loaded.reference_sample, built.reference_sample)
    assert loaded.manifest.model_version == "3"
    assert [c.name for c in loaded.manifest.inputs] == german_spec.model_inputs


def test_the_drift_reference_survives_the_round_trip(german_split, built, stored):
    _, holdout = german_split
    again = load(stored).drift_reference.compare(holdout)
    assert again.to_dict() == built.drift_reference.compare(holdout).to_dict()


def test_a_changed_file_is_refused_and_named(stored):
    tampered = dict(stored)
    tampered[PIPELINE] = stored[PIPELINE][:-1] + bytes([stored[PIPELINE][-1] ^ 1])

    with pytest.raises(ModelIntegrityError, match=r"pipeline\.skops was changed after training"):
        load(tampered, ServingBundle.digest_of(stored))


def test_a_consistently_rewritten_bundle_is_refused_by_the_recorded_digest(stored):
    """Whoever edits a file and its manifest together is caught by the digest the audit log
    recorded at training."""
    forged = dict(stored)
    forged[MANIFEST] = stored[MANIFEST].replace(b'"model_version": "3"', b'"model_version": "4"')

    with pytest.raises(ModelIntegrityError, match="was recorded at training"):
        load(forged, ServingBundle.digest_of(stored))


def test_the_month_answers_every_application_from_the_bundle(german_spec, german_split, built):
    _, holdout = german_split
    features = holdout.with_row_index("application_id")
    quarantined = (
        features.head(3)
        .select("row_id", "application_id")
        .with_columns(reasons=np.array(["credit_amount: not a number"] * 3))
    )
    answers = answer_month(
        features.slice(3), quarantined, built, german_spec, month="2026-01", scored_at=NOW
    )
    assert answers.height == holdout.height
    referred = answers.filter(answers["score"].is_null())
    assert referred.height == 3 and set(referred["decision"]) == {"refer"}
    assert set(answers["model_version"]) == {"3"}

    without = answer_month(
        features, quarantined.head(0), None, german_spec, month="2026-01", scored_at=NOW
    )
    assert set(without["decision"]) == {"refer"} and without["score"].null_count() == without.height
