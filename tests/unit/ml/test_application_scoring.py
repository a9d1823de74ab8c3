"""The scoring core: one application at a time gives the batch door's answers, and no
application, however malformed, makes it raise."""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime

import polars as pl
import pytest

from modelops.ml.features import build_features
from modelops.ml.scoring.application_fields import ApplicationReader
from modelops.ml.scoring.applications import ApplicationScorer
from modelops.ml.serving_bundle import ServingBundle
from modelops.spec.columns import ROW_ID

NOW = datetime(2026, 1, 31, tzinfo=UTC)


@pytest.fixture(scope="module", params=["scorecard", "standard", "native"])
def scorer(request, german_spec, german_split, fitted) -> ApplicationScorer:
    train, holdout = german_split
    bundle = ServingBundle.build(
        german_spec,
        model_version="7",
        pipeline=fitted[request.param],
        training=train,
        holdout=holdout,
        model_sha256="cd" * 32,
    )
    return ApplicationScorer(bundle, german_spec)


@pytest.fixture(scope="module")
def applications(german_valid, german_spec) -> list[dict]:
    """The German credit rows as an application sends them: spec names, plain values."""
    rows = german_valid.drop(ROW_ID, german_spec.target.column).head(300)
    return [
        {k: (str(v) if isinstance(v, str) else v) for k, v in r.items()}
        for r in rows.with_columns(pl.col(pl.Enum).cast(pl.String)).to_dicts()
    ]


def test_the_row_engine_is_verified_for_every_preprocessing_family(scorer):
    assert scorer.row_engine_verified


def test_one_application_at_a_time_gives_the_batch_doors_answers(
    scorer, applications, german_valid, german_spec
):
    features = build_features(german_valid.head(300), german_spec, with_label=False)
    batch = scorer.score_table(features, scored_at=NOW)
    singles = [scorer.answer([a])[0] for a in applications[:60]]
    listed = scorer.answer(applications)
    for i, answer in enumerate(listed):
        row = batch.row(i, named=True)
        assert answer.fallback_reason is None
        assert answer.model_version == "7"
        assert math.isclose(answer.probability, row["score"], abs_tol=1e-12)
        assert answer.decision == row["decision"]
        expected = [row[f"reason_{k}"] for k in (1, 2, 3) if row[f"reason_{k}"] is not None]
        assert [r.feature for r in answer.reasons] == expected
        pushes = [row[f"reason_{k}_contribution"] for k in range(1, len(expected) + 1)]
        for reason, push in zip(answer.reasons, pushes, strict=True):
            assert math.isclose(reason.contribution, push, abs_tol=1e-9)
        assert all(r.contribution > 0 for r in answer.reasons)
        assert math.isclose(answer.outlier_score, row["outlier_score"], abs_tol=1e-12)
        if i < len(singles):  # alone or in a list: the same answer (to BLAS rounding)
            assert math.isclose(singles[i].probability, answer.probability, abs_tol=1e-12)
            assert singles[i].decision == answer.decision
            assert [r.feature for r in singles[i].reasons] == [r.feature for r in answer.reasons]


def test_the_decision_follows_the_operating_threshold(scorer, applications):
    for answer in scorer.answer(applications):
        assert answer.decision == ("refer" if answer.probability >= scorer.threshold else "accept")


def test_a_value_outside_the_contract_is_answered_with_the_fallback_and_the_field(
    scorer, applications
):
    bad = {**applications[0], "duration_months": 500, "purpose": "yacht"}
    good, refused = scorer.answer([applications[1], bad])
    assert good.fallback_reason is None
    assert refused.decision == "refer"
    assert refused.probability is None
    assert refused.model_version == "7"
    assert refused.fallback_reason.startswith("input failed validation: ")
    assert "duration_months: 500 above the maximum 120" in refused.fallback_reason
    assert "purpose: 'yacht' not allowed" in refused.fallback_reason


def test_the_application_id_is_carried(scorer, applications):
    answer = scorer.answer([{**applications[0], "application_id": "A-17"}])[0]
    assert answer.application_id == "A-17"
    assert answer.fallback_reason is None


def test_shape_problems_are_told_apart_from_value_problems(german_spec, applications):
    reader = ApplicationReader(german_spec)
    record = dict(applications[0])
    del record["housing"]
    record.update(
        {"surprise": 1, "credit_amount": "1000", "duration_months": 1.5, "existing_credits": True}
    )
    record["job"] = None
    read = reader.read(record)
    kinds = {p.field: p.kind for p in read.problems}
    assert kinds == {
        "surprise": "unknown",
        "housing": "missing",
        "credit_amount": "type",
        "duration_months": "type",
        "existing_credits": "type",
        "job": "value",
    }
    assert {p.field for p in read.shape_problems} == set(kinds) - {"job"}
    assert reader.read(applications[0]).problems == ()
    assert reader.read({**applications[0], "duration_months": 12.0}).values["duration_months"] == 12


@pytest.mark.parametrize(
    "hostile",
    [
        {"credit_amount": {"$gt": 1}},
        {"credit_amount": [1, 2]},
        {"credit_amount": float("nan")},
        {"credit_amount": float("inf")},
        {"credit_amount": 10**30},
        {"purpose": "x" * 100_000},
        {"purpose": "\u0000<script>"},
        {"x" * 10_000: 1},
        {"age_years": -(10**20)},
    ],
)
def test_no_application_makes_the_core_raise(scorer, applications, hostile):
    answer = scorer.answer([{**applications[0], **hostile}])[0]
    assert answer.decision == "refer"
    assert answer.fallback_reason.startswith("input failed validation")
    assert len(answer.fallback_reason) < 1_000


def test_without_a_verified_row_engine_the_batch_path_gives_the_same_answers(scorer, applications):
    """The fallback path (`score_table` on the rows) answers as the row engine does."""
    unverified = copy.copy(scorer)
    unverified.row_engine_verified = False
    for fast, slow in zip(scorer.answer(applications[:40]), unverified.answer(applications[:40]),
                          strict=True):  # fmt: skip
        assert math.isclose(fast.probability, slow.probability, abs_tol=1e-12)
        assert fast.decision == slow.decision
        assert [r.feature for r in fast.reasons] == [r.feature for r in slow.reasons]
        for a, b in zip(fast.reasons, slow.reasons, strict=True):
            assert math.isclose(a.contribution, b.contribution, abs_tol=1e-9)
        assert math.isclose(fast.outlier_score, slow.outlier_score, abs_tol=1e-12)
