"""What the audit log says about a use case: each version's gates, approvals and rejections,
and who was champion when.

MLflow keeps no alias history (MLflow issue #2169), so the platform answers "which version was
champion at time T" from its own hash-chained records: every promotion and rollback is a
record, replayed here as a stack (a promotion pushes, a rollback pops).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from modelops.governance.audit_records import AuditRecord as Record

CHAMPION = "champion"
CHALLENGER = "challenger"

TRAINING = "training"
GATE_THRESHOLDS = "gate_thresholds"
GATE_RESULT = "gate_result"
APPROVAL = "approval"
REJECTION = "rejection"
PROMOTION = "promotion"
ROLLBACK = "rollback"
CHALLENGER_SET = "challenger"
REPRODUCTION = "reproduction"
ALERT = "alert"
RETRAINING_TRIGGER = "retraining_trigger"
GATE_EXCEPTION = "gate_exception"

CHAMPION_EVENTS = (PROMOTION, ROLLBACK)


@dataclass(frozen=True)
class Approval:
    approver: str
    role: str
    reason: str
    recorded_at: str
    seq: int


@dataclass(frozen=True)
class VersionState:
    """One model version as the log records it."""

    use_case: str
    version: str
    training: Record | None
    gates: Record | None
    """The latest gate result of the version."""
    approvals: tuple[Approval, ...]
    rejection: Record | None
    excepted_gates: frozenset[str] = frozenset()
    """Failed gates overridden by an unexpired exception (governance/gate_exceptions.py)."""
    exception_granters: frozenset[str] = frozenset()
    """Who granted those exceptions: they may not also approve the version (four eyes)."""

    @property
    def gates_passed(self) -> bool:
        """Every required gate passed, or each that failed is under an active exception."""
        if self.gates is None:
            return False
        return bool(self.gates.details.get("passed")) or (
            bool(self.failed_gates) and not self.blocking_gates
        )

    @property
    def developers(self) -> frozenset[str]:
        """Who built the version: they may not approve it (separation of duties)."""
        if self.training is None:
            return frozenset()
        people = {self.training.actor, self.training.details.get("owner", "")}
        return frozenset(p.lower() for p in people if p)

    @property
    def artifact_sha256(self) -> str | None:
        return None if self.training is None else self.training.details.get("artifact_sha256")

    @property
    def failed_gates(self) -> list[str]:
        """The required gates that failed, whether or not under an exception."""
        if self.gates is None:
            return []
        return [g["name"] for g in self.gates.details.get("results", []) if g.get("blocking")]

    @property
    def blocking_gates(self) -> list[str]:
        """The failed required gates that still block: no active exception."""
        return [g for g in self.failed_gates if g not in self.excepted_gates]


def version_state(
    records: Iterable[Record], use_case: str, version: str, now: datetime | None = None
) -> VersionState:
    training = gates = rejection = None
    approvals: list[Approval] = []
    granted: list[Record] = []
    for record in records:
        if record.use_case != use_case or record.model_version != version:
            continue
        if record.event == TRAINING:
            training = record
        elif record.event == GATE_RESULT:
            gates = record
        elif record.event == APPROVAL:
            approvals.append(
                Approval(
                    approver=record.actor,
                    role=str(record.details.get("role", "")),
                    reason=record.reason,
                    recorded_at=record.recorded_at,
                    seq=record.seq,
                )
            )
        elif record.event == REJECTION:
            rejection = record
        elif record.event == GATE_EXCEPTION:
            granted.append(record)
    # An exception covers the gate result it was granted against (not a later re-run's) until
    # it expires.
    moment = now or datetime.now(UTC)
    active = [
        r
        for r in granted
        if gates is not None
        and r.seq > gates.seq
        and parse_time(str(r.details.get("until"))) > moment
    ]
    return VersionState(
        use_case,
        version,
        training,
        gates,
        tuple(approvals),
        rejection,
        frozenset(str(r.details.get("gate")) for r in active),
        frozenset(r.actor.strip().lower() for r in active),
    )


@dataclass(frozen=True)
class ChampionChange:
    seq: int
    recorded_at: str
    event: str
    """`promotion` or `rollback`."""
    version: str
    previous: str | None
    actor: str
    reason: str


def champion_changes(records: Iterable[Record], use_case: str) -> list[ChampionChange]:
    return [
        ChampionChange(
            seq=r.seq,
            recorded_at=r.recorded_at,
            event=r.event,
            version=str(r.model_version),
            previous=r.details.get("previous"),
            actor=r.actor,
            reason=r.reason,
        )
        for r in sorted(records, key=lambda r: r.seq)
        if r.use_case == use_case and r.event in CHAMPION_EVENTS
    ]


def champion_stack(changes: Sequence[ChampionChange]) -> list[str]:
    """The champions in order of reign, the current one last: promotions push, rollbacks pop
    back to the version they restored."""
    stack: list[str] = []
    for change in changes:
        if change.event == ROLLBACK:
            while stack and stack[-1] != change.version:
                stack.pop()
            if not stack:
                stack.append(change.version)
        else:
            if change.version in stack:
                stack.remove(change.version)  # promoted again: its reign starts anew
            stack.append(change.version)
    return stack


def current_champion(records: Iterable[Record], use_case: str) -> str | None:
    """The version the log says is champion now (None before the first promotion)."""
    stack = champion_stack(champion_changes(records, use_case))
    return stack[-1] if stack else None


def champion_at(records: Iterable[Record], use_case: str, when: datetime) -> str | None:
    """The version that was champion at `when` (None before the first promotion)."""
    moment = _as_utc(when)
    changes = [
        c for c in champion_changes(records, use_case) if parse_time(c.recorded_at) <= moment
    ]
    stack = champion_stack(changes)
    return stack[-1] if stack else None


def parse_time(text: str) -> datetime:
    """An ISO-8601 time; naive times are taken as UTC (the platform's one timezone)."""
    return _as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
