"""Group fairness on small holdouts whose rates are worked out by hand, and against numpy."""

from __future__ import annotations

import json

import numpy as np
import pytest

from modelops.ml.fairness import FairnessReport, GroupRates, fairness_report

# Threshold 0.5; "selected" = score >= 0.5 = predicted bad (declined).
# A: labels 1 1 0 0 0 0, scores .9 .6 .7 .55 .2 .1 -> selected 1 1 1 1 0 0
#    selection 4/6, TPR 2/2 = 1, FPR 2/4 = 0.5
# B: labels 1 1 1 0 0 0, scores .8 .3 .2 .4 .1 .05 -> selected 1 0 0 0 0 0
#    selection 1/6, TPR 1/3, FPR 0/4 = 0
# C: labels 1 0, scores .9 .9 -> selected 1 1: selection 1, TPR 1, FPR 1 (only 2 rows)
LABELS = np.array([1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0])
SCORES = np.array([0.9, 0.6, 0.7, 0.55, 0.2, 0.1, 0.8, 0.3, 0.2, 0.4, 0.1, 0.05, 0.9, 0.9])
GROUP = np.array(["A"] * 6 + ["B"] * 6 + ["C"] * 2)


def test_rates_and_differences_by_hand_leave_out_small_groups() -> None:
    report = fairness_report(LABELS, SCORES, {"region": GROUP}, threshold=0.5, min_group_size=4)
    (attribute,) = report.attributes
    by_group = {g.group: g for g in attribute.groups}
    assert by_group["A"] == GroupRates("region", "A", 6, 2, 4 / 6, 1.0, 0.5, True)
    assert by_group["B"] == GroupRates("region", "B", 6, 3, 1 / 6, 1 / 3, 0.0, True)
    assert by_group["C"] == GroupRates("region", "C", 2, 1, 1.0, 1.0, 1.0, False)
    # Over A and B only: DPD 4/6 - 1/6; EOD max(TPR gap 2/3, FPR gap 0.5).
    assert attribute.demographic_parity_difference == pytest.approx(0.5)
    assert attribute.equalized_odds_difference == pytest.approx(2 / 3)
    assert attribute.note == "1 group below 4 rows reported, not gated: C"


def test_a_small_group_counts_once_it_is_large_enough() -> None:
    report = fairness_report(LABELS, SCORES, {"region": GROUP}, threshold=0.5, min_group_size=2)
    (attribute,) = report.attributes
    assert all(g.gated for g in attribute.groups)
    # C joins: DPD 1 - 1/6; EOD max(TPR gap 1 - 1/3, FPR gap 1 - 0) = 1.
    assert attribute.demographic_parity_difference == pytest.approx(5 / 6)
    assert attribute.equalized_odds_difference == pytest.approx(1.0)
    assert attribute.note is None


def test_a_score_at_the_threshold_is_selected() -> None:
    report = fairness_report(
        np.array([1, 0, 1, 0]),
        np.array([0.5, 0.5, 0.49, 0.49]),
        {"g": np.array(["x", "x", "y", "y"])},
        threshold=0.5,
        min_group_size=1,
    )
    rates = {g.group: g.selection_rate for g in report.attributes[0].groups}
    assert rates == {"x": 1.0, "y": 0.0}


def test_differences_match_a_numpy_computation_on_gated_rows() -> None:
    rng = np.random.default_rng(7)
    n = 2_000
    group = rng.choice(["a", "b", "c", "tiny"], size=n, p=[0.5, 0.3, 0.19, 0.01])
    labels = rng.binomial(1, np.select([group == "a", group == "b"], [0.2, 0.35], 0.3))
    shift = np.select([group == "a", group == "b"], [0.15, -0.1], 0.0)
    scores = np.clip(0.3 * labels + rng.random(n) * 0.7 + shift, 0, 1)
    report = fairness_report(labels, scores, {"g": group}, threshold=0.5, min_group_size=40)

    selected = scores >= 0.5
    gated = [g for g in np.unique(group) if (group == g).sum() >= 40]
    assert gated == ["a", "b", "c"]
    sr = [selected[group == g].mean() for g in gated]
    tpr = [selected[(group == g) & (labels == 1)].mean() for g in gated]
    fpr = [selected[(group == g) & (labels == 0)].mean() for g in gated]
    expected_dpd = max(sr) - min(sr)
    expected_eod = max(max(tpr) - min(tpr), max(fpr) - min(fpr))

    attribute = report.attributes[0]
    assert expected_dpd > 0.1  # the example must discriminate between groups
    assert attribute.demographic_parity_difference == pytest.approx(expected_dpd)
    assert attribute.equalized_odds_difference == pytest.approx(expected_eod)
    for rates in attribute.groups:
        mask = group == rates.group
        assert rates.n == mask.sum()
        assert rates.positives == labels[mask].sum()
        assert rates.selection_rate == pytest.approx(selected[mask].mean())
        assert rates.tpr == pytest.approx(selected[mask & (labels == 1)].mean())
        assert rates.fpr == pytest.approx(selected[mask & (labels == 0)].mean())
    assert [g.gated for g in attribute.groups] == [True, True, True, False]


def test_null_group_values_form_one_missing_group() -> None:
    values = np.array(["x", None, "x", np.nan, None, "x"], dtype=object)
    report = fairness_report(
        np.array([0, 1, 1, 0, 0, 1]),
        np.array([0.1, 0.9, 0.8, 0.2, 0.7, 0.4]),
        {"g": values},
        threshold=0.5,
        min_group_size=1,
    )
    groups = {g.group: (g.n, g.positives) for g in report.attributes[0].groups}
    assert groups == {"(missing)": (3, 1), "x": (3, 2)}


def test_undefined_rates_are_none_and_left_out_of_equalized_odds() -> None:
    # Group "goods" holds no bad: its TPR is undefined, not 0 (fairlearn would say 0).
    labels = np.array([0, 0, 0, 0, 1, 0, 1, 0, 1, 1, 0, 0])
    scores = np.array([0.9, 0.1, 0.1, 0.1, 0.9, 0.1, 0.9, 0.9, 0.9, 0.1, 0.1, 0.1])
    group = np.array(["goods"] * 4 + ["m"] * 4 + ["n"] * 4)
    report = fairness_report(labels, scores, {"g": group}, threshold=0.5, min_group_size=4)
    attribute = report.attributes[0]
    by_group = {g.group: g for g in attribute.groups}
    assert by_group["goods"].tpr is None
    assert by_group["goods"].fpr == pytest.approx(0.25)
    # m: TPR 2/2, FPR 1/2; n: TPR 1/2, FPR 0/2 -> EOD max(0.5, 0.5) over m and n only.
    assert attribute.equalized_odds_difference == pytest.approx(0.5)
    # DPD over all three gated groups: m 3/4, goods 1/4, n 1/4.
    assert attribute.demographic_parity_difference == pytest.approx(0.5)
    assert "fewer than 1 actual bads or goods: goods" in (attribute.note or "")


def test_fewer_than_two_gated_groups_give_no_difference() -> None:
    report = fairness_report(LABELS, SCORES, {"region": GROUP}, threshold=0.5, min_group_size=10)
    attribute = report.attributes[0]
    assert attribute.demographic_parity_difference is None
    assert attribute.equalized_odds_difference is None
    assert attribute.note == (
        "3 groups below 10 rows reported, not gated: A, B, C; "
        "fewer than two groups large enough to compare"
    )
    assert len(attribute.groups) == 3


def test_dict_is_json_and_round_trips_exactly() -> None:
    report = fairness_report(
        LABELS,
        SCORES,
        {"region": GROUP, "one": np.array(["all"] * LABELS.size)},
        threshold=0.5,
        min_group_size=4,
    )
    data = report.to_dict()
    text = json.dumps(data, allow_nan=False)
    assert FairnessReport.from_dict(json.loads(text)) == report
    assert FairnessReport.from_dict(data).to_dict() == data
    assert [a["attribute"] for a in data["attributes"]] == ["region", "one"]
    assert data["attributes"][1]["demographic_parity_difference"] is None


def test_markdown_escapes_group_values() -> None:
    group = np.array(["a|b"] * 6 + ["<b>x</b>"] * 6 + ["*c*"] * 2)
    report = fairness_report(LABELS, SCORES, {"region": group}, threshold=0.5, min_group_size=4)
    markdown = report.to_markdown()
    assert "| a\\|b | 6 | 2 | 0.6667 | 1.0000 | 0.5000 | yes |" in markdown
    assert "| &lt;b&gt;x&lt;/b&gt; | 6 | 3 | 0.1667 | 0.3333 | 0.0000 | yes |" in markdown
    assert "| \\*c\\* | 2 | 1 | 1.0000 | 1.0000 | 1.0000 | no |" in markdown
    assert "<b>" not in markdown
    assert "Demographic parity difference: 0.5000" in markdown
    assert "Equalized odds difference: 0.6667" in markdown


def test_markdown_escapes_a_link_in_a_group_value_and_the_attribute_name() -> None:
    group = np.array(["[x](http://evil)"] * 6 + ["`y`"] * 6 + ["z"] * 2)
    report = fairness_report(
        LABELS, SCORES, {"re|gion\n<i>": group}, threshold=0.5, min_group_size=4
    )
    markdown = report.to_markdown()
    assert "### re\\|gion &lt;i&gt;\n" in markdown
    assert "| \\[x\\](http://evil) | 6 | 2 |" in markdown
    assert "| \\`y\\` | 6 | 3 |" in markdown
    assert "[x](" not in markdown
    # The small group's name reaches the note, escaped there too.
    assert "Note: 1 group below 4 rows reported, not gated: z" in markdown


def test_misaligned_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="group 'g' must hold one value per label"):
        fairness_report(LABELS, SCORES, {"g": GROUP[:-1]}, threshold=0.5, min_group_size=1)
    with pytest.raises(ValueError, match="scores must hold one value per label"):
        fairness_report(LABELS, SCORES[:-1], {}, threshold=0.5, min_group_size=1)
    with pytest.raises(ValueError, match="0/1"):
        fairness_report(LABELS * 2, SCORES, {}, threshold=0.5, min_group_size=1)


def test_gaps_equal_fairlearns_own_functions_when_every_group_is_gated() -> None:
    from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

    rng = np.random.default_rng(11)
    n = 5_000
    group = rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1]).astype(object)
    labels = (rng.random(n) < np.where(group == "a", 0.2, 0.35)).astype(int)
    scores = np.clip(0.3 * labels + rng.random(n) * 0.7 + np.where(group == "d", 0.1, 0), 0, 1)
    report = fairness_report(
        labels, scores, {"g": group}, threshold=0.5, min_group_size=30, min_outcome_count=20
    )
    attribute = report.attribute("g")
    assert attribute is not None and all(g.gated for g in attribute.groups)
    selected = (scores >= 0.5).astype(int)
    assert attribute.demographic_parity_difference == pytest.approx(
        demographic_parity_difference(labels, selected, sensitive_features=group), abs=1e-12
    )
    assert attribute.equalized_odds_difference == pytest.approx(
        equalized_odds_difference(labels, selected, sensitive_features=group), abs=1e-12
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_group_rates_equal_fairlearns_metric_frame_to_1e_9(seed: int) -> None:
    """The grouped pass gives fairlearn's MetricFrame figures, group by group."""
    from functools import partial

    from fairlearn.metrics import (
        MetricFrame,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )

    from modelops.ml.fairness import group_rates

    rng = np.random.default_rng(seed)
    rows = 20_000
    y = (rng.random(rows) < 0.3).astype(int)
    selected = (rng.random(rows) < 0.25 + 0.2 * y).astype(int)
    labels = rng.choice(
        np.array(["a", "b", "c", "d e", "(missing)"]), rows, p=[0.4, 0.3, 0.2, 0.09, 0.01]
    )
    frame = MetricFrame(
        metrics={
            "selection_rate": partial(selection_rate, pos_label=1),
            "tpr": partial(true_positive_rate, pos_label=1),
            "fpr": partial(false_positive_rate, pos_label=1),
        },
        y_true=y,
        y_pred=selected,
        sensitive_features=labels,
    ).by_group

    rates = group_rates("g", y, selected, labels, min_size=30)

    assert [r.group for r in rates] == sorted(frame.index)
    for rate in rates:
        assert rate.selection_rate == pytest.approx(
            frame.loc[rate.group, "selection_rate"], abs=1e-9
        )
        assert rate.tpr == pytest.approx(frame.loc[rate.group, "tpr"], abs=1e-9)
        assert rate.fpr == pytest.approx(frame.loc[rate.group, "fpr"], abs=1e-9)
