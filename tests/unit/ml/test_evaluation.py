"""The evaluation report on an 8-row holdout whose figures are worked out by hand, its JSON
both ways and its display."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from modelops.ml.evaluation import (
    ChampionScores,
    EvaluationReport,
    build_evaluation_report,
    calibration_plot_png,
    evaluation_markdown,
    roc_plot_png,
)
from modelops.ml.evaluation.build import MISSING_CATEGORY, ROC_MAX_POINTS

LABELS = np.array([0, 0, 1, 1, 0, 1, 0, 1])
CANDIDATE = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.7, 0.3, 0.9])
# A constant baseline ranks nothing: AUC 0.5 (every pair ties), Gini 0, KS 0 (TPR = FPR at the
# only threshold) and Brier (0.5)^2 = 0.25.
BASELINE = np.full(8, 0.5)
# The champion separates perfectly: every bad (0.6, 0.7, 0.8, 0.5) beats every good
# (0.2, 0.3, 0.1, 0.4) -> AUC 1, KS 1.
# Brier: goods 0.04 + 0.09 + 0.01 + 0.16 = 0.30; bads 0.16 + 0.09 + 0.04 + 0.25 = 0.54
# -> 0.84 / 8 = 0.105
CHAMPION = np.array([0.2, 0.3, 0.6, 0.7, 0.1, 0.8, 0.4, 0.5])

# Candidate, by hand:
# AUC: bads {0.35, 0.8, 0.7, 0.9} vs goods {0.1, 0.4, 0.2, 0.3}: 0.35 beats 3 goods (not 0.4),
#      the other three bads beat all 4 -> 15/16 = 0.9375; Gini 0.875.
# KS: descending 0.9 B, 0.8 B, 0.7 B, 0.4 G, 0.35 B, ... -> after 0.7: TPR 3/4, FPR 0 -> 0.75.
# Brier: goods 0.01 + 0.16 + 0.04 + 0.09 = 0.30; bads 0.4225 + 0.04 + 0.09 + 0.01 = 0.5625
#        -> 0.8625 / 8 = 0.1078125
CANDIDATE_AUC = 15 / 16
CANDIDATE_KS = 0.75
CANDIDATE_BRIER = 0.8625 / 8

SEGMENTS = {
    # region n: labels 0,0,1,1 scores 0.1,0.4,0.35,0.8; region s: labels 0,1,0,1 scores
    # 0.2,0.7,0.3,0.9
    "region": np.array(["n", "n", "n", "n", "s", "s", "s", "s"]),
    # the only branch row is a bad: a single-class segment
    "channel": np.array(["web"] * 7 + ["branch"]),
}


def build(**overrides: Any) -> EvaluationReport:
    arguments: dict[str, Any] = {
        "use_case": "credit_default",
        "model_version": "7",
        "labels": LABELS,
        "candidate_scores": CANDIDATE,
        "baseline_scores": BASELINE,
        "baseline_name": "decision_tree",
        "champion": ChampionScores(version="6", scores=CHAMPION),
        "segments": SEGMENTS,
        "threshold": 0.5,
        "calibration_bins": 4,
        "thresholds": {"min_auc": 0.9, "min_ks": 0.5, "max_brier": 0.2},
    }
    arguments.update(overrides)
    return build_evaluation_report(**arguments)


def test_headline_metrics_of_candidate_baseline_and_champion() -> None:
    report = build()
    assert report.candidate.auc == pytest.approx(CANDIDATE_AUC)
    assert report.candidate.gini == pytest.approx(0.875)
    assert report.candidate.ks == pytest.approx(CANDIDATE_KS)
    assert report.candidate.brier == pytest.approx(CANDIDATE_BRIER)
    assert (report.candidate.n, report.candidate.positives) == (8, 4)
    assert report.baseline.auc == pytest.approx(0.5)
    assert report.baseline.ks == pytest.approx(0.0)
    assert report.baseline.brier == pytest.approx(0.25)
    assert report.champion is not None
    assert report.champion.version == "6"
    assert report.champion.error is None
    assert report.champion.metrics is not None
    assert report.champion.metrics.auc == pytest.approx(1.0)
    assert report.champion.metrics.brier == pytest.approx(0.105)


def test_comparison_is_candidate_minus_baseline_and_champion() -> None:
    comparison = {c.metric: c for c in build().comparison}
    assert list(comparison) == ["auc", "gini", "ks", "brier"]
    assert comparison["auc"].vs_baseline == pytest.approx(CANDIDATE_AUC - 0.5)
    assert comparison["auc"].vs_champion == pytest.approx(CANDIDATE_AUC - 1.0)
    assert comparison["gini"].vs_baseline == pytest.approx(0.875)
    assert comparison["ks"].vs_champion == pytest.approx(CANDIDATE_KS - 1.0)
    assert comparison["brier"].vs_baseline == pytest.approx(CANDIDATE_BRIER - 0.25)
    assert comparison["brier"].vs_champion == pytest.approx(CANDIDATE_BRIER - 0.105)
    assert comparison["brier"].higher_is_better is False
    assert comparison["auc"].higher_is_better is True


def test_report_without_champion() -> None:
    report = build(champion=None)
    assert report.champion is None
    assert all(c.vs_champion is None and c.champion is None for c in report.comparison)
    assert set(report.roc_curves) == {"candidate", "baseline"}
    markdown = evaluation_markdown(report)
    assert "No champion" in markdown
    assert "Δ champion" not in markdown


def test_champion_that_could_not_be_scored_keeps_its_error() -> None:
    report = build(champion=ChampionScores(version="6", error="artifact not found"))
    assert report.champion is not None
    assert report.champion.metrics is None
    assert report.champion.error == "artifact not found"
    assert all(c.vs_champion is None for c in report.comparison)
    assert "champion" not in report.roc_curves
    markdown = evaluation_markdown(report)
    assert "could not be scored: artifact not found" in markdown
    assert report.to_dict()["champion"] == {
        "version": "6",
        "metrics": None,
        "error": "artifact not found",
    }


def test_champion_needs_exactly_one_of_scores_and_error() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        ChampionScores(version="6")
    with pytest.raises(ValueError, match="exactly one"):
        ChampionScores(version="6", scores=CHAMPION, error="boom")


def test_confusion_at_the_operating_threshold() -> None:
    # p >= 0.5: 0.8, 0.7, 0.9 (all bads) are declined; the bad at 0.35 is approved.
    confusion = build().confusion
    assert (confusion.tp, confusion.fp, confusion.tn, confusion.fn) == (3, 0, 4, 1)
    assert confusion.approval_rate == pytest.approx(5 / 8)
    assert confusion.threshold == 0.5


def test_calibration_table_of_the_candidate() -> None:
    # Sorted scores 0.1 0.2 | 0.3 0.35 | 0.4 0.7 | 0.8 0.9 with labels 0 0 | 0 1 | 0 1 | 1 1
    table = build().calibration
    assert [b.count for b in table] == [2, 2, 2, 2]
    assert [b.observed_rate for b in table] == pytest.approx([0.0, 0.5, 0.5, 1.0])
    assert [b.mean_predicted for b in table] == pytest.approx([0.15, 0.325, 0.55, 0.85])


def test_segments_sorted_with_a_single_class_value() -> None:
    segments = build().segments
    assert [(s.column, s.value) for s in segments] == [
        ("channel", "branch"),
        ("channel", "web"),
        ("region", "n"),
        ("region", "s"),
    ]
    branch, web, north, south = segments
    assert (branch.n, branch.positives, branch.bad_rate) == (1, 1, 1.0)
    assert math.isnan(branch.auc)
    assert branch.mean_score == pytest.approx(0.9)
    assert branch.approval_rate == 0.0
    assert (web.n, web.positives) == (7, 3)
    assert web.bad_rate == pytest.approx(3 / 7)
    # region n: bads {0.35, 0.8} vs goods {0.1, 0.4}: 3 of 4 pairs right -> 0.75;
    # mean (0.1 + 0.4 + 0.35 + 0.8) / 4 = 0.4125; approved (< 0.5): 3 of 4
    assert north.auc == pytest.approx(0.75)
    assert north.mean_score == pytest.approx(0.4125)
    assert north.approval_rate == pytest.approx(0.75)
    # region s: bads {0.7, 0.9} beat goods {0.2, 0.3} -> 1.0; mean 2.1 / 4; approved 2 of 4
    assert south.auc == pytest.approx(1.0)
    assert south.mean_score == pytest.approx(0.525)
    assert south.approval_rate == pytest.approx(0.5)


def test_segment_approval_uses_the_inclusive_decline_rule() -> None:
    # At threshold 0.35, region n scores 0.1, 0.4, 0.35, 0.8: only 0.1 is below it -> 1/4;
    # the confusion matrix agrees: 5 of 8 scores are >= 0.35, so 3 of 8 are approved.
    report = build(threshold=0.35)
    north = next(s for s in report.segments if (s.column, s.value) == ("region", "n"))
    assert north.approval_rate == pytest.approx(1 / 4)
    assert report.confusion.approval_rate == pytest.approx(3 / 8)


def test_missing_segment_values_form_their_own_segment() -> None:
    values = np.array(["a", None, "a", float("nan"), "a", "a", None, "a"], dtype=object)
    segments = build(segments={"kind": values}).segments
    assert [(s.value, s.n) for s in segments] == [(MISSING_CATEGORY, 3), ("a", 5)]


def test_thresholds_pass() -> None:
    report = build()
    assert [(t.name, t.passed) for t in report.threshold_results] == [
        ("min_auc", True),
        ("min_ks", True),
        ("max_brier", True),
    ]
    assert report.passed_thresholds is True


def test_threshold_failures() -> None:
    # AUC 0.9375 < 0.95 fails, KS 0.75 >= 0.5 passes, Brier 0.1078 > 0.1 fails; None is unset.
    report = build(thresholds={"min_auc": 0.95, "min_ks": 0.5, "max_brier": 0.1, "min_gini": None})
    results = {t.name: t for t in report.threshold_results}
    assert list(results) == ["min_auc", "min_ks", "max_brier"]
    assert results["min_auc"].passed is False
    assert results["min_auc"].actual == pytest.approx(CANDIDATE_AUC)
    assert results["min_auc"].limit == 0.95
    assert results["min_ks"].passed is True
    assert results["max_brier"].passed is False
    assert report.passed_thresholds is False


def test_no_threshold_configured_passes() -> None:
    report = build(thresholds={"min_auc": None})
    assert report.threshold_results == ()
    assert report.passed_thresholds is True


def test_undefined_metric_fails_its_threshold() -> None:
    report = build(labels=np.zeros(8, dtype=int), champion=None)
    assert math.isnan(report.candidate.auc)
    assert report.threshold_results[0].name == "min_auc"
    assert report.threshold_results[0].passed is False
    assert report.passed_thresholds is False
    assert report.roc_curves["candidate"].fpr == ()
    assert roc_plot_png(report).startswith(b"\x89PNG")


def test_unknown_threshold_name_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown threshold 'min_accuracy'"):
        build(thresholds={"min_accuracy": 0.8})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"baseline_scores": BASELINE[:7]}, "baseline_scores"),
        ({"candidate_scores": CANDIDATE[:7]}, "candidate_scores"),
        ({"champion": ChampionScores(version="6", scores=CHAMPION[:7])}, "champion 6"),
        ({"segments": {"region": np.array(["n"] * 9)}}, "segment 'region'"),
    ],
)
def test_misaligned_arrays_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build(**overrides)


def test_markdown_contains_the_key_figures() -> None:
    markdown = evaluation_markdown(build(thresholds={"min_auc": 0.95, "max_brier": 0.2}))
    assert "credit_default" in markdown
    assert "decision_tree" in markdown
    assert f"{CANDIDATE_AUC:.4f}" in markdown  # 0.9375
    assert f"{CANDIDATE_KS:.4f}" in markdown  # 0.7500
    assert f"{CANDIDATE_BRIER:.4f}" in markdown  # 0.1078
    assert "0.1050" in markdown  # champion Brier
    assert f"{CANDIDATE_AUC - 0.5:+.4f}" in markdown  # +0.4375 vs baseline
    assert f"{CANDIDATE_AUC - 1.0:+.4f}" in markdown  # -0.0625 vs champion
    assert "| min_auc | 0.9500 | 0.9375 | FAIL |" in markdown
    assert "| max_brier | 0.2000 | 0.1078 | PASS |" in markdown
    assert "**FAILED**" in markdown
    assert "| Actual bad | 3 | 1 |" in markdown
    assert "| Actual good | 0 | 4 |" in markdown
    assert "| channel | branch | 1 | 1 | 100.0% | 0.9000 | n/a | 0.0% |" in markdown
    assert "| 2 | 0.3000 - 0.3500 | 2 | 0.3250 | 0.5000 |" in markdown


def test_markdown_neutralises_data_derived_text() -> None:
    values = np.array(["a|b<script>"] * 4 + ["[x](http://evil)"] * 4)
    markdown = evaluation_markdown(build(segments={"kind": values}))
    assert "<script>" not in markdown
    assert "a\\|b&lt;script&gt;" in markdown
    assert "[x](" not in markdown
    assert "| kind | \\[x\\](http://evil) | 4 |" in markdown
    segment_rows = [line for line in markdown.splitlines() if line.startswith("| kind |")]
    # 8 cells -> 9 unescaped pipes per row, the escaped one in the value does not count
    assert [row.replace("\\|", "").count("|") for row in segment_rows] == [9, 9]


def test_markdown_escapes_names_and_errors() -> None:
    report = build(
        use_case="uc`x`",
        baseline_name="tree|*b*",
        champion=ChampionScores(version="6", error="no <file>\nfound"),
    )
    markdown = evaluation_markdown(report)
    assert markdown.startswith("# Evaluation of uc\\`x\\` model 7\n")
    assert "| Baseline (tree\\|\\*b\\*) |" in markdown
    assert "could not be scored: no &lt;file&gt; found" in markdown


def test_to_dict_is_json_serialisable_with_nan_as_none() -> None:
    data = build().to_dict()
    decoded = json.loads(json.dumps(data, allow_nan=False))
    assert decoded["candidate"]["auc"] == pytest.approx(CANDIDATE_AUC)
    assert decoded["passed_thresholds"] is True
    branch = next(s for s in decoded["segments"] if s["value"] == "branch")
    assert branch["auc"] is None
    assert decoded["confusion"]["approval_rate"] == pytest.approx(5 / 8)
    assert decoded["comparison"][0]["vs_champion"] == pytest.approx(CANDIDATE_AUC - 1.0)
    assert set(decoded["roc_curves"]) == {"candidate", "baseline", "champion"}
    assert len(decoded["calibration"]) == 4


def test_the_stored_report_reads_back_as_it_was_written() -> None:
    for champion in (ChampionScores(version="6", scores=CHAMPION), None):
        report = build(champion=champion)
        data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
        again = EvaluationReport.from_dict(data)
        assert again.to_dict() == data
        assert evaluation_markdown(again) == evaluation_markdown(report)
        # Undefined metrics (the single-class branch segment) are NaN again, not None.
        branch = next(s for s in again.segments if s.value == "branch")
        assert math.isnan(branch.auc)
        assert again.candidate == report.candidate
        assert again.calibration == report.calibration
        assert again.confusion == report.confusion
        assert again.roc_curves == report.roc_curves
        assert again.threshold_results == report.threshold_results


def test_a_damaged_stored_report_is_refused() -> None:
    data = build().to_dict()
    del data["segments"]
    with pytest.raises(KeyError, match="segments"):
        EvaluationReport.from_dict(data)


def test_roc_curves_are_downsampled() -> None:
    rng = np.random.default_rng(11)
    labels = rng.integers(0, 2, 4000)
    scores = np.clip(0.3 * labels + rng.uniform(0, 0.7, 4000), 0, 1)
    report = build(
        labels=labels,
        candidate_scores=scores,
        baseline_scores=rng.uniform(0, 1, 4000),
        champion=None,
        segments={},
    )
    for curve in report.roc_curves.values():
        assert 2 <= len(curve.fpr) <= ROC_MAX_POINTS
        assert len(curve.fpr) == len(curve.tpr)
        assert (curve.fpr[0], curve.tpr[0], curve.fpr[-1], curve.tpr[-1]) == (0, 0, 1, 1)
    assert report.roc_curves["candidate"].auc == pytest.approx(report.candidate.auc)
    assert "## Segments" not in evaluation_markdown(report)


def test_plots_are_png() -> None:
    report = build()
    roc = roc_plot_png(report)
    calibration = calibration_plot_png(report)
    assert isinstance(roc, bytes) and roc.startswith(b"\x89PNG")
    assert isinstance(calibration, bytes) and calibration.startswith(b"\x89PNG")
