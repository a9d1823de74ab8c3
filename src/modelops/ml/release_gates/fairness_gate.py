"""The fairness gate: every planned attribute's parity and odds gaps within the plan's limits.

Demographic parity compares decline rates, so it needs groups of enough rows
(`min_group_size`). Equalized odds compares TPR and FPR, rates of bads and of goods, so it
needs groups with enough of both: the larger of the fairness `min_outcome_count` and the
plan's `min_slice_bads` / `min_slice_goods` (the same minimum as the slice floors). With
intervals (a review computed from the holdout), each gap carries a bootstrap interval and,
where the plan says so, fails only when the whole interval is above its limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelops.formatting import limit, number, pass_fail, table
from modelops.ml.evaluation.threshold_rule import NEARLY_ALL
from modelops.ml.release_gates.gates import Figure, Verdict
from modelops.ml.release_gates.intervals import GroupCounts, Interval, decides_fail, gap_intervals

if TYPE_CHECKING:
    from modelops.ml.fairness import AttributeFairness, FairnessReport, GroupRates
    from modelops.ml.release_gates.plan import GatePlan

DIGITS = 3


def odds_minimums(plan: GatePlan) -> tuple[int, int]:
    """Actual bads and goods a group needs to take part in equalized odds."""
    return (
        max(plan.min_outcome_count, plan.min_slice_bads or 0),
        max(plan.min_outcome_count, plan.min_slice_goods or 0),
    )


def fairness(plan: GatePlan, report: FairnessReport, with_intervals: bool = False) -> Verdict:
    """Every planned attribute's gaps within the plan's limits, over large enough groups."""
    max_dpd = plan.max_demographic_parity_difference
    max_eod = plan.max_equalized_odds_difference
    min_bads, min_goods = odds_minimums(plan)
    interval_rule = bool(plan.fail_only_when_interval_excludes_limit)
    limits: dict[str, Figure] = {
        "max_demographic_parity_difference": max_dpd,
        "max_equalized_odds_difference": max_eod,
        "min_group_size": plan.min_group_size,
        "min_outcome_count": plan.min_outcome_count,
    }
    if plan.min_slice_bads is not None:
        limits.update(min_slice_bads=plan.min_slice_bads, min_slice_goods=plan.min_slice_goods)
    measured: dict[str, Figure] = {"threshold": report.threshold}
    failures: list[str] = []
    notes: list[str] = []
    rows: list[list[str]] = []
    if (report.min_group_size, report.min_outcome_count) != (
        plan.min_group_size,
        plan.min_outcome_count,
    ):
        failures.append(
            f"report computed with groups of >= {report.min_group_size} rows and "
            f">= {report.min_outcome_count} of each outcome, the plan requires "
            f"{plan.min_group_size} and {plan.min_outcome_count}"
        )
    absent = [a for a in plan.fairness_attributes if report.attribute(a) is None]
    if absent:
        failures.append(f"not in the fairness report: {', '.join(absent)}")
    for name in plan.fairness_attributes:
        attribute = report.attribute(name)
        if attribute is None:
            continue
        odds_groups = [g for g in attribute.groups if _in_odds(g, min_bads, min_goods)]
        dpd = attribute.demographic_parity_difference
        eod = attribute.equalized_odds_difference
        if (min_bads, min_goods) != (report.min_outcome_count,) * 2:
            eod = _odds_gap(odds_groups)
        dpd_ci = eod_ci = None
        if with_intervals:
            dpd_ci, eod_ci = gap_intervals(
                [_counts(g) for g in attribute.groups if g.gated],
                [_counts(g) for g in odds_groups],
            )
        measured[f"{name}.demographic_parity_difference"] = dpd
        measured[f"{name}.equalized_odds_difference"] = eod
        for key, interval in (("demographic_parity", dpd_ci), ("equalized_odds", eod_ci)):
            if interval is not None:
                measured[f"{name}.{key}_low"] = interval.low
                measured[f"{name}.{key}_high"] = interval.high
        dpd_ok = dpd is None or not decides_fail(
            dpd, dpd_ci, max_dpd, lower_is_limit=False, interval_rule=interval_rule
        )
        eod_ok = eod is None or not decides_fail(
            eod, eod_ci, max_eod, lower_is_limit=False, interval_rule=interval_rule
        )
        if not dpd_ok:
            failures.append(f"{name} DPD {_shown(dpd, dpd_ci)} > {limit(max_dpd)}")
        if not eod_ok:
            failures.append(f"{name} EOD {_shown(eod, eod_ci)} > {limit(max_eod)}")
        if (dpd is None or eod is None) and attribute.note:
            notes.append(f"{name}: {attribute.note}")
        undefined = "" if dpd is not None and eod is not None else " (n/a)"
        rows.append(
            [
                name,
                _shown(dpd, dpd_ci, 4),
                _shown(eod, eod_ci, 4),
                pass_fail(dpd_ok and eod_ok) + undefined,
                _left_out(attribute, min_bads, min_goods),
            ]
        )
    details = [
        f"Limits: demographic parity difference <= {limit(max_dpd)}, equalized odds "
        f"difference <= {limit(max_eod)}, over groups of >= {plan.min_group_size} rows "
        f"(equalized odds: >= {min_bads} actual bads and >= {min_goods} goods); "
        f"selected = predicted bad at threshold {report.threshold:g}."
        + (
            " Gaps fail only when the whole 95% interval is above the limit."
            if interval_rule
            else ""
        ),
        "",
        *table(["Attribute", "DPD", "EOD", "Result", "Not gated for EOD"], rows),
        "",
        report.to_markdown(),
    ]
    warning = threshold_warning(report)
    if warning:
        notes.insert(0, warning)
        details.insert(0, f"**Warning:** {warning}\n")
    if failures:
        summary = "; ".join(failures)
    elif not plan.fairness_attributes:
        summary = "no fairness attribute in the plan"
    else:
        summary = (
            f"{len(plan.fairness_attributes)} attribute(s) within DPD <= {limit(max_dpd)} and "
            f"EOD <= {limit(max_eod)}"
        )
        if notes:
            summary += "; " + "; ".join(notes)
    return Verdict(not failures, summary, measured, limits, "\n".join(details))


def threshold_warning(report: FairnessReport) -> str | None:
    """When the operating threshold accepts (or declines) nearly every holdout row, the decline
    rates and error rates compared here say nothing: say so (ml/evaluation/threshold_rule.py)."""
    groups = report.attributes[0].groups if report.attributes else ()
    rows = sum(g.n for g in groups)
    if not rows:
        return None
    declined = sum(g.selection_rate * g.n for g in groups) / rows
    if declined <= 1 - NEARLY_ALL:
        return (
            f"threshold {report.threshold:g} accepts {1 - declined:.1%} of the holdout: these "
            "gaps say little; declare evaluation.threshold_rule"
        )
    if declined >= NEARLY_ALL:
        return f"threshold {report.threshold:g} declines {declined:.1%} of the holdout"
    return None


def _in_odds(group: GroupRates, min_bads: int, min_goods: int) -> bool:
    return group.gated and group.positives >= min_bads and group.n - group.positives >= min_goods


def _odds_gap(groups: list[GroupRates]) -> float | None:
    tprs = [g.tpr for g in groups if g.tpr is not None]
    fprs = [g.fpr for g in groups if g.fpr is not None]
    if len(groups) < 2 or not tprs or not fprs:
        return None
    return max(max(tprs) - min(tprs), max(fprs) - min(fprs))


def _counts(group: GroupRates) -> GroupCounts:
    goods = group.n - group.positives
    return GroupCounts(
        group=group.group,
        bads=group.positives,
        goods=goods,
        selected_bads=round((group.tpr or 0.0) * group.positives),
        selected_goods=round((group.fpr or 0.0) * goods),
    )


def _left_out(attribute: AttributeFairness, min_bads: int, min_goods: int) -> str:
    """'40_59 (17 bads < 20)' for every group too small for equalized odds."""
    parts = []
    for g in attribute.groups:
        goods = g.n - g.positives
        if not g.gated:
            parts.append(f"{g.group} ({g.n} rows)")
        elif g.positives < min_bads:
            parts.append(f"{g.group} ({g.positives} bads < {min_bads})")
        elif goods < min_goods:
            parts.append(f"{g.group} ({goods} goods < {min_goods})")
    return ", ".join(parts) or "none"


def _shown(value: float | None, interval: Interval | None, digits: int = DIGITS) -> str:
    if interval is None or value is None:
        return number(value, digits=digits)
    return interval.text(value, digits)
