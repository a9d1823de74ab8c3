"""The gate rules (slice floors and fairness are in `slice_gate` and `fairness_gate`): each
reads its evidence, compares it with the plan's limits and says why it passed or failed, with
the figures and a markdown table a validator needs to check it.

Summaries give measured figures with three decimals and limits as the policy writes them;
detail tables of per-group and per-slice figures keep the reports' four decimals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from modelops.formatting import Markdown, cell, finite, limit, number, pass_fail, signed, table
from modelops.ml.release_gates.intervals import (
    Interval,
    auc_difference_interval,
    decides_fail,
)

if TYPE_CHECKING:
    from modelops.ml.evaluation import EvaluationReport
    from modelops.ml.release_gates.availability import FeatureAvailability
    from modelops.ml.release_gates.intervals import HoldoutIntervals
    from modelops.ml.release_gates.plan import GatePlan

EPSILON = 1e-9
"""A figure exactly at its limit passes; float noise (0.7 + 0.02 != 0.72) must not fail it."""

DIGITS = 3
"""Decimals of the figures in gate summaries."""

Figure = float | str | None
"""A measured figure or a limit as stored: a number, a name, or None when undefined."""


@dataclass(frozen=True)
class Verdict:
    """What a rule concludes; the gate's name and whether it is required are added later."""

    passed: bool
    summary: str
    measured: dict[str, Figure]
    limits: dict[str, Figure]
    details: str


def minimum_performance(
    plan: GatePlan, evaluation: EvaluationReport, intervals: HoldoutIntervals | None = None
) -> Verdict:
    """The candidate's holdout AUC, KS and Brier within the spec's thresholds."""
    candidate = evaluation.candidate
    found = intervals.candidate if intervals else {}
    checks = [
        ("AUC", "auc", plan.min_auc, ">="),
        ("KS", "ks", plan.min_ks, ">="),
        ("Brier", "brier", plan.max_brier, "<="),
    ]
    measured = {metric: finite(getattr(candidate, metric)) for _, metric, _, _ in checks}
    limits: dict[str, Figure] = {}
    parts: list[str] = []
    rows: list[list[str]] = []
    passed = True
    for label, metric, bound, direction in checks:
        if bound is None:
            continue
        limits[f"{'min' if direction == '>=' else 'max'}_{metric}"] = bound
        actual = measured[metric]
        interval = found.get(metric)
        ok = not decides_fail(
            actual,
            interval,
            bound,
            lower_is_limit=direction == ">=",
            interval_rule=bool(plan.fail_only_when_interval_excludes_limit),
        )
        passed &= ok
        shown = _relation(actual, bound, direction)
        figure = number(actual, digits=DIGITS) if interval is None else interval.text(actual)
        _with_interval(measured, metric, interval)
        parts.append(f"{label} {figure} {shown} {limit(bound)}")
        rows.append([label, figure, Markdown(f"{direction} {limit(bound)}"), pass_fail(ok)])
    if not limits:
        return Verdict(True, "no thresholds set in spec.evaluation", measured, limits, "")
    details = table(["Metric", "Holdout", "Limit", "Result"], rows)
    return Verdict(passed, "holdout " + "; ".join(parts), measured, limits, "\n".join(details))


def beats_baseline(
    plan: GatePlan, evaluation: EvaluationReport, intervals: HoldoutIntervals | None = None
) -> Verdict:
    """The candidate's holdout AUC at least the plan's margin above the simple baseline's."""
    ours = finite(evaluation.candidate.auc)
    theirs = finite(evaluation.baseline.auc)
    difference = ours - theirs if ours is not None and theirs is not None else None
    interval = _difference_interval(evaluation, ours, theirs, intervals)
    passed = not decides_fail(
        difference,
        interval,
        plan.baseline_margin,
        lower_is_limit=True,
        interval_rule=bool(plan.fail_only_when_interval_excludes_limit),
    )
    measured: dict[str, Figure] = {
        "candidate_auc": ours,
        "baseline_auc": theirs,
        "difference": difference,
    }
    _with_interval(measured, "difference", interval)
    limits: dict[str, Figure] = {"baseline_margin": plan.baseline_margin}
    shown = _relation(difference, plan.baseline_margin, ">=")
    ours_text, theirs_text = number(ours, digits=DIGITS), number(theirs, digits=DIGITS)
    summary = (
        f"AUC {ours_text} vs baseline {theirs_text}: difference "
        f"{_signed_with(difference, interval)} {shown} required margin "
        f"{limit(plan.baseline_margin)}"
    )
    details = table(
        ["Model", "Holdout AUC"],
        [["candidate", ours_text], [f"baseline ({evaluation.baseline_name})", theirs_text]],
    )
    return Verdict(passed, summary, measured, limits, "\n".join(details))


def no_worse_than_champion(
    plan: GatePlan, evaluation: EvaluationReport, intervals: HoldoutIntervals | None = None
) -> Verdict:
    """The candidate's holdout AUC no more than the plan's tolerance below the champion's; a
    champion that could not be scored fails, since a comparison not made is not passed."""
    limits: dict[str, Figure] = {"champion_tolerance": plan.champion_tolerance}
    ours = finite(evaluation.candidate.auc)
    champion = evaluation.champion
    if champion is None:
        return Verdict(
            True,
            "no champion yet",
            {"candidate_auc": ours, "champion_version": None},
            limits,
            "No champion in production: nothing to compare against.",
        )
    version = champion.version
    if champion.error is not None or champion.metrics is None:
        error = champion.error or "no metrics recorded"
        return Verdict(
            False,
            f"champion {version} could not be scored on the holdout: {error}",
            {"candidate_auc": ours, "champion_version": version, "champion_error": error},
            limits,
            f"Champion {cell(version)} could not be scored: {cell(error)}",
        )
    theirs = finite(champion.metrics.auc)
    difference = ours - theirs if ours is not None and theirs is not None else None
    interval = _difference_interval(evaluation, ours, theirs, intervals)
    passed = not decides_fail(
        difference,
        interval,
        -plan.champion_tolerance,
        lower_is_limit=True,
        interval_rule=bool(plan.fail_only_when_interval_excludes_limit),
    )
    shown = _relation(difference, -plan.champion_tolerance, ">=")
    ours_text, theirs_text = number(ours, digits=DIGITS), number(theirs, digits=DIGITS)
    summary = (
        f"AUC {ours_text} vs champion {version} {theirs_text}: difference "
        f"{_signed_with(difference, interval)} {shown} -{limit(plan.champion_tolerance)} allowed"
    )
    measured: dict[str, Figure] = {
        "candidate_auc": ours,
        "champion_version": version,
        "champion_auc": theirs,
        "difference": difference,
    }
    _with_interval(measured, "difference", interval)
    details = table(
        ["Model", "Holdout AUC"],
        [["candidate", ours_text], [f"champion {version}", theirs_text]],
    )
    return Verdict(passed, summary, measured, limits, "\n".join(details))


def score_stability(
    plan: GatePlan, score_psi: float | None, interval: Interval | None = None
) -> Verdict:
    """The PSI of the candidate's scores, training set against holdout, within the limit."""
    psi = finite(score_psi)
    limits: dict[str, Figure] = {"max_score_psi": plan.max_score_psi}
    if psi is None:
        summary = "score PSI not measured"
        return Verdict(False, summary, {"score_psi": None}, limits, summary + ".")
    passed = _at_most(psi, plan.max_score_psi)
    shown = "<=" if passed else ">"
    figure = number(psi, digits=DIGITS) if interval is None else interval.text(psi)
    summary = f"score PSI {figure} {shown} {limit(plan.max_score_psi)}"
    details = "PSI of the candidate's scores, training set against holdout: " + summary + "."
    measured: dict[str, Figure] = {"score_psi": psi}
    _with_interval(measured, "score_psi", interval)
    return Verdict(passed, summary, measured, limits, details)


def feature_availability(availability: FeatureAvailability) -> Verdict:
    """Production delivers every input column usably: present, of a type validation reads,
    not all null, and quarantining at most the schema's share of rows (the same limit as
    validation). A check of nothing proves nothing and fails."""
    from modelops.ml.release_gates.availability import PROBLEMS

    found = {problem: availability.with_problem(problem) for problem in PROBLEMS}
    largest = availability.largest_share
    measured: dict[str, Figure] = {
        "checked": len(availability.checked),
        "rows": availability.rows,
        "missing": len(found["missing"]),
        "wrong_type": len(found["wrong type"]),
        "empty": len(found["empty"]),
        "over_quarantine_limit": len(found["over the quarantine limit"]),
        "largest_quarantine_share": largest,
        "source": availability.source,
    }
    limits: dict[str, Figure] = {
        "missing": 0,
        "wrong_type": 0,
        "empty": 0,
        "max_quarantine_share": availability.max_quarantine_share,
    }
    source = availability.source
    if availability.unreadable:
        summary = f"{source} could not be read: {availability.unreadable}"
        return Verdict(False, summary, measured, limits, summary + ".")
    if not availability.checked:
        summary = f"no column was checked against {source}"
        return Verdict(False, summary, measured, limits, summary + ".")
    shares = f"limit {availability.max_quarantine_share * 100:g}% per column"
    rows = [
        [
            c.header,
            c.name,
            "n/a" if c.quarantined_share is None else f"{c.quarantined_share:.2%}",
            pass_fail(c.problem is None),
            c.reason if c.problem is None else f"{c.problem}: {c.reason}",
        ]
        for c in availability.columns
    ]
    details = [
        f"Production source: {cell(source)} ({availability.rows} rows checked; quarantine "
        f"{shares}, as validation)",
        "",
        *table(["Column", "Spec column", "Quarantined", "Result", "Reason"], rows),
    ]
    if not availability.problems:
        summary = f"all {len(availability.checked)} input columns available in {source}"
        if largest:
            summary += f"; at most {largest:.2%} of a column's rows quarantined ({shares})"
        return Verdict(True, summary, measured, limits, "\n".join(details))
    counts = [f"{len(lines)} {kind}" for kind, lines in found.items() if lines]
    summary = f"{', '.join(counts)} in {source}: " + "; ".join(availability.problems)
    return Verdict(False, summary, measured, limits, "\n".join(details))


def protected_attributes_not_inputs(plan: GatePlan, fitted_inputs: Sequence[str]) -> Verdict:
    """No protected attribute (nor its one-hot columns) among the inputs the fitted model
    consumes, unless the spec explicitly allows it."""
    found = {
        attribute: [f for f in fitted_inputs if f == attribute or f.startswith(f"{attribute}_")]
        for attribute in plan.protected_attributes
    }
    found = {attribute: inputs for attribute, inputs in found.items() if inputs}
    measured: dict[str, Figure] = {
        "fitted_inputs": len(fitted_inputs),
        "protected_inputs": ", ".join(i for inputs in found.values() for i in inputs) or None,
    }
    limits: dict[str, Figure] = {
        "protected_attributes": ", ".join(plan.protected_attributes) or None,
        "allow_protected_features": str(plan.allow_protected_features).lower(),
    }
    rows = [[a, ", ".join(inputs)] for a, inputs in found.items()]
    details = "\n".join(table(["Protected attribute", "Fitted inputs"], rows)) if rows else ""
    if not found:
        summary = (
            f"none of {len(plan.protected_attributes)} protected attribute(s) among the "
            f"{len(fitted_inputs)} fitted inputs"
        )
        return Verdict(True, summary, measured, limits, summary + ".")
    listed = "; ".join(f"{a}: {', '.join(inputs)}" for a, inputs in found.items())
    if plan.allow_protected_features:
        summary = f"protected attributes used as inputs, allowed by the spec: {listed}"
        return Verdict(True, summary, measured, limits, details)
    summary = f"protected attributes among the inputs: {listed}"
    return Verdict(False, summary, measured, limits, details)


def _relation(value: float | None, bound: float, direction: str) -> str:
    """How the point estimate stands to its limit (the interval rule may still pass it)."""
    ok = _at_least(value, bound) if direction == ">=" else _at_most(value, bound)
    return direction if ok else {">=": "<", "<=": ">"}[direction]


def _with_interval(measured: dict[str, Figure], name: str, interval: Interval | None) -> None:
    if interval is not None:
        measured[f"{name}_low"], measured[f"{name}_high"] = interval.low, interval.high


def _signed_with(value: float | None, interval: Interval | None) -> str:
    text = signed(value, digits=DIGITS)
    if interval is None:
        return text
    return f"{text} [{interval.low:+.{DIGITS}f}, {interval.high:+.{DIGITS}f}]"


def _difference_interval(
    evaluation: EvaluationReport,
    ours: float | None,
    theirs: float | None,
    intervals: HoldoutIntervals | None,
) -> Interval | None:
    """Only when intervals were computed for this review (a stored review keeps its text)."""
    if intervals is None or ours is None or theirs is None:
        return None
    bads = evaluation.candidate.positives
    return auc_difference_interval(ours, theirs, bads, evaluation.candidate.n - bads)


def _at_least(value: float | None, bound: float) -> bool:
    return value is not None and value >= bound - EPSILON


def _at_most(value: float | None, bound: float) -> bool:
    return value is not None and value <= bound + EPSILON
