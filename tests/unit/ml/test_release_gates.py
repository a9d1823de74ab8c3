"""Release gates against a recorded plan: each gate passing and failing, plans from the real
spec and policy, and feature availability on typed (Parquet) and text (CSV) batches."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from modelops.ml.evaluation import ChampionScores, EvaluationReport, build_evaluation_report
from modelops.ml.evaluation.report import ChampionResult, SegmentMetrics
from modelops.ml.fairness import FairnessReport, fairness_report
from modelops.ml.metrics import BinaryMetrics, Confusion
from modelops.ml.release_gates import (
    FeatureAvailability,
    GatePlan,
    GateResult,
    check_feature_availability,
    evaluate_release_gates,
    gate_plan,
    gates_markdown,
)
from modelops.ml.release_gates.availability import ColumnAvailability, unreadable_production
from modelops.spec import UseCaseSpec
from modelops.spec.risk import GATE_NAMES, load_risk_policy
from support import GERMAN_DATA


def make_plan(**overrides: Any) -> GatePlan:
    values: dict[str, Any] = {
        "use_case": "credit_default",
        "tier": "high",
        "rationale": ("high: credit scoring of natural persons",),
        # The gates of the plan whose fingerprint is pinned below (a gate added later is not).
        "required_gates": GATE_NAMES[: GATE_NAMES.index("reason_faithfulness")],
        "min_auc": 0.70,
        "min_ks": 0.25,
        "max_brier": 0.22,
        "baseline_margin": 0.02,
        "champion_tolerance": 0.01,
        "max_demographic_parity_difference": 0.15,
        "max_equalized_odds_difference": 0.20,
        "min_group_size": 30,
        "min_outcome_count": 1,
        "min_slice_auc": 0.60,
        "min_slice_rows": 50,
        "max_score_psi": 0.10,
        "fairness_attributes": ("sex",),
        "model_inputs": ("income", "purpose"),
        "protected_attributes": ("sex", "age"),
        "allow_protected_features": False,
    }
    values.update(overrides)
    return GatePlan(**values)


def metrics(auc: float, ks: float = 0.4, brier: float = 0.2) -> BinaryMetrics:
    """Holdout metrics of 300 rows; only AUC, KS and Brier matter to the gates."""
    return BinaryMetrics(
        n=300,
        positives=90,
        auc=auc,
        gini=2 * auc - 1,
        ks=ks,
        brier=brier,
        pr_auc=math.nan,
        log_loss=math.nan,
    )


def segment(column: str, value: str, n: int, auc: float) -> SegmentMetrics:
    return SegmentMetrics(column, value, n, n // 3, 1 / 3, 0.3, auc, 0.7)


def make_evaluation(**overrides: Any) -> EvaluationReport:
    values: dict[str, Any] = {
        "use_case": "credit_default",
        "model_version": "7",
        "baseline_name": "decision_tree",
        "threshold": 0.5,
        "candidate": metrics(0.785, ks=0.451, brier=0.18),
        "baseline": metrics(0.74, ks=0.35, brier=0.2),
        "champion": None,
        "confusion": Confusion(0.5, tp=50, fp=20, tn=190, fn=40),
        "calibration": (),
        "segments": (segment("purpose", "car", 120, 0.71), segment("purpose", "tv", 180, 0.66)),
        "threshold_results": (),
        "comparison": (),
    }
    values.update(overrides)
    return EvaluationReport(**values)


def fair_report(rate_a: float = 0.3, rate_b: float = 0.3) -> FairnessReport:
    """100 rows per group, 30 bads each; `rate` of each group's rows declined."""
    labels, scores, groups = [], [], []
    for group, rate in (("A", rate_a), ("B", rate_b)):
        declined = round(rate * 100)
        labels += [1] * 30 + [0] * 70
        # Declined rows are taken evenly from the group's bads and goods: same TPR and FPR.
        order = np.linspace(0, 99, declined).round().astype(int) if declined else []
        group_scores = np.full(100, 0.1)
        group_scores[order] = 0.9
        scores += group_scores.tolist()
        groups += [group] * 100
    return fairness_report(
        np.array(labels),
        np.array(scores),
        {"sex": np.array(groups)},
        threshold=0.5,
        min_group_size=30,
    )


AVAILABLE = FeatureAvailability(
    source="data/production/2025-01.parquet",
    rows=100,
    max_quarantine_share=0.05,
    columns=(
        ColumnAvailability("income", "income", None, 0.0, "0.00% of rows quarantined"),
        ColumnAvailability("purpose", "purpose", None, 0.02, "2.00% of rows quarantined"),
    ),
)


def run(plan: GatePlan | None = None, **overrides: Any) -> dict[str, GateResult]:
    arguments: dict[str, Any] = {
        "evaluation": make_evaluation(),
        "fairness": fair_report(),
        "score_psi": 0.04,
        "fitted_inputs": ["income", "purpose_car", "purpose_tv"],
        "availability": AVAILABLE,
    }
    arguments.update(overrides)
    results = evaluate_release_gates(plan or make_plan(), **arguments)
    assert [r.name for r in results] == list(GATE_NAMES)
    return {r.name: r for r in results}


def test_a_good_candidate_passes_every_gate() -> None:
    results = run()
    failed = {name: r.summary for name, r in results.items() if not r.passed}
    assert failed == {}
    assert not any(r.blocking for r in results.values())
    assert "No blocking gate failed" in gates_markdown(list(results.values()))


# --- minimum_performance -------------------------------------------------------------------


def test_minimum_performance_reads_like_a_validator_would() -> None:
    gate = run()["minimum_performance"]
    assert gate.passed
    assert gate.summary == "holdout AUC 0.785 >= 0.70; KS 0.451 >= 0.25; Brier 0.180 <= 0.22"
    assert gate.limits == {"min_auc": 0.70, "min_ks": 0.25, "max_brier": 0.22}


def test_minimum_performance_fails_on_any_threshold() -> None:
    evaluation = make_evaluation(candidate=metrics(0.785, ks=0.2, brier=0.25))
    gate = run(evaluation=evaluation)["minimum_performance"]
    assert not gate.passed and gate.blocking
    assert "KS 0.200 < 0.25" in gate.summary
    assert "Brier 0.250 > 0.22" in gate.summary
    assert "AUC 0.785 >= 0.70" in gate.summary


def test_an_undefined_metric_fails_and_no_threshold_passes() -> None:
    evaluation = make_evaluation(candidate=metrics(math.nan, ks=math.nan, brier=0.1))
    assert not run(evaluation=evaluation)["minimum_performance"].passed
    plan = make_plan(min_auc=None, min_ks=None, max_brier=None)
    gate = run(plan, evaluation=evaluation)["minimum_performance"]
    assert gate.passed
    assert gate.summary == "no thresholds set in spec.evaluation"


def test_a_figure_exactly_at_its_limit_passes() -> None:
    evaluation = make_evaluation(
        candidate=metrics(0.82, ks=0.25, brier=0.22),
        baseline=metrics(0.80),
    )
    assert 0.82 - 0.80 < 0.02  # float noise that must not fail the gate
    results = run(evaluation=evaluation)
    assert results["minimum_performance"].passed
    assert results["beats_baseline"].passed


# --- beats_baseline ------------------------------------------------------------------------


def test_beats_baseline_needs_the_margin() -> None:
    evaluation = make_evaluation(baseline=metrics(0.775))
    gate = run(evaluation=evaluation)["beats_baseline"]
    assert not gate.passed
    assert gate.measured["difference"] == pytest.approx(0.01)
    assert "difference +0.010 < required margin 0.02" in gate.summary
    assert run(make_plan(baseline_margin=0.0), evaluation=evaluation)["beats_baseline"].passed


# --- no_worse_than_champion ----------------------------------------------------------------


def test_no_champion_passes() -> None:
    gate = run()["no_worse_than_champion"]
    assert gate.passed
    assert gate.summary == "no champion yet"


def test_champion_within_tolerance_passes_and_beyond_fails() -> None:
    def champion(auc: float) -> EvaluationReport:
        return make_evaluation(champion=ChampionResult("6", metrics(auc), None))

    assert run(evaluation=champion(0.79))["no_worse_than_champion"].passed
    gate = run(evaluation=champion(0.80))["no_worse_than_champion"]
    assert not gate.passed
    assert gate.measured["champion_version"] == "6"
    assert gate.measured["difference"] == pytest.approx(-0.015)
    assert "champion 6 0.800" in gate.summary


def test_a_champion_that_could_not_be_scored_fails_the_gate() -> None:
    evaluation = make_evaluation(champion=ChampionResult("6", None, "missing column 'telephone'"))
    gate = run(evaluation=evaluation)["no_worse_than_champion"]
    assert not gate.passed and gate.blocking
    assert "missing column 'telephone'" in gate.summary
    assert gate.measured["champion_error"] == "missing column 'telephone'"


# --- fairness ------------------------------------------------------------------------------


def test_a_group_flagged_far_more_often_fails_fairness() -> None:
    report = fair_report(rate_a=0.8, rate_b=0.1)
    gate = run(fairness=report)["fairness"]
    assert not gate.passed and gate.blocking
    assert gate.measured["sex.demographic_parity_difference"] == pytest.approx(0.7)
    assert "sex DPD 0.700 > 0.15" in gate.summary
    # The per-group table shows both groups' selection rates (rows, bads, selection rate).
    assert "| A | 100 | 30 | 0.8000 |" in gate.details_markdown
    assert "| B | 100 | 30 | 0.1000 |" in gate.details_markdown


def test_equal_rates_pass_fairness() -> None:
    gate = run(fairness=fair_report(rate_a=0.3, rate_b=0.3))["fairness"]
    assert gate.passed
    assert gate.measured["sex.demographic_parity_difference"] == pytest.approx(0.0)
    assert gate.measured["sex.equalized_odds_difference"] == pytest.approx(0.0)
    assert gate.limits["max_demographic_parity_difference"] == 0.15
    assert "| A | 100 | 30 | 0.3000 |" in gate.details_markdown


def test_an_attribute_without_comparable_groups_passes_with_its_note() -> None:
    report = fairness_report(
        np.array([1, 0] * 20),
        np.linspace(0, 1, 40),
        {"sex": np.array(["f"] * 35 + ["m"] * 5)},
        threshold=0.5,
        min_group_size=30,
    )
    gate = run(fairness=report)["fairness"]
    assert gate.passed
    assert "fewer than two groups large enough to compare" in gate.summary


def test_a_planned_attribute_missing_from_the_report_fails() -> None:
    gate = run(make_plan(fairness_attributes=("sex", "age_band")))["fairness"]
    assert not gate.passed
    assert "not in the fairness report: age_band" in gate.summary


def test_a_report_with_another_group_size_fails() -> None:
    gate = run(make_plan(min_group_size=50))["fairness"]
    assert not gate.passed
    assert "the plan requires 50" in gate.summary


# --- slice_floors --------------------------------------------------------------------------


def test_slice_floors_gate_only_large_slices_with_a_defined_auc() -> None:
    segments = (
        segment("purpose", "car", 120, 0.71),
        segment("purpose", "tv", 40, 0.30),  # too small: not gated
        segment("age_band", "60_plus", 80, math.nan),  # single class
    )
    gate = run(evaluation=make_evaluation(segments=segments))["slice_floors"]
    assert gate.passed
    assert gate.measured["gated_slices"] == 1
    assert "| age_band | 60_plus | 80 | n/a | skipped: AUC undefined (single class) |" in (
        gate.details_markdown
    )
    assert "| purpose | tv | 40 | 0.3000 | not gated (< 50 rows) |" in gate.details_markdown


def test_a_large_slice_below_the_floor_fails() -> None:
    segments = (segment("purpose", "car", 120, 0.71), segment("purpose", "tv", 50, 0.55))
    gate = run(evaluation=make_evaluation(segments=segments))["slice_floors"]
    assert not gate.passed
    assert gate.summary == "purpose=tv AUC 0.550 < 0.60"
    assert gate.measured["lowest_slice"] == "purpose=tv"


def test_hostile_segment_values_are_escaped_in_the_gates_markdown() -> None:
    segments = (
        segment("purpose", "car", 120, 0.71),
        segment("purpose", "[x](http://evil)", 60, 0.40),
        segment("a|b <script>", "*tv*", 60, 0.41),
    )
    results = run(evaluation=make_evaluation(segments=segments))
    gate = results["slice_floors"]
    assert not gate.passed
    assert "| purpose | \\[x\\](http://evil) | 60 | 0.4000 | FAIL |" in gate.details_markdown
    assert "| a\\|b &lt;script&gt; | \\*tv\\* | 60 | 0.4100 | FAIL |" in gate.details_markdown
    markdown = gates_markdown(list(results.values()))
    row = next(line for line in markdown.splitlines() if line.startswith("| slice_floors |"))
    assert row == (
        "| slice_floors | yes | FAIL | purpose=\\[x\\](http://evil) AUC 0.400 &lt; 0.60; "
        "a\\|b &lt;script&gt;=\\*tv\\* AUC 0.410 &lt; 0.60 |"
    )
    for text in (gate.details_markdown, markdown):
        assert "<script>" not in text and "[x](" not in text


# --- score_stability -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("psi", "passed", "summary"),
    [
        (0.04, True, "score PSI 0.040 <= 0.10"),
        (0.18, False, "score PSI 0.180 > 0.10"),
        (None, False, "score PSI not measured"),
        (float("nan"), False, "score PSI not measured"),
    ],
)
def test_score_stability(psi: float | None, passed: bool, summary: str) -> None:
    gate = run(score_psi=psi)["score_stability"]
    assert (gate.passed, gate.summary) == (passed, summary)


def test_a_failed_optional_gate_warns_without_blocking() -> None:
    optional = tuple(g for g in GATE_NAMES if g != "score_stability")
    results = run(make_plan(required_gates=optional), score_psi=0.3)
    gate = results["score_stability"]
    assert not gate.passed
    assert not gate.required
    assert not gate.blocking
    markdown = gates_markdown(list(results.values()))
    assert "| score_stability | no | WARN | score PSI 0.300 &gt; 0.10 |" in markdown
    assert "No blocking gate failed" in markdown


# --- feature_availability and protected inputs ---------------------------------------------


def test_feature_availability_gate_lists_every_problem() -> None:
    availability = FeatureAvailability(
        source="gs://bank/prod/2025-01.parquet",
        rows=100,
        max_quarantine_share=0.05,
        columns=(
            ColumnAvailability("income", "income", "missing", None, "not in the production data"),
            ColumnAvailability("purpose", "purpose", "empty", None, "null on every row"),
            ColumnAvailability(
                "Amount",
                "amount",
                "over the quarantine limit",
                0.06,
                "6.00% of rows would be quarantined (limit 5%), e.g. amount: 'x' is not a "
                "valid float",
            ),
        ),
    )
    gate = run(availability=availability)["feature_availability"]
    assert not gate.passed
    assert gate.summary == (
        "1 missing, 1 empty, 1 over the quarantine limit in gs://bank/prod/2025-01.parquet: "
        "income: not in the production data; purpose: null on every row; "
        "Amount: 6.00% of rows would be quarantined (limit 5%), e.g. amount: 'x' is not a "
        "valid float (spec column amount)"
    )
    assert gate.measured["over_quarantine_limit"] == 1
    assert gate.limits["max_quarantine_share"] == 0.05
    # Every column is reported, with its quarantine share.
    assert "| Amount | amount | 6.00% | FAIL | over the quarantine limit: 6.00% of rows" in (
        gate.details_markdown
    )
    assert run()["feature_availability"].passed


def test_values_quarantined_under_the_limit_pass_and_are_reported() -> None:
    gate = run()["feature_availability"]
    assert gate.passed
    assert gate.summary == (
        "all 2 input columns available in data/production/2025-01.parquet; at most 2.00% of "
        "a column's rows quarantined (limit 5% per column)"
    )
    assert (
        "| purpose | purpose | 2.00% | PASS | 2.00% of rows quarantined |" in gate.details_markdown
    )
    assert gate.measured["largest_quarantine_share"] == 0.02


def test_an_unreadable_production_batch_fails_the_gate(german_spec: UseCaseSpec) -> None:
    availability = unreadable_production(
        german_spec, "data/production/2025-01.csv", "source.csv_separator: one column was found"
    )
    gate = run(availability=availability)["feature_availability"]
    assert not gate.passed
    assert gate.summary == (
        "data/production/2025-01.csv could not be read: source.csv_separator: one column was found"
    )


def test_availability_that_checked_nothing_fails() -> None:
    nothing = dataclasses.replace(AVAILABLE, columns=())
    assert not run(availability=nothing)["feature_availability"].passed


@pytest.mark.parametrize(
    ("fitted", "allowed", "passed"),
    [
        (["income", "purpose_car"], False, True),
        (["income", "sexton_score"], False, True),  # not the 'sex' attribute
        (["income", "sex_female", "sex_male"], False, False),  # one-hot of 'sex'
        (["income", "age"], False, False),
        (["income", "age"], True, True),
    ],
)
def test_protected_attributes_not_inputs(fitted: list[str], allowed: bool, passed: bool) -> None:
    plan = make_plan(allow_protected_features=allowed)
    gate = run(plan, fitted_inputs=fitted)["protected_attributes_not_inputs"]
    assert gate.passed is passed
    if not allowed and not passed:
        assert fitted[-1] in gate.summary


# --- with the real evaluation report --------------------------------------------------------


def test_gates_read_a_real_evaluation_report() -> None:
    rng = np.random.default_rng(3)
    labels = rng.binomial(1, 0.3, 400)
    candidate = np.clip(0.35 * labels + rng.random(400) * 0.65, 0, 1)
    report = build_evaluation_report(
        use_case="credit_default",
        model_version="7",
        labels=labels,
        candidate_scores=candidate,
        baseline_scores=np.full(400, 0.3),
        baseline_name="constant",
        champion=ChampionScores(version="6", error="model file not found"),
        segments={"channel": np.array(["web"] * 380 + ["branch"] * 20)},
        threshold=0.5,
        calibration_bins=10,
        thresholds={"min_auc": 0.7},
    )
    evaluation = EvaluationReport.from_dict(json.loads(json.dumps(report.to_dict())))
    results = run(evaluation=evaluation)
    assert results["minimum_performance"].measured["auc"] == pytest.approx(report.candidate.auc)
    assert results["beats_baseline"].measured["baseline_auc"] == pytest.approx(0.5)
    champion = results["no_worse_than_champion"]
    assert not champion.passed
    assert "model file not found" in champion.summary
    assert results["slice_floors"].measured["gated_slices"] == 1


def test_results_round_trip_through_json() -> None:
    results = evaluate_release_gates(
        make_plan(),
        evaluation=make_evaluation(),
        fairness=fair_report(0.8, 0.1),
        score_psi=float("nan"),
        fitted_inputs=["sex_f"],
        availability=AVAILABLE,
    )
    for result in results:
        data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
        assert GateResult.from_dict(data) == result


# --- the plan ------------------------------------------------------------------------------


def test_gate_plan_of_the_german_credit_spec(german_spec: UseCaseSpec) -> None:
    policy = load_risk_policy()
    assessment = policy.assess(german_spec.risk, german_spec.data_schema.protected_attributes)
    plan = gate_plan(german_spec, assessment, policy.for_tier(assessment.tier))
    assert plan.tier == "high"
    assert plan.rationale == assessment.rationale
    assert set(plan.required_gates) == set(GATE_NAMES)
    assert (plan.min_auc, plan.min_ks, plan.max_brier) == (0.70, 0.25, 0.22)
    assert (plan.baseline_margin, plan.champion_tolerance) == (0.02, 0.01)
    assert plan.max_demographic_parity_difference == 0.20
    assert plan.min_outcome_count == 20
    assert plan.max_equalized_odds_difference == 0.25
    assert plan.min_group_size == 30
    assert (plan.min_slice_auc, plan.min_slice_rows) == (0.60, 50)
    assert plan.max_score_psi == 0.10
    assert plan.fairness_attributes == ("personal_status_and_sex", "foreign_worker", "age_band")
    assert plan.protected_attributes == ("personal_status_and_sex", "age_years", "foreign_worker")
    assert "monthly_installment" in plan.model_inputs
    assert not set(plan.protected_attributes) & set(plan.model_inputs)
    assert plan.allow_protected_features is False


PINNED_FINGERPRINT = "a3857cb43e58dbc4637600d10941611849565a12efbca8f870b098d57b77d1e6"
"""`make_plan()`'s fingerprint, computed once."""


def test_plan_round_trips_and_its_fingerprint_is_stable() -> None:
    plan = make_plan()
    data = json.loads(json.dumps(plan.to_dict()))
    assert GatePlan.from_dict(data) == plan
    assert GatePlan.from_dict(dict(reversed(data.items()))).fingerprint() == plan.fingerprint()
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    assert plan.fingerprint() == hashlib.sha256(canonical.encode()).hexdigest()
    # Pinned: a change to the canonical form would orphan every fingerprint already stored.
    assert plan.fingerprint() == PINNED_FINGERPRINT
    assert make_plan(max_score_psi=0.25).fingerprint() != plan.fingerprint()


def test_a_damaged_plan_is_refused() -> None:
    data = make_plan().to_dict()
    del data["max_score_psi"]
    with pytest.raises(ValueError, match="missing \\['max_score_psi'\\]"):
        GatePlan.from_dict(data)
    with pytest.raises(ValueError, match="unknown gate"):
        make_plan(required_gates=("fairnes",))


# --- check_feature_availability -------------------------------------------------------------


def text_sample() -> pl.DataFrame:
    """The German data as the CSV source delivers it: every column text."""
    return pl.read_csv(GERMAN_DATA, infer_schema=False).head(60)


def typed_sample(tmp_path: Path) -> pl.DataFrame:
    """The German data as a Parquet batch: numeric columns typed."""
    path = tmp_path / "batch.parquet"
    pl.read_csv(GERMAN_DATA).head(60).write_parquet(path)
    return pl.read_parquet(path)


def test_clean_batches_have_every_input(german_spec: UseCaseSpec, tmp_path: Path) -> None:
    for sample in (text_sample(), typed_sample(tmp_path)):
        availability = check_feature_availability(german_spec, sample, "sample")
        assert availability.problems == ()
        assert len(availability.checked) == len(german_spec.features.raw)
        assert availability.largest_share == 0.0
        # Source headers are checked, not the spec's names; age (not an input) is not needed.
        assert "duration_in_month" in availability.checked
        assert "age_in_years" not in availability.checked


def test_problems_in_a_typed_batch(german_spec: UseCaseSpec, tmp_path: Path) -> None:
    sample = (
        typed_sample(tmp_path)
        .with_columns(
            pl.col("purpose").cast(pl.Categorical).to_physical().cast(pl.Int64),
            pl.col("duration_in_month").cast(pl.String) + " months",
            pl.lit(None, dtype=pl.Int64).alias("present_residence_since"),
            pl.col("job").cast(pl.Categorical),
            pl.col("credit_history").map_elements(lambda v: [v], return_dtype=pl.List(pl.String)),
        )
        .drop("credit_amount", "age_in_years")
    )
    availability = check_feature_availability(german_spec, sample, "gs://prod/2025-01.parquet")
    assert availability.with_problem("missing") == ("credit_amount: not in the production data",)
    assert availability.with_problem("wrong type") == (
        "credit_history: List(String) values cannot be read as category",
    )
    assert availability.with_problem("empty") == (
        "present_residence_since: null on every row (spec column residence_since)",
    )
    # The validation's own reasons, one example per column, every row failing.
    assert availability.with_problem("over the quarantine limit") == (
        "duration_in_month: 100.00% of rows would be quarantined (limit 5%), e.g. "
        "duration_months: '6 months' is not a valid int (spec column duration_months)",
        "purpose: 100.00% of rows would be quarantined (limit 5%), e.g. "
        "purpose: '0' is not an allowed value",
    )
    # A categorical (dictionary) column is text to validation: `job` is fine.
    (job,) = [c for c in availability.columns if c.header == "job"]
    assert job.problem is None and job.quarantined_share == 0.0


def test_a_few_quarantined_values_stay_under_the_limit(german_spec: UseCaseSpec) -> None:
    """One bad value in 60 rows (1.7%) is what the quarantine is for, three (5%) still are;
    four (6.7%) are not."""

    def with_bad(rows: int) -> FeatureAvailability:
        sample = text_sample().with_columns(
            pl.when(pl.int_range(pl.len()) < rows)
            .then(pl.lit("n/a"))
            .otherwise(pl.col("credit_amount"))
            .alias("credit_amount")
        )
        return check_feature_availability(german_spec, sample, "batch.csv")

    one = with_bad(1)
    assert one.problems == ()
    (amount,) = [c for c in one.columns if c.header == "credit_amount"]
    assert amount.quarantined_share == pytest.approx(1 / 60)
    assert amount.reason == "1.67% of rows quarantined"
    assert with_bad(3).problems == ()  # 5.00%: at the limit
    assert with_bad(4).problems == (
        "credit_amount: 6.67% of rows would be quarantined (limit 5%), e.g. "
        "credit_amount: 'n/a' is not a valid int",
    )


def test_problems_in_a_text_batch(german_spec: UseCaseSpec) -> None:
    sample = (
        text_sample()
        .with_columns(
            pl.lit("  ").alias("telephone"),  # blanks are nulls
            pl.lit("car").alias("purpose"),  # not an allowed value (the codes are A40...)
        )
        .drop("housing")
    )
    availability = check_feature_availability(german_spec, sample, "batch.csv")
    assert availability.with_problem("missing") == ("housing: not in the production data",)
    assert availability.with_problem("empty") == ("telephone: null on every row",)
    assert availability.with_problem("over the quarantine limit") == (
        "purpose: 100.00% of rows would be quarantined (limit 5%), e.g. "
        "purpose: 'car' is not an allowed value",
    )


def test_roots_of_engineered_inputs_are_needed(german_spec_dict: dict) -> None:
    german_spec_dict["features"]["raw"].remove("credit_amount")
    german_spec_dict["explanations"]["reasons"].pop("credit_amount")  # no longer a reason
    spec = UseCaseSpec.model_validate(german_spec_dict)
    sample = text_sample().drop("credit_amount")
    availability = check_feature_availability(spec, sample, "batch.csv")
    assert "credit_amount" in availability.checked  # monthly_installment's root
    assert availability.with_problem("missing") == ("credit_amount: not in the production data",)


def test_bool_inputs_are_read_as_validation_reads_them(german_spec_dict: dict) -> None:
    german_spec_dict["schema"]["columns"].append(
        {"name": "has_guarantor", "source_name": "Has Guarantor", "type": "bool"}
    )
    german_spec_dict["features"]["raw"].append("has_guarantor")
    spec = UseCaseSpec.model_validate(german_spec_dict)
    base = text_sample().head(4)

    def problems(values: pl.Series) -> tuple[str, ...]:
        sample = base.with_columns(values.alias("Has Guarantor"))
        return check_feature_availability(spec, sample, "s").problems

    assert problems(pl.Series(["Yes", "no", " TRUE ", "0"])) == ()
    assert problems(pl.Series([True, False, True, True])) == ()
    assert problems(pl.Series([1, 0, 1, 1])) == ()
    assert problems(pl.Series(["yes", "maybe", "0", "1"])) == (
        "Has Guarantor: 25.00% of rows would be quarantined (limit 5%), e.g. "
        "has_guarantor: 'maybe' is not a valid bool (spec column has_guarantor)",
    )
    assert problems(pl.Series([dt.date(2025, 1, 1)] * 4)) == (
        "Has Guarantor: Date values cannot be read as bool (spec column has_guarantor)",
    )


# --- reason_faithfulness ----------------------------------------------------------------------


def _faithful(rows: int, faithful: int, reason_method: str = "surrogate"):
    from modelops.ml.explanations.faithfulness import FaithfulnessRecord

    method = "exact" if reason_method != "surrogate" else "perturbation"
    return FaithfulnessRecord(
        method=method, reason_method=reason_method, top_k=3, rows=rows, faithful_rows=faithful
    )


def test_the_faithfulness_gate_holds_stated_reasons_to_the_tiers_share() -> None:
    from modelops.ml.release_gates.faithfulness_gate import reason_faithfulness

    gated = make_plan(reason_faithfulness_min=0.95)
    blocked = reason_faithfulness(gated, _faithful(300, 33))
    assert not blocked.passed and "0.110 of 300 rows < 0.95 required" in blocked.summary
    assert reason_faithfulness(gated, _faithful(300, 300, "linear")).passed
    assert not reason_faithfulness(gated, None).passed  # not measured: not shown to be faithful
    shown = reason_faithfulness(make_plan(), _faithful(300, 33))
    assert shown.passed and "not gated at this tier" in shown.summary
