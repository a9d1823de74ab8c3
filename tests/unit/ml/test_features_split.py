"""Feature engineering and the train/holdout split on the German credit data and tiny frames."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from modelops.ml.features import build_features
from modelops.ml.split import SplitError, split_train_holdout
from modelops.spec import UseCaseSpec


def _with_split(spec, **split):
    data = spec.model_dump(by_alias=True)
    data["split"] = {**data["split"], **split}
    return UseCaseSpec.model_validate(data)


def _ids(frame):
    return frame.get_column("row_id").to_list()


# --- features ----------------------------------------------------------------------------------


def test_engineered_features_are_computed(german_valid, german_features) -> None:
    joined = german_features.join(german_valid, on="row_id", suffix="_raw")
    expected = joined.get_column("credit_amount_raw") / joined.get_column("duration_months_raw")

    assert german_features.schema["monthly_installment"] == pl.Float64
    assert joined.get_column("monthly_installment").to_list() == pytest.approx(expected.to_list())
    # First application of the data set: 1169 DM over 6 months (not integer division: 194).
    assert german_features.row(0, named=True)["monthly_installment"] == pytest.approx(1169 / 6)


def test_an_analysis_band_is_computed_and_passed_through(german_valid, german_features) -> None:
    bands = german_features.join(german_valid.select("row_id", "age_years"), on="row_id")
    for age, band in bands.select("age_years", "age_band").unique().iter_rows():
        expected = (
            "under_25" if age < 25 else "25_39" if age < 40 else "40_59" if age < 60 else "60_plus"
        )
        assert band == expected, age


def test_division_by_zero_becomes_null(german_valid, german_spec) -> None:
    valid = german_valid.with_columns(
        pl.when(pl.col("row_id") == 1)
        .then(0)
        .otherwise(pl.col("duration_months"))
        .alias("duration_months")
    )

    features = build_features(valid, german_spec)

    installments = features.get_column("monthly_installment")
    assert installments[0] is None
    assert installments[1:].null_count() == 0
    assert installments.is_finite().all()


def test_the_label_is_one_for_the_positive_class(german_valid, german_features) -> None:
    joined = german_features.join(german_valid.select("row_id", "credit_risk"), on="row_id")

    assert german_features.schema["label"] == pl.Int8
    labels = dict(joined.group_by("credit_risk").agg(pl.col("label").unique()).iter_rows())
    assert labels == {"bad": [1], "good": [0]}
    # The UCI German credit data has 300 bad loans out of 1000.
    assert german_features.get_column("label").sum() == 300


def test_features_without_label(german_valid, german_spec) -> None:
    features = build_features(german_valid.drop("credit_risk"), german_spec, with_label=False)
    assert "label" not in features.columns
    assert features.height == german_valid.height


def test_the_column_order_is_fixed(german_features, german_spec) -> None:
    numeric = german_spec.numeric_features
    categorical = german_spec.categorical_features
    passthrough = german_spec.passthrough_columns

    assert german_features.columns == ["row_id", *numeric, *categorical, *passthrough, "label"]
    assert numeric[-1] == "monthly_installment"  # engineered after raw
    assert german_features.columns[-2] == "age_band"
    assert all(german_features.schema[c] == pl.Float64 for c in numeric)
    assert all(isinstance(german_features.schema[c], pl.Enum) for c in categorical)
    assert "credit_risk" not in german_features.columns  # the target only as the label


# --- random split ------------------------------------------------------------------------------


def test_the_split_is_deterministic_for_a_seed(german_features, german_spec) -> None:
    train, holdout = split_train_holdout(german_features, german_spec)
    train_again, holdout_again = split_train_holdout(german_features.clone(), german_spec)
    _, other_holdout = split_train_holdout(german_features, _with_split(german_spec, seed=1))

    assert _ids(holdout) == _ids(holdout_again)
    assert _ids(train) == _ids(train_again)
    assert set(_ids(holdout)) != set(_ids(other_holdout))


def test_the_split_is_stratified(german_features, german_spec) -> None:
    train, holdout = split_train_holdout(german_features, german_spec)

    overall = german_features.get_column("label").mean()
    assert abs(train.get_column("label").mean() - overall) <= 0.01
    assert abs(holdout.get_column("label").mean() - overall) <= 0.01


def test_the_holdout_fraction_is_respected(german_features, german_spec) -> None:
    # Stratified per class: round(700 * 0.3) good + round(300 * 0.3) bad = 210 + 90.
    train, holdout = split_train_holdout(german_features, german_spec)
    assert holdout.height == 300
    assert holdout.get_column("label").sum() == 90
    assert train.height == 700
    for fraction in (0.3, 0.2, 0.5):
        spec = _with_split(german_spec, holdout_fraction=fraction)
        _, holdout = split_train_holdout(german_features, spec)
        assert abs(holdout.height - fraction * german_features.height) <= 1, fraction


def test_an_unstratified_split_respects_the_fraction(german_features, german_spec) -> None:
    spec = _with_split(german_spec, stratify=False, holdout_fraction=0.25)
    train, holdout = split_train_holdout(german_features, spec)
    assert holdout.height == 250
    assert train.height == 750


def test_train_and_holdout_are_disjoint_and_complete(german_features, german_spec) -> None:
    train, holdout = split_train_holdout(german_features, german_spec)

    assert not set(_ids(train)) & set(_ids(holdout))
    assert sorted(_ids(train) + _ids(holdout)) == _ids(german_features)
    assert train.columns == holdout.columns == german_features.columns


def test_identical_rows_land_on_the_same_side(german_features, german_spec) -> None:
    """Copies kept by `schema.duplicates: allow` follow their first row: the holdout never
    scores a copy of a training row. Without copies the split is unchanged."""
    copies = german_features.head(300).with_columns(pl.col("row_id") + 1000)
    with_copies = pl.concat([german_features, copies])

    train, holdout = split_train_holdout(with_copies, german_spec)
    plain_train, plain_holdout = split_train_holdout(german_features, german_spec)

    values = [c for c in german_features.columns if c != "row_id"]
    assert train.select(values).join(holdout.select(values), on=values, how="semi").height == 0
    sides = {row_id: "train" for row_id in _ids(train)} | {r: "holdout" for r in _ids(holdout)}
    assert all(sides[row_id] == sides[row_id + 1000] for row_id in range(1, 301))
    assert [r for r in _ids(train) if r <= 1000] == _ids(plain_train)
    assert [r for r in _ids(holdout) if r <= 1000] == _ids(plain_holdout)


def test_a_single_class_side_is_a_split_error(german_features, german_spec) -> None:
    # One bad loan: the stratified holdout takes round(1 * 0.3) = 0 of it, so has no positive.
    one_bad = pl.concat(
        [
            german_features.filter(pl.col("label") == 0),
            german_features.filter(pl.col("label") == 1).head(1),
        ]
    )
    with pytest.raises(SplitError, match="holdout has 210 rows and 1 class"):
        split_train_holdout(one_bad, german_spec)

    only_good = german_features.filter(pl.col("label") == 0)
    with pytest.raises(SplitError, match="training set has 490 rows and 1 class"):
        split_train_holdout(only_good, german_spec)


# --- out-of-time split -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dated_spec():
    return UseCaseSpec.model_validate(
        {
            "id": "dated",
            "description": "A use case with an application date.",
            "owners": {"team": "test-team", "person": "tester@bank.example"},
            "source": {"path": "batch.csv"},
            "schema": {
                "date_column": "applied_on",
                "columns": [
                    {"name": "amount", "type": "float"},
                    {"name": "applied_on", "type": "date", "nullable": True},
                    {"name": "defaulted", "type": "int", "allowed": [0, 1]},
                ],
            },
            "target": {"column": "defaulted", "positive_class": 1},
            "features": {"raw": ["amount"]},
            "split": {"holdout_fraction": 0.25},
        }
    )


def _dated_valid(n=40, null_rows=(3, 17)):
    # Dates run backwards in row order, so "latest" is not the same as "last rows".
    start = date(2024, 1, 1)
    return pl.DataFrame(
        {
            "row_id": list(range(1, n + 1)),
            "amount": [float(i) for i in range(n)],
            "applied_on": [
                None if i + 1 in null_rows else start - timedelta(days=7 * i) for i in range(n)
            ],
            "defaulted": [i % 2 for i in range(n)],
        },
        schema={
            "row_id": pl.Int64,
            "amount": pl.Float64,
            "applied_on": pl.Date,
            "defaulted": pl.Int64,
        },
    )


def test_out_of_time_puts_the_latest_dates_in_the_holdout(dated_spec) -> None:
    assert dated_spec.split_strategy == "out_of_time"
    features = build_features(_dated_valid(), dated_spec)
    assert "applied_on" in features.columns  # the date is passed through for the split

    train, holdout = split_train_holdout(features, dated_spec)

    train_dates = train.get_column("applied_on").drop_nulls()
    holdout_dates = holdout.get_column("applied_on")
    assert holdout_dates.null_count() == 0
    assert holdout_dates.min() > train_dates.max()
    # 38 dated rows, a quarter of them (rounded to the nearest quantile) judge the model.
    assert holdout.height in (9, 10)
    assert sorted(_ids(train) + _ids(holdout)) == list(range(1, 41))


def test_out_of_time_trains_on_rows_without_a_date(dated_spec) -> None:
    features = build_features(_dated_valid(null_rows=(3, 17, 40)), dated_spec)

    train, holdout = split_train_holdout(features, dated_spec)

    assert {3, 17, 40} <= set(_ids(train))
    assert not {3, 17, 40} & set(_ids(holdout))


def test_out_of_time_with_a_single_class_holdout_is_a_split_error(dated_spec) -> None:
    valid = _dated_valid(null_rows=()).with_columns(
        # The 10 most recent applications (rows 1-10) all repaid.
        pl.when(pl.col("row_id") <= 10).then(0).otherwise(pl.col("defaulted")).alias("defaulted")
    )
    features = build_features(valid, dated_spec)

    with pytest.raises(SplitError, match="holdout"):
        split_train_holdout(features, dated_spec)
