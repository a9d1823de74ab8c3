"""Explanations: the global explanation per model family, the spec's reason-code catalogue in
every door's answer, and the faithfulness of the stated reasons (exact methods measure 1.0,
a deliberately wrong explainer less)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.base import clone
from sklearn.naive_bayes import GaussianNB

from modelops.ml.explanations.faithfulness import (
    DEFAULT_MINIMUM,
    exact_contributions,
    faithfulness,
    faithfulness_lines,
    faithfulness_minimum,
    faithfulness_passed,
)
from modelops.ml.explanations.global_importance import (
    global_explanation_lines,
    global_importance,
)
from modelops.ml.features import build_features
from modelops.ml.packages.pyfunc_package import answer_columns, answers_frame
from modelops.ml.scoring import ReasonCodes
from modelops.ml.scoring.applications import ApplicationScorer
from modelops.ml.scoring.compiled import encode
from modelops.ml.scoring.reason_catalogue import reason_catalogue_lines
from modelops.ml.serving_bundle import ServingBundle
from modelops.ml.training import fit_model, model_input_frame
from modelops.spec import ModelSpec, SpecError, UseCaseSpec, load_spec
from modelops.spec.columns import LABEL, ROW_ID
from modelops.spec.risk import load_risk_policy
from support import GERMAN_SPEC, write_spec

NOW = datetime(2026, 1, 31, tzinfo=UTC)
CATALOGUE = {
    "reasons": {
        "checking_account_status": {"code": "R01", "text": "Balance of your current account"},
        "duration_months": {"code": "R02", "text": "Length of the requested loan"},
        "credit_history": {"code": "R03", "text": "Your history of repaying credit"},
        "savings": {"code": "R04", "text": "Savings | <b>held</b> with us"},
    },
    "default_text": "Other factors in your application",
    "default_code": "R99",
}


def _spec_file(tmp_path: Path, explanations: object) -> Path:
    spec = yaml.safe_load(GERMAN_SPEC.read_text())
    spec["explanations"] = explanations
    return write_spec(tmp_path, spec)


@pytest.fixture(scope="module")
def catalogue_spec(tmp_path_factory):
    return load_spec(_spec_file(tmp_path_factory.mktemp("spec"), CATALOGUE))


# Global explanation --------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["scorecard", "standard"])
def test_a_linear_model_is_explained_by_its_coefficients_and_contribution_spread(
    family, fitted, reasons, german_split, german_spec
):
    train, holdout = german_split
    codes = reasons[family]
    record = global_importance(fitted[family], german_spec, train, holdout, reasons=codes)
    assert record.method == "coefficients" and record.source == "linear"
    assert record.rows == train.height
    # The spread is the standard deviation of each feature's contribution (from `explain`).
    explained = codes.explain(train, pipeline=fitted[family], spec=german_spec)
    by_name = {f.feature: f for f in record.features}
    assert set(by_name) == set(german_spec.model_inputs)
    for name in german_spec.model_inputs:
        assert by_name[name].spread == pytest.approx(explained[name].std(ddof=0), abs=1e-9)
        assert by_name[name].importance == by_name[name].spread
    # The coefficients of each feature's encoded columns, summed.
    coef = fitted[family][-1].coef_.ravel()
    for j, name in enumerate(codes.features):
        assert by_name[name].coefficient == pytest.approx(coef[codes.owner == j].sum())
    importances = [f.importance for f in record.features]
    assert importances == sorted(importances, reverse=True)


def test_a_tree_model_is_explained_by_its_mean_absolute_contribution(
    fitted, reasons, german_split, german_spec
):
    train, holdout = german_split
    codes = reasons["native"]  # HistGradientBoosting: the surrogate
    record = global_importance(fitted["native"], german_spec, train, holdout, reasons=codes)
    assert record.method == "mean_abs_contribution" and record.source == "surrogate"
    assert record.fidelity_r2 == codes.fidelity.r2
    explained = codes.explain(train, pipeline=fitted["native"], spec=german_spec)
    top = record.features[0]
    assert top.importance == pytest.approx(explained[top.feature].abs().mean())
    assert "surrogate" in global_explanation_lines(record)[0]


def test_lightgbm_is_explained_by_its_exact_tree_contributions(german_split, german_spec):
    pytest.importorskip("lightgbm")
    train, holdout = german_split
    model = ModelSpec(
        estimator="lightgbm.LGBMClassifier",
        params={"n_estimators": 60, "learning_rate": 0.1, "num_leaves": 8, "verbose": -1},
        preprocessing="native",
    )
    pipeline = fit_model(train, german_spec, model)
    codes = ReasonCodes.fit(pipeline, train, german_spec)
    record = global_importance(pipeline, german_spec, train, holdout, reasons=codes)
    assert (record.method, record.source) == ("mean_abs_contribution", "tree")
    check = faithfulness(pipeline, codes, german_spec, train, holdout)
    assert (check.method, check.share) == ("exact", 1.0)


def test_another_model_is_explained_by_permutation_importance(fitted, german_split, german_spec):
    train, holdout = german_split
    pipeline = clone(fitted["standard"]).set_params(model=GaussianNB())
    pipeline.fit(model_input_frame(train, german_spec), train[LABEL].to_numpy())
    record = global_importance(pipeline, german_spec, train, holdout, repeats=3)
    assert (record.method, record.source, record.rows) == ("permutation", "holdout", 300)
    assert {f.feature for f in record.features} == set(german_spec.model_inputs)
    # Seeded: the same figures twice; and the strongest feature does lower the AUC.
    again = global_importance(pipeline, german_spec, train, holdout, repeats=3)
    assert again == record
    assert record.features[0].importance > 0.01
    lines = global_explanation_lines(record, top=4)
    assert "`permutation`" in lines[0] and "AUC drop" in lines[2]
    assert lines[-1] == "_14 more features not shown_"


# Reason-code catalogue -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("explanations", "message"),
    [
        (
            {"reasons": {"age_years": {"code": "R1", "text": "Age"}}},
            "explanations.reasons.age_years: 'age_years' is not a model input",
        ),
        (
            {
                "reasons": {
                    "savings": {"code": "R1", "text": "a"},
                    "purpose": {"code": "R1", "text": "b"},
                }
            },
            "explanations.reasons.purpose.code: code 'R1' is already the code of 'savings'",
        ),
        ({"reasons": {"savings": {"code": "R 1", "text": "a"}}}, "reasons.savings.code: String"),
        (
            {"reasons": {"savings": {"code": "R1", "text": "two\nlines"}}},
            "explanations.reasons.savings.text: must be one line",
        ),
        ({"reasons": {"savings": {"code": "R1"}}}, "explanations.reasons.savings.text"),
        ({"faithfulness_gate": "sometimes"}, "explanations.faithfulness_gate"),
        ({"reason": {}}, "explanations.reason"),
    ],
)
def test_a_wrong_catalogue_is_refused_naming_the_field(tmp_path, explanations, message):
    with pytest.raises(SpecError) as error:
        load_spec(_spec_file(tmp_path, explanations))
    assert message in str(error.value)


def test_the_section_is_optional(german_spec_dict):
    german_spec_dict.pop("explanations")
    spec = UseCaseSpec.model_validate(german_spec_dict)
    assert spec.explanations is None
    assert reason_catalogue_lines(spec)[0].startswith("No reason-code catalogue")


@pytest.fixture(scope="module")
def bundle(german_spec, german_split, fitted) -> ServingBundle:
    train, holdout = german_split
    return ServingBundle.build(
        german_spec,
        model_version="3",
        pipeline=fitted["standard"],
        training=train,
        holdout=holdout,
        model_sha256="ab" * 32,
    )


def test_every_door_gives_the_catalogues_code_and_text(bundle, catalogue_spec, german_valid):
    scorer = ApplicationScorer(bundle, catalogue_spec)
    assert scorer.row_engine_verified
    rows = german_valid.head(200)
    features = build_features(rows, catalogue_spec, with_label=False)
    batch = scorer.score_table(features, scored_at=NOW)
    records = rows.drop(ROW_ID, catalogue_spec.target.column).to_dicts()
    answers = scorer.answer(records)
    packaged = answers_frame(answers, scorer.top_k)
    assert list(packaged.columns) == answer_columns(scorer.top_k)
    entries = CATALOGUE["reasons"]
    seen_default = seen_listed = False
    for i, answer in enumerate(answers):
        row = batch.row(i, named=True)
        for k in range(1, 4):
            feature = row[f"reason_{k}"]
            expected = entries.get(feature, {"code": "R99", "text": CATALOGUE["default_text"]})
            if feature is None:
                expected = {"code": None, "text": None}
            assert row[f"reason_{k}_code"] == expected["code"]
            assert row[f"reason_{k}_text"] == expected["text"]
            assert packaged[f"reason_{k}_code"][i] == expected["code"]
            assert packaged[f"reason_{k}_text"][i] == expected["text"]
            seen_listed |= feature in entries
            seen_default |= feature is not None and feature not in entries
        stated = [(r.feature, r.code, r.text) for r in answer.reasons]
        assert stated == [
            (row[f"reason_{k}"], row[f"reason_{k}_code"], row[f"reason_{k}_text"])
            for k in range(1, len(stated) + 1)
        ]
    assert seen_listed and seen_default
    # The text is data: kept as written in the answer, escaped where it is rendered.
    lines = "\n".join(reason_catalogue_lines(catalogue_spec))
    assert "Savings \\| &lt;b&gt;held&lt;/b&gt; with us" in lines and "<b>" not in lines


def test_without_a_catalogue_code_and_text_are_null(bundle, german_spec, german_valid):
    spec = german_spec.model_copy(update={"explanations": None})
    features = build_features(german_valid.head(50), spec, with_label=False)
    batch = ApplicationScorer(bundle, spec).score_table(features, scored_at=NOW)
    assert batch["reason_1"].null_count() < batch.height
    for k in range(1, 4):
        assert batch[f"reason_{k}_code"].null_count() == batch.height
        assert batch[f"reason_{k}_text"].null_count() == batch.height


# Faithfulness ------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["scorecard", "standard"])
def test_exact_reason_codes_are_faithful_on_every_holdout_row(
    family, fitted, reasons, german_split, german_spec
):
    train, holdout = german_split
    record = faithfulness(fitted[family], reasons[family], german_spec, train, holdout)
    assert (record.method, record.reason_method, record.rows) == ("exact", "linear", 300)
    assert record.share == 1.0
    # The truth is recomputed from the model: it equals the reason codes' contributions.
    truth = exact_contributions(fitted[family], "linear", german_spec, train, holdout)
    matrix = encode(fitted[family], holdout, german_spec, None)
    assert np.allclose(truth, reasons[family].contributions(matrix), atol=1e-9)


def test_a_wrong_explainer_is_caught(fitted, reasons, german_split, german_spec):
    train, holdout = german_split
    codes = reasons["standard"]
    # Weights moved to the wrong features: its reasons are no longer the model's.
    wrong = replace(
        codes, weights=np.roll(codes.weights, 1, axis=1), offsets=np.roll(codes.offsets, 1)
    )
    record = faithfulness(fitted["standard"], wrong, german_spec, train, holdout)
    assert record.share is not None and record.share < 0.5
    assert not faithfulness_passed(record, DEFAULT_MINIMUM)


def test_surrogate_reasons_are_checked_by_perturbation(fitted, reasons, german_split, german_spec):
    train, holdout = german_split
    codes = reasons["native"]
    record = faithfulness(fitted["native"], codes, german_spec, train, holdout)
    assert (record.method, record.reason_method) == ("perturbation", "surrogate")
    assert record.rows + record.rows_without_reasons == holdout.height
    # A surrogate stating the opposite of what it learned does worse than the real one.
    flipped = tuple(replace(b, table=-b.table) for b in codes.binned)
    wrong = faithfulness(
        fitted["native"], replace(codes, binned=flipped), german_spec, train, holdout
    )
    assert wrong.share < record.share
    assert "perturbation test" in faithfulness_lines(record)[0]


def test_the_gate_limit_comes_from_the_tier_or_the_spec(german_spec, catalogue_spec, tmp_path):
    policy = load_risk_policy()
    # The bank's policy gates the high tier only; a spec may ask for the gate at other tiers.
    assert policy.for_tier("high").reason_faithfulness_min == 0.95
    medium = policy.for_tier("medium")
    assert medium.reason_faithfulness_min is None
    assert faithfulness_minimum(german_spec, medium) is None
    assert faithfulness_minimum(catalogue_spec, medium) is None
    asked = load_spec(_spec_file(tmp_path, {**CATALOGUE, "faithfulness_gate": True}))
    assert faithfulness_minimum(asked, medium) == DEFAULT_MINIMUM
    high = policy.for_tier("high")
    strict = high.model_copy(update={"reason_faithfulness_min": 0.99})
    assert faithfulness_minimum(german_spec, strict) == 0.99


# Example decisions ---------------------------------------------------------------------------


def test_example_decisions_show_the_riskiest_holdout_rows_with_their_wording(
    fitted, reasons, german_split, catalogue_spec
):
    from modelops.ml.explanations.example_decisions import example_decision_lines
    from modelops.ml.training import predict_scores

    _, holdout = german_split
    lines = example_decision_lines(fitted["standard"], reasons["standard"], catalogue_spec, holdout)
    assert lines[0] == "### Example decisions" and "against the average training" in lines[2]
    scores = predict_scores(fitted["standard"], holdout, catalogue_spec)
    riskiest = {str(r) for r in holdout[np.argsort(-scores)[:3].tolist()][ROW_ID].to_list()}
    body = [line.split(" | ") for line in lines[6:]]
    assert {row[0].lstrip("| ") for row in body} == riskiest
    assert all(float(row[3]) > 0 for row in body)  # a stated reason pushed towards bad
    codes = {r["code"] for r in CATALOGUE["reasons"].values()} | {"R99"}
    assert all(row[4] in codes for row in body)
    assert any(row[4] == "R99" or row[5].startswith(("Balance", "Length", "Your")) for row in body)
