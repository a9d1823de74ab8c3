"""The slice floors gate: the candidate's AUC on every segment value large enough to judge.

A slice is gated when it holds at least the plan's rows and, since an AUC is a comparison of
bads with goods, at least the plan's bads and goods (`min_slice_bads`, `min_slice_goods`; a
plan recorded before they existed gates on rows alone). Smaller slices are reported with why
they are not gated, e.g. "not gated (12 bads < 15)".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelops.formatting import Markdown, finite, limit, number, pass_fail, table
from modelops.ml.release_gates.gates import Figure, Verdict
from modelops.ml.release_gates.intervals import decides_fail

if TYPE_CHECKING:
    from modelops.ml.evaluation import EvaluationReport
    from modelops.ml.release_gates.intervals import HoldoutIntervals
    from modelops.ml.release_gates.plan import GatePlan

DIGITS = 3


def not_gated_reason(plan: GatePlan, rows: int, bads: int) -> str | None:
    """Why a slice or group of this size is not gated (None: it is)."""
    if rows < plan.min_slice_rows:
        return f"< {plan.min_slice_rows} rows"
    if plan.min_slice_bads is not None and bads < plan.min_slice_bads:
        return f"{bads} bads < {plan.min_slice_bads}"
    goods = rows - bads
    if plan.min_slice_goods is not None and goods < plan.min_slice_goods:
        return f"{goods} goods < {plan.min_slice_goods}"
    return None


def slice_floors(
    plan: GatePlan, evaluation: EvaluationReport, intervals: HoldoutIntervals | None = None
) -> Verdict:
    """The candidate's AUC on every gated segment value above the plan's floor."""
    floor, min_rows = plan.min_slice_auc, plan.min_slice_rows
    interval_rule = bool(plan.fail_only_when_interval_excludes_limit)
    limits: dict[str, Figure] = {"min_slice_auc": floor, "min_slice_rows": min_rows}
    if plan.min_slice_bads is not None:
        limits.update(min_slice_bads=plan.min_slice_bads, min_slice_goods=plan.min_slice_goods)
    gated: list[tuple[str, float]] = []
    failed: list[str] = []
    rows: list[list[object]] = []
    measured: dict[str, Figure] = {}
    for segment in evaluation.segments:
        name = f"{segment.column}={segment.value}"
        auc = finite(segment.auc)
        interval = intervals.slices.get(name) if intervals else None
        shown = number(auc) if interval is None else f"{number(auc)} [{interval.low:.4f}, "
        shown += "" if interval is None else f"{interval.high:.4f}]"
        reason = not_gated_reason(plan, segment.n, segment.positives)
        if reason is not None:
            result: object = Markdown(f"not gated ({reason})")
        elif auc is None:
            result = "skipped: AUC undefined (single class)"
        else:
            gated.append((name, auc))
            fails = decides_fail(
                auc, interval, floor, lower_is_limit=True, interval_rule=interval_rule
            )
            result = pass_fail(not fails)
            if interval is not None:
                measured[f"{name}.auc_low"] = interval.low
                measured[f"{name}.auc_high"] = interval.high
            if fails:
                figure = number(auc, digits=DIGITS)
                text = f"{name} AUC {figure} < {limit(floor)}"
                if interval is not None:
                    text = (
                        f"{name} AUC {interval.text(auc)} below {limit(floor)} "
                        f"by {floor - auc:.{DIGITS}f}"
                    )
                failed.append(text)
        rows.append([segment.column, segment.value, segment.n, shown, result])
    measured = {"gated_slices": len(gated), **measured}
    if gated:
        lowest_name, lowest = min(gated, key=lambda item: item[1])
        measured.update(lowest_slice=lowest_name, lowest_slice_auc=lowest)
    rule = f">= {min_rows} rows"
    if plan.min_slice_bads is not None:
        rule += f", >= {plan.min_slice_bads} bads and >= {plan.min_slice_goods} goods"
    if failed:
        summary = "; ".join(failed)
    elif gated:
        lowest_interval = intervals.slices.get(lowest_name) if intervals else None
        lowest_text = (
            number(lowest, digits=DIGITS)
            if lowest_interval is None
            else lowest_interval.text(lowest)
        )
        summary = (
            f"{len(gated)} slice(s) with {rule}, lowest AUC {lowest_text} ({lowest_name}) "
            f">= {limit(floor)}"
        )
    else:
        summary = f"no slice with {rule} and a defined AUC"
    details = table(["Segment", "Value", "Rows", "AUC", "Result"], rows) if rows else []
    if interval_rule:
        details = ["Fails only when the whole 95% interval is below the floor.", "", *details]
    return Verdict(not failed, summary, measured, limits, "\n".join(details))
