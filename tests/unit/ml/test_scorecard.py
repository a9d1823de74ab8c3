"""The WoE scorecard: binning, WoE/IV by hand, points scaling, missing bin, serialisation and
exact reason codes on the German credit data."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.pipeline import Pipeline

from modelops.ml.model_integrity import dump_model, load_model
from modelops.ml.scorecard.points import Scaling, points_lost, points_table, row_points, score
from modelops.ml.scorecard.tables import binning_rows, information_values, scorecard_lines
from modelops.ml.scorecard.woe_binning import WoEBinning
from modelops.ml.scoring import ReasonCodes
from modelops.ml.training import fit_model, model_input_frame
from modelops.spec import ModelSpec, UseCaseSpec
from modelops.spec.modelling import ScorecardSpec

WOE_MODEL = ModelSpec(
    estimator="sklearn.linear_model.LogisticRegression",
    params={"C": 1.0, "max_iter": 2000},
    preprocessing="woe",
    scorecard=ScorecardSpec(pdo=20, base_points=600, base_odds=50),
)


@pytest.fixture(scope="module")
def woe_fitted(
    german_split: tuple[pl.DataFrame, pl.DataFrame], german_spec: UseCaseSpec
) -> Pipeline:
    return fit_model(german_split[0], german_spec, WOE_MODEL)


def test_declared_monotonic_trend_is_kept() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=2000)
    y = (x + rng.normal(size=2000) > 0.5).astype(int)
    for trend, sign in (("ascending", 1), ("descending", -1)):
        frame = pd.DataFrame({"x": sign * x})
        binning = WoEBinning(monotonic=trend, max_bins=6).fit(frame, y)
        bins = binning.bins_[0]
        rates = [b / (b + g) for b, g in zip(bins["bads"][:-2], bins["goods"][:-2], strict=True)]
        assert len(rates) >= 2
        assert all(sign * (later - earlier) >= 0 for earlier, later in itertools.pairwise(rates))


def test_woe_and_iv_match_a_hand_computation() -> None:
    # Two categories, no binning freedom: a -> 30 goods 10 bads, b -> 20 goods 40 bads.
    values = ["a"] * 40 + ["b"] * 60
    y = np.array([0] * 30 + [1] * 10 + [0] * 20 + [1] * 40)
    binning = WoEBinning(categorical=("c",), min_bin_share=0.05).fit(pd.DataFrame({"c": values}), y)
    woe_a = math.log((30 / 50) / (10 / 50))
    woe_b = math.log((20 / 50) / (40 / 50))
    out = binning.transform(pd.DataFrame({"c": ["a", "b", "zz"]}))
    assert out[:, 0] == pytest.approx([woe_a, woe_b, 0.0])
    bins = binning.bins_[0]
    iv = (30 / 50 - 10 / 50) * woe_a + (20 / 50 - 40 / 50) * woe_b
    rows = [
        dict(count=g + b, woe=w)
        for g, b, w in zip(bins["goods"], bins["bads"], bins["woe"], strict=True)
    ]
    assert sum(r["count"] for r in rows) == 100
    pipeline = Pipeline([("preprocess", binning), ("model", _Linear())])
    assert information_values(pipeline)["c"] == pytest.approx(iv)


class _Linear:
    coef_ = np.array([[-1.0]])
    intercept_ = np.array([0.0])


def test_missing_values_get_their_own_bin() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=1000)
    y = (x > 0).astype(int)
    x[:100] = np.nan
    y[:100] = 1  # every missing row is bad: the missing bin must say so
    binning = WoEBinning(max_bins=4).fit(pd.DataFrame({"x": x}), y)
    bins = binning.bins_[0]
    assert bins["labels"][-1] == "Missing"
    assert bins["bads"][-1] == 100 and bins["goods"][-1] == 0
    assert binning.transform(pd.DataFrame({"x": [np.nan]}))[0, 0] == pytest.approx(bins["woe"][-1])


def test_points_double_the_odds_every_pdo(woe_fitted: Pipeline, german_split, german_spec) -> None:
    rows = model_input_frame(german_split[1], german_spec)
    proba = woe_fitted.predict_proba(rows)[:, 1]
    scaling = Scaling(pdo=20, base_points=600, base_odds=50)
    scores = score(woe_fitted, rows, scaling)
    odds_good = (1 - proba) / proba
    # score = base_points + pdo * log2(odds / base_odds): +pdo points is twice the odds.
    assert scores == pytest.approx(600 + 20 * np.log2(odds_good / 50))
    assert row_points(woe_fitted, rows, scaling).sum(axis=1) == pytest.approx(scores)
    table = points_table(woe_fitted, scaling)
    assert all(item.rounded == round(item.points) for item in table)


def test_points_lost_are_against_the_best_bin(
    woe_fitted: Pipeline, german_split, german_spec
) -> None:
    rows = model_input_frame(german_split[1].head(20), german_spec)
    lost = points_lost(woe_fitted, rows)
    assert len(lost) == 20
    for row in lost:
        values = list(row.values())
        assert min(values) >= -1e-9 and values == sorted(values, reverse=True)
    best: dict[str, float] = {}
    for item in points_table(woe_fitted):
        best[item.feature] = max(best.get(item.feature, -math.inf), item.points)
    own = row_points(woe_fitted, rows)
    names = list(woe_fitted[0].named_transformers_["woe"].get_feature_names_out())
    for r, row in enumerate(lost):
        for j, name in enumerate(names):
            assert row[name] == pytest.approx(best[name] - own[r, j])


def test_round_trip_through_dump_and_load(woe_fitted: Pipeline, german_split, german_spec) -> None:
    loaded = load_model(dump_model(woe_fitted))
    rows = model_input_frame(german_split[1], german_spec)
    assert np.array_equal(loaded.predict_proba(rows), woe_fitted.predict_proba(rows))


def test_reason_codes_are_exact(woe_fitted: Pipeline, german_split, german_spec) -> None:
    codes = ReasonCodes.fit(woe_fitted, german_split[0], german_spec)
    assert codes.method == "linear"
    assert codes.fidelity.r2 == 1.0
    assert set(codes.features) == set(german_spec.model_inputs)


def test_scorecard_lines(woe_fitted: Pipeline, german_spec) -> None:
    lines = scorecard_lines(woe_fitted, german_spec)
    text = "\n".join(lines)
    assert "Information Value" in text and "| Points |" in text
    features = {r.feature for r in binning_rows(woe_fitted)}
    assert features == set(german_spec.model_inputs)


def test_the_example_spec_loads_and_errors_name_the_field(tmp_path) -> None:
    import yaml

    from modelops.spec import SpecError, load_spec

    example = Path(__file__).resolve().parents[3] / "assets" / "german_credit_scorecard.yaml"
    assert load_spec(example).model.preprocessing == "woe"
    data = yaml.safe_load(example.read_text())
    data["model"]["preprocessing"] = "scorecard"
    data["model"]["scorecard"]["max_bins"] = 1
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError) as error:
        load_spec(path)
    assert "model.scorecard.max_bins" in str(error.value)


def test_a_coefficient_against_its_bad_rates_is_flagged_on_the_card(german_split, german_spec):
    from modelops.ml.scorecard.points import wrong_sign_features
    from modelops.ml.scorecard.tables import scorecard_lines
    from modelops.ml.training import fit_model
    from modelops.spec import ModelSpec

    train, _ = german_split
    model = ModelSpec(estimator="sklearn.linear_model.LogisticRegression", preprocessing="woe")
    pipeline = fit_model(train, german_spec, model)
    wrong = wrong_sign_features(pipeline)
    coef = pipeline[-1].coef_.ravel()
    assert len(wrong) == int((coef > 0).sum())
    text = "\n".join(scorecard_lines(pipeline, german_spec))
    assert ("has the wrong sign" in text) == bool(wrong)
    pipeline[-1].coef_ = -np.abs(pipeline[-1].coef_)  # every feature pulling the right way
    assert wrong_sign_features(pipeline) == []
    assert "has the wrong sign" not in "\n".join(scorecard_lines(pipeline, german_spec))


def test_scorecard_reasons_state_the_points_lost_against_the_best_bin(
    woe_fitted: Pipeline, german_split, german_spec
) -> None:
    from modelops.ml.scoring.compiled import encode

    codes = ReasonCodes.fit(woe_fitted, german_split[0], german_spec)
    assert codes.reference == "best_bin"
    assert ReasonCodes.from_bytes(codes.to_bytes()).reference == "best_bin"
    rows = german_split[1].head(30)
    contributions = codes.contributions(encode(woe_fitted, rows, german_spec, None))
    lost = points_lost(woe_fitted, model_input_frame(rows, german_spec))
    factor = Scaling().factor
    for r, row in enumerate(lost):
        for name, points in row.items():
            assert contributions[r, codes.features.index(name)] * factor == pytest.approx(points)
    assert contributions.min() >= -1e-9  # nothing beats the best bin


def test_special_codes_get_a_bin_and_points_of_their_own(german_split, german_spec) -> None:
    train = german_split[0].with_columns(
        pl.when(pl.int_range(pl.len()) % 10 == 0)
        .then(0)
        .otherwise(pl.col("credit_amount"))
        .alias("credit_amount")
    )
    card = ScorecardSpec(special_codes={"credit_amount": [0]})
    pipeline = fit_model(train, german_spec, WOE_MODEL.model_copy(update={"scorecard": card}))
    bins = {r.bin: r for r in binning_rows(pipeline) if r.feature == "credit_amount"}
    assert bins["Special"].count == (train.height + 9) // 10
    assert any(p.feature == "credit_amount" and p.bin == "Special" for p in points_table(pipeline))
    text = "\n".join(scorecard_lines(pipeline, german_spec))
    assert "| credit_amount | Special |" in text


def test_special_codes_must_be_values_a_feature_can_hold(tmp_path) -> None:
    import yaml

    from modelops.spec import SpecError, load_spec

    example = Path(__file__).resolve().parents[3] / "assets" / "german_credit_scorecard.yaml"
    data = yaml.safe_load(example.read_text())
    data["model"]["scorecard"]["special_codes"] = {
        "credit_amount": [-1],
        "not_a_feature": [1],
        "duration_months": ["unknown"],
    }
    path = tmp_path / "special.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError) as error:
        load_spec(path)
    message = str(error.value)
    assert "model.scorecard.special_codes.credit_amount" in message and "min/max" in message
    assert "model.scorecard.special_codes.not_a_feature" in message
    assert "must be numbers" in message


def test_scorecard_example_decisions_are_in_points_lost(woe_fitted, german_split, german_spec):
    from modelops.ml.explanations.example_decisions import example_decision_lines

    train, holdout = german_split
    codes = ReasonCodes.fit(woe_fitted, train, german_spec)
    lines = example_decision_lines(woe_fitted, codes, german_spec, holdout, examples=2)
    assert "points lost" in lines[4] and "best bin" in lines[2]
    stated = [float(line.split(" | ")[3]) for line in lines[6:]]
    assert stated and min(stated) > 0
