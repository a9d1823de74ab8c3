"""Production scoring on the real German credit data: exact reason codes for linear models, a
measured surrogate for boosting, outlier flags, the batch answer and the fallback answer."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest
from scipy import sparse
from scipy.special import logit
from scipy.stats import spearmanr
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, QuantileTransformer

from modelops.ml import training
from modelops.ml.features import build_features
from modelops.ml.scoring import (
    ACCEPT,
    REFER,
    OutlierModel,
    ReasonCodes,
    ScoringError,
    ScoringWarning,
    compiled_preprocess,
    fallback_predictions,
    prediction_schema,
    score_batch,
)
from modelops.ml.training import labels, model_input_frame, predict_scores
from modelops.ml.validation import validate_batch
from modelops.spec import Monitoring, MonthlyFiles, UseCaseSpec
from modelops.spec.columns import ROW_ID
from support import GERMAN_DATA

LINEAR = ["scorecard", "standard"]
STAMP = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
THRESHOLD = 0.5


@pytest.fixture(scope="module")
def score(fitted: dict, reasons: dict, outliers: OutlierModel, german_spec: UseCaseSpec):
    """`score(features, family, **options)`: `score_batch` with the family's fitted objects."""

    def run(features: pl.DataFrame, family: str, **options: object) -> pl.DataFrame:
        arguments = {
            "pipeline": fitted[family],
            "reasons": reasons[family],
            "outliers": outliers,
            "spec": german_spec,
            "model_version": "7",
            "threshold": THRESHOLD,
            "scored_at": STAMP,
            **options,
        }
        return score_batch(features, **arguments)

    return run


def _one_row(german_valid: pl.DataFrame, spec: UseCaseSpec, row_id: int, **changes: object):
    """A validated row with some raw values changed, through feature engineering again."""
    row = german_valid.filter(pl.col(ROW_ID) == row_id)
    row = row.with_columns(pl.lit(v).cast(row.schema[k]).alias(k) for k, v in changes.items())
    return build_features(row, spec, with_label=False)


# Reason codes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("family", LINEAR)
def test_linear_contributions_add_up_to_the_models_log_odds(
    family: str, fitted: dict, reasons: dict, german_split, german_spec: UseCaseSpec
) -> None:
    _, holdout = german_split
    codes = reasons[family]
    assert codes.method == "linear"
    assert sorted(codes.features) == sorted(german_spec.model_inputs)
    explained = codes.explain(holdout, pipeline=fitted[family], spec=german_spec)
    total = explained.drop(ROW_ID).to_numpy().sum(axis=1)
    expected = logit(predict_scores(fitted[family], holdout, german_spec))
    np.testing.assert_allclose(total, expected, rtol=0, atol=1e-8)
    # Relative to the average training application: contributions average zero on training.
    train_contrib = codes.explain(german_split[0], pipeline=fitted[family], spec=german_spec)
    means = train_contrib.select(codes.features).mean().row(0)
    np.testing.assert_allclose(means, 0, atol=1e-10)
    assert codes.fidelity.r2 == pytest.approx(1, abs=1e-12)


def test_changing_one_input_moves_only_that_features_contribution(
    family: str, fitted: dict, reasons: dict, german_valid, german_spec: UseCaseSpec
) -> None:
    """A one-hot or banded feature's columns are summed into that feature, and only it."""
    codes = reasons[family]
    row_id = 2
    base = _one_row(german_valid, german_spec, row_id, purpose="car (new)", credit_amount=1500)
    for change in ({"purpose": "radio/television"}, {"credit_amount": 9000}):
        changed = _one_row(
            german_valid,
            german_spec,
            row_id,
            **{"purpose": "car (new)", "credit_amount": 1500, **change},
        )
        before = codes.explain(base, pipeline=fitted[family], spec=german_spec).row(0, named=True)
        after = codes.explain(changed, pipeline=fitted[family], spec=german_spec).row(0, named=True)
        moved = {f for f in codes.features if before[f] != after[f]}
        (feature,) = change
        # monthly_installment is engineered from credit_amount, so it moves with it.
        allowed = {feature, "monthly_installment"} if feature == "credit_amount" else {feature}
        assert feature in moved
        assert moved <= allowed


def test_reason_codes_name_the_features_pushing_most_towards_bad(
    score, fitted: dict, reasons: dict, german_split, german_spec: UseCaseSpec
) -> None:
    _, holdout = german_split
    codes = reasons["scorecard"]
    out = score(holdout, "scorecard")
    contributions = codes.explain(holdout, pipeline=fitted["scorecard"], spec=german_spec)
    values = contributions.select(codes.features).to_numpy()
    order = np.argsort(-values, axis=1, kind="stable")
    for i in range(3):
        expected = [
            codes.features[order[r, i]] if values[r, order[r, i]] > 0 else None
            for r in range(holdout.height)
        ]
        assert out.get_column(f"reason_{i + 1}").to_list() == expected
    named = set(
        out.select(pl.concat_list("reason_1", "reason_2", "reason_3"))
        .explode("reason_1")
        .to_series()
        .drop_nulls()
        .to_list()
    )
    assert named <= set(german_spec.model_inputs)
    assert len(named) > 5  # reasons vary from application to application
    # A referred application always has a reason.
    assert out.filter(pl.col("decision") == REFER).get_column("reason_1").null_count() == 0


def test_only_features_pushing_towards_bad_are_reasons(reasons: dict) -> None:
    """A feature that lowers the risk is no reason for a referral: fewer than k can be named."""
    codes = reasons["scorecard"]
    contributions = np.zeros((3, len(codes.features)))
    contributions[0, [4, 2, 7]] = [0.5, 0.9, -2.0]
    contributions[1, :] = -0.1
    contributions[2, [0, 1]] = [0.3, 0.3]  # a tie goes to the earlier feature
    top = codes.top_reasons(contributions, 3)
    f = codes.features
    assert [s.to_list() for s in top] == [[f[2], None, f[0]], [f[4], None, f[1]], [None] * 3]


def test_a_huge_credit_amount_becomes_the_top_reason(
    family: str, score, fitted: dict, german_valid, german_split, german_spec
) -> None:
    """The holdout's safest application, with its credit amount raised to 18,000 DM."""
    _, holdout = german_split
    scores = predict_scores(fitted[family], holdout, german_spec)
    row_id = holdout.get_column(ROW_ID)[int(np.argmin(scores))]
    before = score(_one_row(german_valid, german_spec, row_id), family)
    after = score(_one_row(german_valid, german_spec, row_id, credit_amount=18_000), family)
    assert before["reason_1"][0] not in ("credit_amount", "monthly_installment")
    assert after["reason_1"][0] in ("credit_amount", "monthly_installment")
    assert after["score"][0] > before["score"][0]


def test_boosting_gets_a_surrogate_with_its_fidelity_reported(
    fitted: dict, reasons: dict, german_split, german_spec: UseCaseSpec
) -> None:
    _, holdout = german_split
    codes = reasons["native"]
    assert codes.method == "surrogate"
    # An additive surrogate cannot copy a boosted model's interactions: it is visibly
    # approximate, yet ranks applications like the model.
    assert 0.3 < codes.fidelity.r2 < 0.999
    assert codes.fidelity.spearman > 0.8
    approx = codes.explain(holdout, pipeline=fitted["native"], spec=german_spec)
    approx_logit = approx.drop(ROW_ID).to_numpy().sum(axis=1)
    model = predict_scores(fitted["native"], holdout, german_spec)
    assert spearmanr(approx_logit, model).statistic > 0.8


def test_the_surrogate_gives_no_weight_to_what_training_never_showed(
    fitted: dict, reasons: dict, german_split, german_spec: UseCaseSpec
) -> None:
    """An unseen category (or a missing value) says nothing to the surrogate: zero."""
    _, holdout = german_split
    rows = holdout.head(2).with_columns(pl.col("purpose").cast(pl.String))
    rows = rows.with_columns(
        pl.when(pl.col(ROW_ID) == rows[ROW_ID][0])
        .then(pl.lit("spaceship"))
        .otherwise("purpose")
        .alias("purpose"),
        pl.when(pl.col(ROW_ID) == rows[ROW_ID][0])
        .then(None)
        .otherwise("duration_months")
        .alias("duration_months"),
    )
    explained = reasons["native"].explain(rows, pipeline=fitted["native"], spec=german_spec)
    assert explained.get_column("purpose").to_list()[0] == 0.0
    assert explained.get_column("duration_months").to_list()[0] == 0.0
    assert explained.get_column("purpose").to_list()[1] != 0.0


def test_reason_codes_refuse_another_model(
    fitted: dict, reasons: dict, outliers, german_split, german_spec: UseCaseSpec
) -> None:
    with pytest.raises(ScoringError, match="another model"):
        score_batch(
            german_split[1],
            pipeline=fitted["standard"],
            reasons=reasons["scorecard"],
            outliers=outliers,
            spec=german_spec,
            model_version="7",
            threshold=THRESHOLD,
            scored_at=STAMP,
        )


# Outliers -------------------------------------------------------------------------------------


def test_typical_applications_are_not_flagged(outliers, german_split) -> None:
    _, holdout = german_split
    flags = outliers.score(holdout) >= outliers.threshold
    assert flags.mean() < 0.02
    assert outliers.threshold == 6.0  # the spec has no monitoring section: the default
    # An application at every numeric median, with the commonest categories, is unremarkable.
    typical = holdout.head(1).with_columns(
        [pl.lit(p.median).alias(p.feature) for p in outliers.numeric]
        + [
            pl.lit(min(c.scores, key=c.scores.get)).cast(holdout.schema[c.feature]).alias(c.feature)
            for c in outliers.categorical
        ]
    )
    assert outliers.score(typical)[0] < 2


@pytest.mark.parametrize(
    ("change", "feature"),
    [
        ({"credit_amount": 900_000}, "credit_amount"),
        ({"duration_months": 4, "credit_amount": 15_000}, "monthly_installment"),
        ({"dependents": 15}, "dependents"),
        # An allowed purpose that no training application had.
        ({"purpose": "vacation"}, "purpose"),
    ],
)
def test_an_absurd_value_or_unseen_category_is_flagged(
    change: dict, feature: str, outliers, german_valid, german_spec: UseCaseSpec
) -> None:
    row = _one_row(german_valid, german_spec, 2, **change)
    assert outliers.score(_one_row(german_valid, german_spec, 2))[0] < outliers.threshold
    assert outliers.score(row)[0] >= outliers.threshold
    per_feature = outliers.feature_scores(row).row(0, named=True)
    assert max(per_feature, key=lambda k: -1 if k == ROW_ID else per_feature[k]) == feature


@pytest.mark.parametrize("amount", [3, 1, 0, -250])
def test_a_value_far_below_the_training_range_is_flagged(
    amount: int, outliers, german_valid, german_spec: UseCaseSpec
) -> None:
    """An amount delivered in thousands is only a couple of robust SDs below the median, but
    far outside the training range in ratio; zero or a negative amount was never seen."""
    profile = next(p for p in outliers.numeric if p.feature == "credit_amount")
    assert profile.minimum > amount
    row = _one_row(german_valid, german_spec, 2, credit_amount=amount)
    per_feature = outliers.feature_scores(row).row(0, named=True)
    assert per_feature["credit_amount"] >= outliers.threshold
    assert outliers.score(row)[0] >= outliers.threshold


def test_the_answer_names_the_inputs_that_make_a_row_unusual(
    outliers, german_valid, german_spec: UseCaseSpec
) -> None:
    rows = pl.concat(
        [
            _one_row(german_valid, german_spec, 2),
            _one_row(german_valid, german_spec, 2, credit_amount=3),
            _one_row(german_valid, german_spec, 2, credit_amount=3, purpose="vacation"),
        ]
    )
    score, inputs = outliers.score_and_inputs(rows)
    assert score.to_list() == outliers.score(rows).to_list()
    assert inputs[0] is None
    assert "credit_amount" in inputs[1].split(", ") and "purpose" not in inputs[1]
    assert {"purpose", "credit_amount"} <= set(inputs[2].split(", "))


def test_inside_the_training_range_the_score_is_the_linear_one(
    outliers, german_valid, german_spec: UseCaseSpec
) -> None:
    """The log-scale view only adds to values outside the range: the training minimum itself
    and a value just below it stay unflagged."""
    profile = next(p for p in outliers.numeric if p.feature == "credit_amount")
    rows = pl.concat(
        [
            _one_row(german_valid, german_spec, 2, credit_amount=profile.minimum),
            _one_row(german_valid, german_spec, 2, credit_amount=profile.minimum * 0.9),
        ]
    )
    scores = outliers.feature_scores(rows).get_column("credit_amount").to_list()
    linear = (profile.median - profile.minimum) / profile.lower_scale
    assert scores[0] == pytest.approx(linear)
    assert scores[1] < outliers.threshold


def test_a_model_saved_before_ranges_were_kept_still_loads(
    outliers, german_valid, german_spec: UseCaseSpec
) -> None:
    """Payloads written before the training range was stored load and score as they did."""
    from modelops.ml.scoring.outliers import _Header as OutlierHeader
    from modelops.ml.scoring.payload import pack, unpack

    form = "modelops.outlier_model"
    loaded = unpack(outliers.to_bytes(), form, 1, OutlierHeader, "an outlier model")
    range_arrays = ("minimum", "maximum", "log_median", "log_lower", "log_upper")
    ranges = tuple(f"numeric_{name}" for name in range_arrays)
    assert all(name in loaded.arrays for name in ranges[:3])
    kept = {k: v for k, v in loaded.arrays.items() if not k.startswith(ranges)}
    old = OutlierModel.from_bytes(pack(form, 1, loaded.header, kept))
    row = _one_row(german_valid, german_spec, 2, credit_amount=3)
    profile = next(p for p in old.numeric if p.feature == "credit_amount")
    assert np.isnan(profile.minimum)
    expected = (profile.median - 3) / profile.lower_scale
    assert old.feature_scores(row).get_column("credit_amount")[0] == pytest.approx(expected)


def test_unseen_text_and_missing_values_are_flagged(outliers, german_split, german_spec) -> None:
    _, holdout = german_split
    rows = holdout.head(4).with_columns(pl.col("job").cast(pl.String))
    ids = rows[ROW_ID]
    rows = rows.with_columns(
        pl.when(pl.col(ROW_ID) == ids[0]).then(pl.lit("astronaut")).otherwise("job").alias("job"),
        pl.when(pl.col(ROW_ID) == ids[1])
        .then(None)
        .otherwise("credit_amount")
        .alias("credit_amount"),
        pl.when(pl.col(ROW_ID) == ids[2]).then(None).otherwise("savings").alias("savings"),
    )
    assert isinstance(rows.schema["savings"], pl.Enum)
    scores = outliers.score(rows).to_list()
    assert scores[0] == outliers.cap  # never seen in training
    assert scores[1] == outliers.cap  # training had no missing amount
    assert scores[2] == outliers.cap  # nor a missing savings category
    assert scores[3] < outliers.threshold


def test_outlier_threshold_follows_the_spec(german_split, german_spec: UseCaseSpec) -> None:
    monitoring = Monitoring(
        start_month="2026-01",
        batches=MonthlyFiles(path="data/production/{month}.parquet"),
        outlier_threshold=2.5,
    )
    spec = german_spec.model_copy(update={"monitoring": monitoring})
    model = OutlierModel.fit(german_split[0], spec)
    assert model.threshold == 2.5
    assert (model.score(german_split[1]) >= 2.5).mean() > 0.05


# Scoring a batch ------------------------------------------------------------------------------


def test_score_batch_answers_every_row_in_order_with_the_models_score(
    family: str, score, fitted: dict, german_split, german_spec
) -> None:
    _, holdout = german_split
    shuffled = holdout.sample(fraction=1.0, shuffle=True, seed=3)
    out = score(shuffled, family)
    assert out.schema == prediction_schema(3)
    assert out.get_column(ROW_ID).to_list() == shuffled.get_column(ROW_ID).to_list()
    scores = out.get_column("score").to_numpy()
    np.testing.assert_array_equal(scores, predict_scores(fitted[family], shuffled, german_spec))
    expected = np.where(scores >= THRESHOLD, REFER, ACCEPT).tolist()
    assert out.get_column("decision").to_list() == expected
    assert {ACCEPT, REFER} == set(expected)
    assert out.get_column("model_version").unique().to_list() == ["7"]
    assert out.get_column("scored_at").unique().to_list() == [STAMP]
    flags = out.get_column("outlier_flag") == (out.get_column("outlier_score") >= 6.0)
    assert flags.all()


def test_score_batch_is_deterministic_and_slicing_changes_nothing(
    family: str, score, german_split, monkeypatch
) -> None:
    _, holdout = german_split
    first = score(holdout, family)
    assert first.equals(score(holdout, family))
    # scikit-learn's own encoder gives the very same answers.
    slow = score(holdout, family, fast_transform=False)
    assert first.equals(slow)
    # Slices of 64 rows (the last one short): a dense matrix product may round the last bit
    # differently for another number of rows, nothing else changes.
    monkeypatch.setattr(training, "SCORING_BATCH_ROWS", 64)
    sliced = score(holdout, family)
    assert sliced.drop("score").equals(first.drop("score"))
    np.testing.assert_allclose(sliced["score"].to_numpy(), first["score"].to_numpy(), atol=1e-14)


def test_compiled_preprocessing_reproduces_scikit_learn(
    family: str, fitted: dict, german_split, german_spec: UseCaseSpec
) -> None:
    """The fast encoder must give scikit-learn's matrix, with missing and unseen values too."""
    _, holdout = german_split
    compiled = compiled_preprocess(fitted[family], german_spec, holdout)
    assert compiled is not None
    awkward = holdout.with_columns(pl.col(c).cast(pl.String) for c in ("purpose", "housing"))
    awkward = awkward.with_columns(
        pl.when(pl.int_range(pl.len()) % 5 == 0)
        .then(None)
        .otherwise("credit_amount")
        .alias("credit_amount"),
        pl.when(pl.int_range(pl.len()) % 7 == 0)
        .then(pl.lit("spaceship"))
        .otherwise("purpose")
        .alias("purpose"),
        pl.when(pl.int_range(pl.len()) % 4 == 0).then(None).otherwise("housing").alias("housing"),
        # A missing value in a column that stays an Enum.
        pl.when(pl.int_range(pl.len()) % 3 == 0).then(None).otherwise("savings").alias("savings"),
    )
    assert isinstance(awkward.schema["savings"], pl.Enum)
    for frame in (holdout, awkward):
        reference = fitted[family][0].transform(model_input_frame(frame, german_spec))
        mine = compiled.transform(frame)
        assert sparse.issparse(mine) == sparse.issparse(reference)
        dense = [m.toarray() if sparse.issparse(m) else m for m in (reference, mine)]
        np.testing.assert_array_equal(*dense)


def test_unsupported_preprocessing_is_scored_by_scikit_learn(
    german_split, outliers, german_spec: UseCaseSpec
) -> None:
    """A step the compiler does not know still scores, explains exactly, and warns nothing."""
    train, holdout = german_split
    preprocess = ColumnTransformer(
        [
            ("numeric", QuantileTransformer(n_quantiles=50), german_spec.numeric_features),
            (
                "categorical",
                OneHotEncoder(handle_unknown="ignore"),
                german_spec.categorical_features,
            ),
        ],
        verbose_feature_names_out=False,
    )
    pipeline = Pipeline([("preprocess", preprocess), ("model", LogisticRegression(C=0.3))])
    pipeline.fit(model_input_frame(train, german_spec), labels(train))
    assert compiled_preprocess(pipeline, german_spec, holdout) is None
    codes = ReasonCodes.fit(pipeline, train, german_spec)
    assert codes.method == "linear"
    out = score_batch(
        holdout,
        pipeline=pipeline,
        reasons=codes,
        outliers=outliers,
        spec=german_spec,
        model_version="x",
        threshold=THRESHOLD,
        scored_at=STAMP,
    )
    expected = pipeline.predict_proba(model_input_frame(holdout, german_spec))[:, 1]
    np.testing.assert_array_equal(out.get_column("score").to_numpy(), expected)
    total = codes.explain(holdout, pipeline=pipeline, spec=german_spec).drop(ROW_ID).to_numpy()
    np.testing.assert_allclose(total.sum(axis=1), logit(expected), atol=1e-8)


def test_the_verification_catches_a_wrong_compiled_encoder(
    score, fitted: dict, german_split, german_spec, monkeypatch
) -> None:
    """If the fast encoder ever disagrees with scikit-learn, scoring says so and stays right."""
    from modelops.ml import scoring

    _, holdout = german_split
    real = scoring.CompiledPreprocess.transform

    def doubled(self, part: pl.DataFrame):
        return real(self, part) * 2.0

    monkeypatch.setattr(scoring.CompiledPreprocess, "transform", doubled)
    with pytest.warns(ScoringWarning, match="differs"):
        out = score(holdout, "standard")
    expected = predict_scores(fitted["standard"], holdout, german_spec)
    np.testing.assert_array_equal(out.get_column("score").to_numpy(), expected)


def test_more_reason_codes_and_an_empty_batch(score, german_split) -> None:
    _, holdout = german_split
    out = score(holdout.head(20), "scorecard", top_k=5)
    assert out.schema == prediction_schema(5)
    assert out.get_column("reason_5").null_count() < 20
    empty = score(holdout.head(0), "scorecard")
    assert empty.height == 0
    assert empty.schema == prediction_schema(3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scored_at": datetime(2026, 11, 23, 9, 30)}, "timezone-aware"),
        ({"threshold": 1.5}, "between 0 and 1"),
        ({"top_k": 0}, "at least 1"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict, message: str, score, german_split) -> None:
    with pytest.raises(ScoringError, match=message):
        score(german_split[1], "scorecard", **kwargs)


def test_fitted_objects_survive_pickling(score, fitted, reasons, outliers, german_split):
    """The reason codes and outlier model are stored beside the model and loaded to score."""
    _, holdout = german_split
    restored = pickle.loads(pickle.dumps((fitted["native"], reasons["native"], outliers)))
    pipeline, codes, model = restored
    again = score(holdout, "native", pipeline=pipeline, reasons=codes, outliers=model)
    assert again.equals(score(holdout, "native"))


# Fallback -------------------------------------------------------------------------------------


def test_fallback_has_the_same_columns_and_refers(score, german_split) -> None:
    scored = score(german_split[1].head(5), "scorecard")
    fallback = fallback_predictions(
        [11, 12],
        reason="model unavailable: registry timeout",
        model_version=None,
        scored_at=STAMP,
    )
    assert fallback.schema == scored.schema
    assert fallback.get_column("decision").to_list() == [REFER, REFER]
    assert fallback.get_column("score").null_count() == 2
    assert fallback.get_column("reason_1").to_list() == ["model unavailable: registry timeout"] * 2
    assert fallback.get_column("model_version").null_count() == 2
    assert pl.concat([scored, fallback]).height == 7
    with pytest.raises(ScoringError, match="2 reasons for 3 rows"):
        fallback_predictions([1, 2, 3], reason=["a", "b"], model_version="7", scored_at=STAMP)


def test_every_application_gets_an_answer(score, german_spec: UseCaseSpec) -> None:
    """Rows failing validation are referred with their reasons; the rest are scored."""
    raw = pl.read_csv(GERMAN_DATA, infer_schema=False).head(50)
    raw = raw.with_columns(
        pl.when(pl.int_range(pl.len()) == 3)
        .then(pl.lit("lots"))
        .otherwise("credit_amount")
        .alias("credit_amount"),
        pl.when(pl.int_range(pl.len()) == 8)
        .then(pl.lit("spaceship"))
        .otherwise("purpose")
        .alias("purpose"),
    ).drop("creditability")
    outcome = validate_batch(raw, german_spec, labelled=False)
    assert outcome.quarantined.height == 2
    scored = score(build_features(outcome.valid, german_spec, with_label=False), "scorecard")
    refused = fallback_predictions(
        outcome.quarantined.get_column(ROW_ID),
        reason="input failed validation: " + outcome.quarantined.get_column("reasons"),
        model_version="7",
        scored_at=STAMP,
    )
    answers = pl.concat([scored, refused]).sort(ROW_ID)
    assert answers.get_column(ROW_ID).to_list() == list(range(1, 51))
    rejected = answers.filter(pl.col(ROW_ID).is_in([4, 9]))
    assert rejected.get_column("decision").to_list() == [REFER, REFER]
    assert rejected.get_column("reason_1").str.contains("credit_amount").to_list() == [True, False]
    assert rejected.get_column("reason_1").str.contains("purpose").to_list() == [False, True]
