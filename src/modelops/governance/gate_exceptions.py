"""Gate exceptions: a recorded, time-limited override of one blocking gate of one version.

Where the tier allows it (`exceptions_allowed`), someone with the tier's
`exception_approver_role` who did not build the model may let one failed required gate stop
blocking, for at most `exception_max_days` days, with a reason. It is never silent: the
exception is a `gate_exception` record of the hash-chained audit log (who, which gate, why,
until when), status and the card show it, and it expires: after `until` the gate blocks
again (a version not yet approved can no longer be approved). It covers the gate result it
was granted against; a re-run of the gates needs a new exception. The version still needs the
tier's usual approval, by someone else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from modelops.formatting import quoted
from modelops.governance.history import GATE_EXCEPTION, VersionState, parse_time
from modelops.spec.risk import TierPolicy

if TYPE_CHECKING:
    from modelops.governance.audit_records import AuditRecord
    from modelops.governance.release_desk import ReleaseDesk


@dataclass(frozen=True)
class GateException:
    """One granted exception as the audit log records it."""

    version: str
    gate: str
    granted_by: str
    role: str
    reason: str
    granted_at: str
    until: str
    gate_summary: str

    def active(self, now: datetime | None = None) -> bool:
        return parse_time(self.until) > (now or datetime.now(UTC))

    def line(self, now: datetime | None = None) -> str:
        state = "active" if self.active(now) else "EXPIRED"
        return (
            f"exception ({state}) for gate {self.gate} of v{self.version}: granted by "
            f"{quoted(self.granted_by)} ({self.role}) on {self.granted_at[:10]}, until "
            f"{self.until[:10]}: {quoted(self.reason)}"
        )


def exception_problems(
    state: VersionState,
    policy: TierPolicy,
    *,
    tier: str,
    gate: str,
    granted_by: str,
    role: str,
    days: int,
    reason: str,
) -> list[str]:
    """Why this exception may not be granted (none: it may)."""
    if not policy.exceptions_allowed:
        return [
            f"the {tier} tier allows no gate exception: change the model, the data or the spec "
            "and retrain (a new version goes through the gates again)"
        ]
    who = granted_by.strip().lower()
    problems = []
    if "@" not in who:
        problems.append("the person granting must be named by email address")
    if role != policy.exception_approver_role:
        problems.append(
            f"role {quoted(role)} may not grant exceptions at the {tier} tier "
            f"(allowed: {policy.exception_approver_role})"
        )
    if who in state.developers:
        problems.append(f"{quoted(granted_by)} built this model version and may not except it")
    if state.gates is None:
        problems.append(f"version {state.version} has no gate result to except")
    elif gate not in state.failed_gates:
        blocking = ", ".join(state.failed_gates) or "none"
        problems.append(
            f"gate {quoted(gate)} did not block version {state.version} (blocking: {blocking})"
        )
    if not 1 <= days <= policy.exception_max_days:
        problems.append(
            f"an exception lasts 1 to {policy.exception_max_days} days at the {tier} tier, "
            f"not {days}"
        )
    if not reason.strip():
        problems.append("a reason is required")
    if state.rejection is not None:
        problems.append(f"version {state.version} was rejected")
    return problems


def grant_exception(
    desk: ReleaseDesk,
    version: str,
    *,
    gate: str,
    granted_by: str,
    role: str,
    days: int,
    reason: str,
    now: datetime | None = None,
) -> GateException:
    """Record the exception in the audit log, or raise `ReleaseRefused` with why not."""
    from modelops.governance.release_desk import ReleaseRefused

    moment = now or datetime.now(UTC)
    with desk.audit_log.exclusive():
        state = desk.state(str(version))
        problems = exception_problems(
            state,
            desk.tier_policy,
            tier=desk.tier,
            gate=gate,
            granted_by=granted_by,
            role=role,
            days=days,
            reason=reason,
        )
        if problems:
            raise ReleaseRefused(
                f"exception for gate {quoted(gate)} of {desk.spec.id} version {version} "
                "refused: " + "; ".join(problems)
            )
        summary = _gate_summary(state, gate)
        until = (moment + timedelta(days=days)).isoformat()
        desk.record_event(
            GATE_EXCEPTION,
            granted_by,
            state,
            reason=reason,
            details={
                "gate": gate,
                "role": role,
                "days": days,
                "until": until,
                "granted_at": moment.isoformat(),
                "gate_summary": summary,
                "tier": desk.tier,
            },
        )
    return exceptions_of(desk.audit_log.records(use_case=desk.spec.id), desk.spec.id)[-1]


def exceptions_of(
    records: list[AuditRecord], use_case: str, version: str | None = None
) -> list[GateException]:
    """Every exception granted for the use case (or one version), oldest first."""
    return [
        GateException(
            version=str(r.model_version),
            gate=str(r.details.get("gate")),
            granted_by=r.actor,
            role=str(r.details.get("role")),
            reason=r.reason,
            granted_at=str(r.details.get("granted_at", r.recorded_at)),
            until=str(r.details.get("until")),
            gate_summary=str(r.details.get("gate_summary", "")),
        )
        for r in records
        if r.event == GATE_EXCEPTION
        and r.use_case == use_case
        and (version is None or str(r.model_version) == str(version))
    ]


def _gate_summary(state: VersionState, gate: str) -> str:
    results = state.gates.details.get("results", []) if state.gates else []
    return next((str(r.get("summary", "")) for r in results if r.get("name") == gate), "")
