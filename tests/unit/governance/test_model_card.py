"""The model card: Mitchell et al. sections from the spec and the recorded evaluation."""

from __future__ import annotations

import re
from typing import Any

import pytest

from modelops.governance.gate_review import GateReview
from modelops.governance.history import Approval
from modelops.governance.model_card import (
    CardGovernance,
    HoldoutDrift,
    ModelCardInputs,
    render_html,
    render_model_card,
)
from modelops.governance.model_record import ModelRecord
from modelops.ml.evaluation import EvaluationReport
from modelops.spec import UseCaseSpec

SECTIONS = (
    "Model details",
    "Intended use",
    "Factors",
    "Metrics",
    "Evaluation data",
    "Training data",
    "Quantitative analyses",
    "Ethical considerations",
    "Caveats",
)

MODEL = ModelRecord(
    registered_name="german_credit",
    version="7",
    run_id="0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    experiment_id="1",
    model_uri="models:/german_credit/7",
    training_set_version="a1b2c3d4e5f60718",
    holdout_set_version="0718a1b2c3d4e5f6",
    trained_at="2026-11-23T09:00:00+00:00",
    training_rows=700,
    training_positive_rate=0.3,
    estimator="sklearn.linear_model.LogisticRegression",
    code_version="c0de",
    git_commit="abc123",
    lock_sha256="10c4",
    trained_by="anna.berg@bank.example",
    artifact_sha256="a" * 64,
    risk_tier="high",
)


def metrics(auc: float, ks: float, brier: float) -> dict[str, Any]:
    """`BinaryMetrics.as_dict()` of a 300-row holdout with 90 bads."""
    return {
        "n": 300,
        "positives": 90,
        "auc": auc,
        "gini": 2 * auc - 1,
        "ks": ks,
        "brier": brier,
        "pr_auc": 0.6,
        "log_loss": 0.5,
    }


def segment(column: str, value: str, n: int, auc: float | None) -> dict[str, Any]:
    return {
        "column": column,
        "value": value,
        "n": n,
        "positives": n // 3,
        "bad_rate": 1 / 3,
        "mean_score": 0.3,
        "auc": auc,
        "approval_rate": 0.75,
    }


def evaluation(champion: dict[str, Any] | None) -> dict[str, Any]:
    """The shape of `EvaluationReport.to_dict()` (nan already turned into None)."""
    return {
        "use_case": "german_credit",
        "model_version": "7",
        "baseline_name": "DecisionTreeClassifier",
        "threshold": 0.5,
        "passed_thresholds": False,
        "candidate": metrics(0.8, 0.45, 0.17),
        "baseline": metrics(0.65, 0.25, 0.2),
        "champion": champion,
        "confusion": {"threshold": 0.5, "tp": 40, "fp": 20, "tn": 190, "fn": 50},
        "calibration": [],
        "segments": [
            segment("age_band", "under_25", 40, 0.7),
            # A segment of one class: its AUC is undefined (None after to_dict).
            segment("foreign_worker", "no", 12, None),
            segment("purpose", "radio|television", 80, 0.75),
        ],
        "thresholds": [
            {"name": "min_auc", "limit": 0.7, "actual": 0.8, "passed": True},
            {"name": "max_brier", "limit": 0.15, "actual": 0.17, "passed": False},
        ],
        "comparison": [],
        "roc_curves": {},
    }


DRIFT = HoldoutDrift.model_validate(
    {
        "features": [],
        "drifted_share": 0.25,
        "dataset_drift": False,
        "drift_share": 0.5,
        "reference_rows": 700,
        "current_rows": 300,
        "sampled": False,
    }
)


def card(spec: UseCaseSpec, champion: dict[str, Any] | None = None) -> str:
    return render_model_card(
        ModelCardInputs(
            spec=spec,
            model=MODEL,
            evaluation=EvaluationReport.from_dict(evaluation(champion)),
            drift=DRIFT,
        )
    )


def headings(markdown: str) -> list[str]:
    return [line[3:] for line in markdown.splitlines() if line.startswith("## ")]


def test_card_has_every_model_card_section_in_order(german_spec: UseCaseSpec):
    found = headings(card(german_spec))
    positions = []
    for section in SECTIONS:
        matching = [i for i, heading in enumerate(found) if heading.startswith(section)]
        assert matching, f"missing section {section!r} in {found}"
        positions.append(matching[0])
    assert positions == sorted(positions)


def test_card_identifies_the_model_and_its_owner(german_spec: UseCaseSpec):
    markdown = card(german_spec)
    assert markdown.splitlines()[0] == "# Model card: german_credit version 7"
    assert "`german_credit` version 7 (`models:/german_credit/7`)" in markdown
    assert "Owner: anna.berg@bank.example (team credit-risk-models)" in markdown
    assert "commit `abc123`" in markdown
    assert "MLflow run: `0f1e2d3c4b5a69788796a5b4c3d2e1f0`" in markdown
    assert "Training set version `a1b2c3d4e5f60718`: 700 rows, positive rate 30.0%" in markdown
    # The spec's documentation is carried over, not retyped.
    assert "Fully automated rejection of applicants without human review." in markdown
    assert german_spec.documentation.caveats[0] in markdown


def test_card_metrics_and_evaluation_data(german_spec: UseCaseSpec):
    markdown = card(german_spec)
    # Four decimals; no champion gives '-' in its column.
    assert "| AUC | 0.8000 | 0.6500 | - |" in markdown
    assert "| Brier | 0.1700 | 0.2000 | - |" in markdown
    assert "| max_brier | 0.15 | 0.1700 | **FAIL** |" in markdown
    assert "| min_auc | 0.7 | 0.8000 | pass |" in markdown
    assert "Holdout: 300 rows, 90 positives (stratified random 30%, seed 20261123)" in markdown
    assert "25.0% of features drifted (no dataset drift)" in markdown
    # Protected attributes are listed as such in the factors.
    assert "`personal_status_and_sex`, `age_years`, `foreign_worker`" in markdown


def test_card_without_champion(german_spec: UseCaseSpec):
    markdown = card(german_spec, champion=None)
    assert "No champion existed when this version was evaluated." in markdown
    assert "could not be scored" not in markdown
    assert "| metric | candidate | baseline | champion |" in markdown


def test_card_with_a_champion_that_failed(german_spec: UseCaseSpec):
    champion = {"version": "3", "metrics": None, "error": "skops refused type foo.Bar"}
    markdown = card(german_spec, champion=champion)
    assert "The champion could not be scored: skops refused type foo.Bar" in markdown
    assert "No champion existed" not in markdown
    assert "| metric | candidate | baseline | champion v3 |" in markdown
    assert "| AUC | 0.8000 | 0.6500 | - |" in markdown


def test_card_with_a_scored_champion(german_spec: UseCaseSpec):
    champion = {"version": "3", "metrics": metrics(0.77, 0.4, 0.18), "error": None}
    markdown = card(german_spec, champion=champion)
    assert "| AUC | 0.8000 | 0.6500 | 0.7700 |" in markdown
    assert "No champion existed" not in markdown
    assert "could not be scored" not in markdown


def cells(row: str) -> list[str]:
    """Cells of a markdown table row, splitting only on unescaped pipes."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", row.strip())[1:-1]]


def test_segment_values_are_escaped_in_the_table(german_spec: UseCaseSpec):
    markdown = card(german_spec)
    (row,) = [line for line in markdown.splitlines() if line.startswith("| purpose |")]
    assert cells(row) == [
        "purpose",
        "radio\\|television",
        "80",
        "33.3%",
        "0.3000",
        "0.7500",
        "75.0%",
    ]
    (undefined,) = [line for line in markdown.splitlines() if line.startswith("| foreign_worker")]
    assert cells(undefined)[5] == "n/a"
    # Rendered, the escaped pipe is text inside one cell.
    assert "<td>radio|television</td>" in render_html(markdown)


@pytest.fixture
def spec_with_markup(german_spec_dict: dict) -> UseCaseSpec:
    german_spec_dict["documentation"]["ethical_considerations"].append(
        "Reviewed <script>alert('pwned')</script> by <b>ethics</b>."
    )
    return UseCaseSpec.model_validate(german_spec_dict)


def test_render_html_escapes_raw_html(spec_with_markup: UseCaseSpec):
    markdown = card(spec_with_markup)
    assert "<script" not in markdown and "&lt;script&gt;alert('pwned')&lt;/script&gt;" in markdown
    page = render_html(markdown)
    assert "<script" not in page.lower()
    assert "<b>" not in page
    assert "&lt;script&gt;" in page
    assert page.startswith("<!doctype html>")
    assert "<title>Model card: german_credit version 7</title>" in page
    assert "<h2>Ethical considerations</h2>" in page
    assert "<table>" in page


def test_card_carries_the_release_record(german_spec: UseCaseSpec):
    gates = GateReview.from_dict(
        {
            "model_version": "7",
            "tier": "high",
            "plan_fingerprint": "ab" * 32,
            "results": [
                gate("fairness", True, True, "DPD 0.11"),
                gate("slice_floors", False, False, "x|y"),
            ],
        }
    )
    governance = CardGovernance(
        tier="high",
        rationale=("high: credit scoring of natural persons (EU AI Act Annex III)",),
        gates=gates,
        fairness_markdown="## Fairness at threshold 0.5\n\n### foreign_worker\n\n| a |\n|---|",
        release_status="champion",
        approvals=(
            Approval(
                approver="val@bank.example",
                role="model_validator",
                reason="VR-7",
                recorded_at="2026-11-23T10:00:00Z",
                seq=4,
            ),
        ),
    )
    markdown = render_model_card(
        ModelCardInputs(
            spec=german_spec,
            model=MODEL,
            evaluation=EvaluationReport.from_dict(evaluation(None)),
            drift=DRIFT,
            governance=governance,
        )
    )
    found = headings(markdown)
    # Right after the model details, so a reader (and MLflow's capped description) sees it.
    assert found.index("Risk and release") == found.index("Model details") + 1
    assert "Risk tier: **high**" in markdown and "Release status: champion" in markdown
    assert "| fairness | yes | pass | DPD 0.11 |" in markdown
    assert "| slice_floors | no | **FAIL** | x\\|y |" in markdown
    assert "'val@bank.example' (model_validator) at 2026-11-23T10:00:00Z: 'VR-7'" in markdown
    # The fairness report sits under the quantitative analyses, one heading level down.
    assert "### Fairness at threshold 0.5" in markdown and "#### foreign_worker" in markdown
    assert "## Fairness" not in found


def gate(name: str, required: bool, passed: bool, summary: str) -> dict[str, Any]:
    """One gate result as the audit log stores it."""
    return {
        "name": name,
        "passed": passed,
        "required": required,
        "summary": summary,
        "measured": {},
        "limits": {},
        "details_markdown": "",
        "blocking": required and not passed,
    }
