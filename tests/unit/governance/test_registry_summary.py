"""The registered version's description: a summary that fits MLflow's limit and links the
full card (issue 14, item 3). End to end on a trained platform: tests/integration/
test_cli_explains.py."""

from __future__ import annotations

from modelops.governance.card_publisher import VersionSummary, registry_summary
from modelops.governance.gate_review import GateReview
from modelops.ml.release_gates import GateResult
from modelops.resources.tracking import DESCRIPTION_LIMIT

LINKS = {
    "in MLflow": "http://127.0.0.1:5001/#/experiments/1/runs/abc/artifactPath/model_card/model_card.html",
    "HTML": "file:///tmp/home/card/model_card.html",
}


def _gates(auc: float, low: float, high: float, *, passed: bool) -> GateReview:
    performance = GateResult(
        name="minimum_performance",
        passed=passed,
        required=True,
        summary="holdout AUC",
        measured={"auc": auc, "auc_low": low, "auc_high": high},
        limits={"min_auc": 0.7},
        details_markdown="",
    )
    return GateReview("3", "high", "fingerprint", (performance,))


def _summary(**changes: object) -> VersionSummary:
    fields = {
        "use_case": "german_credit",
        "version": "3",
        "auc": 0.78512345,
        "gates": _gates(0.78512345, 0.73349, 0.83311, passed=True),
        "status": "challenger, awaiting 1 approval(s) by model_validator",
        "tier": "high",
    }
    return VersionSummary(**{**fields, **changes})  # type: ignore[arg-type]


def test_the_summary_names_the_version_its_auc_interval_verdict_state_and_tier():
    text = registry_summary(_summary(), LINKS)

    assert text.startswith("**german_credit version 3**: holdout AUC 0.785 [0.733, 0.833];")
    assert "release gates passed" in text and "risk tier high" in text
    assert "status: challenger, awaiting 1 approval(s) by model_validator" in text
    assert f"[in MLflow]({LINKS['in MLflow']})" in text
    assert "file://" not in text  # a browser refuses it from the registry's page
    assert len(text) < DESCRIPTION_LIMIT


def test_a_blocked_version_says_which_gates_and_user_text_stays_inert():
    blocked = _gates(0.61, 0.55, 0.67, passed=False)
    text = registry_summary(
        _summary(gates=blocked, auc=0.61, status="rejected by 'x' ('| # [a](b)')"), LINKS
    )
    assert "release gates blocked by minimum_performance" in text
    assert "AUC 0.610 [0.550, 0.670]" in text
    assert "\\| # \\[a\\](b)" in text


def test_without_gates_or_interval_the_auc_stands_alone():
    text = registry_summary(_summary(gates=None, auc=None), {})
    assert "holdout AUC n/a; release gates not run" in text
    assert "Full model card" not in text
