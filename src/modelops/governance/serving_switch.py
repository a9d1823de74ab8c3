"""The stop switch: a person stops a use case's model from answering, and resumes it.

Human oversight of an automated decision: while a use case is stopped, every door (online
service, packaged model, monthly batch) answers the fallback decision with the reason "scoring
stopped by <who>: <why>". Stopping and resuming are audit records like promotions, so the
state at any time is replayed from the hash-chained log, and who stopped it and why is kept.
Plain Python: the CLI and the service both read it through the audit log resource.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from modelops.governance.audit_records import AuditEvent, AuditRecord

if TYPE_CHECKING:
    from modelops.resources.audit_log import AuditLog

SCORING_STOPPED = "scoring_stopped"
SCORING_RESUMED = "scoring_resumed"
SWITCH_EVENTS = (SCORING_STOPPED, SCORING_RESUMED)
STOPPED_REASON_PREFIX = "scoring stopped"
"""The start of every fallback reason the stop switch causes (machine-readable)."""


class SwitchRefused(ValueError):
    """Stopping a stopped use case, or resuming a running one: nothing would change."""


@dataclass(frozen=True)
class StopState:
    """Who stopped a use case, when and why."""

    actor: str
    reason: str
    recorded_at: str
    seq: int

    @property
    def fallback_reason(self) -> str:
        return f"{STOPPED_REASON_PREFIX} by {self.actor} at {self.recorded_at}: {self.reason}"


def stop_state(records: Iterable[AuditRecord], use_case: str) -> StopState | None:
    """The stop in force after `records` (None: the use case is answering)."""
    state: StopState | None = None
    for record in records:
        if record.use_case != use_case:
            continue
        if record.event == SCORING_STOPPED:
            state = StopState(record.actor, record.reason, record.recorded_at, record.seq)
        elif record.event == SCORING_RESUMED:
            state = None
    return state


def current_stop(audit_log: AuditLog, use_case: str) -> StopState | None:
    """The stop in force now, as the audit log records it."""
    return stop_state(audit_log.records(use_case=use_case, events=list(SWITCH_EVENTS)), use_case)


def stop_scoring(audit_log: AuditLog, use_case: str, *, by: str, reason: str) -> AuditRecord:
    """Record a stop; every door answers the fallback from its next look at the log."""
    with audit_log.exclusive():
        if current_stop(audit_log, use_case) is not None:
            raise SwitchRefused(f"{use_case} is already stopped")
        return audit_log.append(
            AuditEvent(event=SCORING_STOPPED, actor=by, use_case=use_case, reason=reason)
        )


def resume_scoring(audit_log: AuditLog, use_case: str, *, by: str, reason: str) -> AuditRecord:
    """Record a resume: the champion answers again."""
    with audit_log.exclusive():
        if current_stop(audit_log, use_case) is None:
            raise SwitchRefused(f"{use_case} is not stopped")
        return audit_log.append(
            AuditEvent(event=SCORING_RESUMED, actor=by, use_case=use_case, reason=reason)
        )
