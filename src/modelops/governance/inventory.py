"""The model inventory: every use case with its owner, tier, status and review dates.

Regulators ask banks for a complete model inventory; it is built from the specs (owners,
tier) and the audit log (champion, last validation), never kept by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from modelops.formatting import table
from modelops.governance.history import GATE_RESULT, parse_time
from modelops.governance.release_desk import ReleaseDesk
from modelops.spec import UseCaseSpec
from modelops.spec.risk import RiskPolicy

if TYPE_CHECKING:
    from modelops.resources.audit_log import AuditLog
    from modelops.resources.tracking import ModelTracking


@dataclass(frozen=True)
class InventoryRow:
    use_case: str
    owner: str
    team: str
    tier: str
    status: str
    champion: str | None
    challenger: str | None
    last_validation: str | None
    """When the release gates last ran on the champion (else on any version)."""
    champion_since: str | None
    next_review: str | None
    """Champion since + the tier's review interval: revalidation is due then."""
    review_overdue: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def inventory_rows(
    specs: Sequence[UseCaseSpec],
    policy: RiskPolicy,
    tracking: ModelTracking,
    audit_log: AuditLog,
    now: datetime | None = None,
) -> list[InventoryRow]:
    """One row per use case, in the order of the specs."""
    return [inventory_row(ReleaseDesk(spec, policy, tracking, audit_log), now) for spec in specs]


def inventory_row(desk: ReleaseDesk, now: datetime | None = None) -> InventoryRow:
    now = now or datetime.now(UTC)
    spec = desk.spec
    status = desk.status()
    changes = desk.champion_history()
    since = changes[-1].recorded_at if changes and status.champion else None
    gate_runs = [
        r
        for r in desk.audit_log.records(use_case=spec.id, events=[GATE_RESULT])
        if status.champion is None or r.model_version == status.champion
    ]
    last_validation = gate_runs[-1].recorded_at if gate_runs else None
    next_review = None
    overdue = False
    if since is not None:
        due = parse_time(since) + desk.tier_policy.review_interval
        next_review = due.date().isoformat()
        overdue = due < now
    if status.champion is None:
        state = "awaiting approval" if status.awaiting_approval else "not released"
    else:
        state = "in production" + (" (review overdue)" if overdue else "")
        if status.awaiting_approval:
            state += "; challenger awaiting approval"
    return InventoryRow(
        use_case=spec.id,
        owner=spec.owners.person,
        team=spec.owners.team,
        tier=desk.tier,
        status=state,
        champion=status.champion,
        challenger=status.challenger,
        last_validation=last_validation,
        champion_since=since,
        next_review=next_review,
        review_overdue=overdue,
    )


def inventory_markdown(rows: Sequence[InventoryRow]) -> str:
    header = [
        "use case",
        "owner",
        "tier",
        "status",
        "champion",
        "challenger",
        "last validation",
        "next review",
    ]
    return "\n".join(
        table(
            header,
            [
                [
                    r.use_case,
                    r.owner,
                    r.tier,
                    r.status,
                    _v(r.champion),
                    _v(r.challenger),
                    (r.last_validation or "-")[:19],
                    r.next_review or "-",
                ]
                for r in rows
            ],
        )
    )


def _v(version: str | None) -> str:
    return f"v{version}" if version else "-"
