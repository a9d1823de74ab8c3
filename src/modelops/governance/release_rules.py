"""The release rules: who may approve or reject a model version, and when it may be champion.

Pure functions over what the audit log says about one version (`VersionState`) and the
approval rule of the use case's tier, so they read the same from the desk, the CLI and tests.
Each returns the reasons an action is refused, in words an operator can act on; none means
the action is allowed. What people typed (names, roles, reasons) is `quoted` in them, so a
refusal cannot be made to read like something else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from modelops.formatting import quoted
from modelops.governance.history import Approval, VersionState
from modelops.spec.risk import ApprovalRule, Tier


@dataclass(frozen=True)
class ReleaseStatus:
    """Where a use case's release stands: champion, challenger and what is still missing."""

    use_case: str
    tier: Tier
    champion: str | None
    challenger: str | None
    awaiting_approval: bool
    approvals_needed: int
    approver_roles: tuple[str, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        champion = f"v{self.champion}" if self.champion else "none"
        text = f"{self.use_case} ({self.tier} tier): champion {champion}"
        if self.challenger and self.challenger != self.champion:
            text += f", challenger v{self.challenger}"
            if self.awaiting_approval:
                roles = " or ".join(self.approver_roles)
                text += f" awaiting {self.approvals_needed} approval(s) by {roles}"
        return text


def approvals_required(rule: ApprovalRule) -> int:
    return rule.approvals if rule.required else 0


def valid_approvals(state: VersionState, rule: ApprovalRule) -> list[Approval]:
    """The approvals that count: an allowed role, not a developer of the version, one each."""
    roles = set(rule.roles)
    seen: set[str] = set()
    valid = []
    for approval in state.approvals:
        who = approval.approver.lower()
        if approval.role in roles and who not in state.developers and who not in seen:
            seen.add(who)
            valid.append(approval)
    return valid


def approvals_missing(state: VersionState, rule: ApprovalRule) -> int:
    return max(0, approvals_required(rule) - len(valid_approvals(state, rule)))


def promotion_problems(
    state: VersionState, rule: ApprovalRule, *, tier: Tier, use_case: str
) -> list[str]:
    """Why `state`'s version may not become champion now."""
    v = state.version
    if state.training is None:
        return [f"version {v} has no training record in the audit log"]
    problems = []
    if state.rejection is not None:
        problems.append(
            f"version {v} was rejected by {quoted(state.rejection.actor)} "
            f"({state.rejection.recorded_at}): {quoted(state.rejection.reason)}"
        )
    if state.gates is None:
        problems.append(f"version {v} has not been through the release gates")
    elif not state.gates_passed:
        problems.append(f"version {v} failed the release gate(s) {', '.join(state.blocking_gates)}")
    missing = approvals_required(rule) - len(valid_approvals(state, rule))
    if missing > 0:
        roles = " or ".join(rule.roles)
        problems.append(
            f"the {tier} tier needs {approvals_required(rule)} approval(s) by "
            f"{roles} from someone other than the model's developer; {missing} missing "
            f"(modelops approve -u {use_case} --version {v} --role ROLE "
            "--reason ...)"
        )
    return problems


def approval_problems(
    state: VersionState, approver: str, role: str, rule: ApprovalRule, *, tier: Tier
) -> list[str]:
    """Why `approver`, acting as `role`, may not approve `state`'s version."""
    who = approver.strip().lower()
    problems = []
    if "@" not in who:
        problems.append("the approver must be named by email address")
    if state.training is None:
        return [f"version {state.version} has no training record in the audit log"]
    if who in state.developers:
        problems.append(
            f"{quoted(approver)} built this model version (separation of duties: the developer "
            "cannot approve their own model)"
        )
    if state.excepted_gates and who in state.exception_granters:
        problems.append(
            f"{quoted(approver)} granted the gate exception this release relies on (four eyes: "
            "the approval must come from someone else)"
        )
    if rule.roles and role not in rule.roles:
        problems.append(
            f"role {quoted(role)} may not approve at the {tier} tier "
            f"(allowed: {', '.join(rule.roles)})"
        )
    if not state.gates_passed:
        problems.append(
            f"version {state.version} has not passed its release gates "
            f"({', '.join(state.blocking_gates) or 'no gate result'})"
        )
    if state.rejection is not None:
        problems.append(f"version {state.version} was rejected: {quoted(state.rejection.reason)}")
    if any(a.approver.lower() == who for a in state.approvals):
        problems.append(f"{quoted(approver)} already approved version {state.version}")
    return problems


def rejection_problem(
    state: VersionState, actor: str, role: str, rule: ApprovalRule, *, tier: Tier
) -> str | None:
    """Why `actor`, acting as `role`, may not reject `state`'s version (None: they may).

    A validator rejects; the model's own developer may withdraw their candidate.
    """
    if state.training is None:
        return f"version {state.version} has no training record in the log"
    who = actor.strip().lower()
    if "@" not in who:
        return "the person rejecting must be named by email address"
    if rule.roles and role not in rule.roles and who not in state.developers:
        return (
            f"role {quoted(role)} may not reject at the {tier} tier (allowed: "
            f"{', '.join(rule.roles)}, or the model's developer withdrawing it)"
        )
    return None
