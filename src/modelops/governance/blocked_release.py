"""What to say when a release gate blocks: which gate, by how much, and what can be done.

One text for the run summary, `modelops status` and the card (`blocked_release_markdown`):
the failed gate's own summary (its figure, interval and limit), the shortfall where the gate
compares one figure with one limit, and the documented options of the tier: change the model,
the data or the spec and retrain (a new version), or, where the tier allows it, a recorded,
time-limited exception granted by the tier's second role (`modelops exception grant`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from modelops.formatting import cell, code
from modelops.governance.gate_exceptions import GateException, exceptions_of
from modelops.governance.history import GATE_RESULT, version_state
from modelops.printed_commands import modelops
from modelops.spec.risk import TierPolicy

if TYPE_CHECKING:
    from modelops.governance.release_desk import ReleaseDesk

SHORTFALLS: dict[str, tuple[tuple[str, str, int], ...]] = {
    "minimum_performance": (("auc", "min_auc", 1), ("ks", "min_ks", 1), ("brier", "max_brier", -1)),
    "beats_baseline": (("difference", "baseline_margin", 1),),
    "score_stability": (("score_psi", "max_score_psi", -1),),
}
"""Gates comparing one measured figure with one limit: (figure, limit, +1 = a floor)."""


def shortfall(result: Mapping[str, Any]) -> str | None:
    """'AUC below 0.70 by 0.040' for the figures of a failed gate that miss their limit."""
    measured, limits = result.get("measured", {}), result.get("limits", {})
    parts = []
    for figure, bound, sign in SHORTFALLS.get(str(result.get("name")), ()):
        value, limit = measured.get(figure), limits.get(bound)
        if not isinstance(value, int | float) or not isinstance(limit, int | float):
            continue
        gap = (limit - value) * sign
        if gap > 0:
            side = "below" if sign > 0 else "above"
            parts.append(f"{figure} {side} {limit:g} by {gap:.3f}")
    if result.get("name") == "no_worse_than_champion":
        value, tolerance = measured.get("difference"), limits.get("champion_tolerance")
        if isinstance(value, int | float) and isinstance(tolerance, int | float):
            gap = -tolerance - value
            if gap > 0:
                parts.append(f"AUC difference below -{tolerance:g} by {gap:.3f}")
    return "; ".join(parts) or None


def options_lines(
    use_case: str, version: str, gate: str, policy: TierPolicy, tier: str
) -> list[str]:
    """The documented ways forward from a blocked release at this tier."""
    lines = [
        "What can be done:",
        "  1. change the model, the data or the spec and retrain: the new version goes through "
        "every gate again",
    ]
    if policy.exceptions_allowed:
        lines += [
            f"  2. a recorded exception of at most {policy.exception_max_days} days, granted by a "
            f"{policy.exception_approver_role} who did not build the model, then the usual "
            "approval:",
            f"     {modelops('exception grant')} -u {use_case} --version {version} "
            f"--gate {gate} --role {policy.exception_approver_role} --days N "
            '--reason "..."',
        ]
    else:
        lines.append(f"  (the {tier} tier allows no gate exception)")
    return lines


def blocked_gate_lines(results: Sequence[Mapping[str, Any]], excepted: frozenset[str]) -> list[str]:
    """One line per failed required gate: its summary, shortfall and any active exception."""
    lines = []
    for result in results:
        if not result.get("blocking"):
            continue
        name = str(result.get("name"))
        by = shortfall(result)
        text = f"{name}: {result.get('summary', '')}" + (f" ({by})" if by else "")
        if name in excepted:
            text += " [under an active exception]"
        lines.append(text)
    return lines


def release_block_lines(desk: ReleaseDesk, now: datetime | None = None) -> list[str]:
    """For `modelops status`: the newest gated version, if it is blocked, with the options;
    then every exception granted for the use case (active or expired)."""
    records = list(desk.audit_log.records(use_case=desk.spec.id))
    gated = [r for r in records if r.event == GATE_RESULT and r.model_version]
    lines: list[str] = []
    if gated:
        version = str(gated[-1].model_version)
        state = version_state(records, desk.spec.id, version, now)
        if state.failed_gates:
            results = state.gates.details.get("results", []) if state.gates else []
            head = "passes only under an exception for" if state.gates_passed else "is BLOCKED by"
            lines.append(f"  v{version} {head} the release gate(s):")
            lines += [f"    - {line}" for line in blocked_gate_lines(results, state.excepted_gates)]
            if state.blocking_gates:
                options = options_lines(
                    desk.spec.id, version, state.blocking_gates[0], desk.tier_policy, desk.tier
                )
                lines += [f"  {line}" for line in options]
    exceptions = exceptions_of(records, desk.spec.id)
    lines += [f"  {e.line(now)}" for e in exceptions]
    return lines


def blocked_release_markdown(
    gate_review: Mapping[str, Any],
    exceptions: Sequence[GateException],
    policy: TierPolicy,
    *,
    use_case: str,
    now: datetime | None = None,
) -> list[str]:
    """The card's section (markdown lines; empty when nothing blocked and nothing excepted).

    `gate_review` is the version's `gates.json` (`GateReview.to_dict()`); `exceptions` are
    `exceptions_of(audit records, use_case, version)`."""
    results = gate_review.get("results", [])
    active = frozenset(e.gate for e in exceptions if e.active(now))
    blocked = blocked_gate_lines(results, active)
    if not blocked and not exceptions:
        return []
    version, tier = str(gate_review.get("model_version")), str(gate_review.get("tier"))
    lines = ["## Blocked release gates and exceptions", ""]
    lines += [f"- {cell(line)}" for line in blocked]
    remaining = [r for r in results if r.get("blocking") and r.get("name") not in active]
    if remaining:
        options = options_lines(use_case, version, str(remaining[0]["name"]), policy, tier)
        lines += ["", cell(options[0]), ""]
        lines += [f"- {cell(o.strip())}" for o in options[1:] if not o.strip().startswith("uv ")]
        commands = [o.strip() for o in options if o.strip().startswith("uv ")]
        lines += [f"  {code(c)}" for c in commands]
    if exceptions:
        lines += ["", "Exceptions (audit log, `gate_exception`):", ""]
        lines += [f"- {cell(e.line(now))}" for e in exceptions]
    return lines


def blocked_next_steps(use_cases: Sequence[str]) -> list[str]:
    """For the run summary: where to read what blocked and the ways forward."""
    if not use_cases:
        return []
    lines = ["", "Blocked by a release gate (the failed checks above say which, by how much):"]
    for uc in use_cases:
        lines.append(
            f"  {modelops('status')} -u {uc}    # the blocking gate, its shortfall, the options"
        )
    lines += [
        "  Options: change the model, the data or the spec and retrain (a new version), or, "
        "where the tier allows it, a recorded time-limited exception granted by a second role "
        "(modelops exception grant; docs/governance.md#when-a-gate-blocks).",
    ]
    return lines
