"""Review-overdue alerts: a model in production past its next review date (champion since +
its tier's review interval, as `modelops inventory` shows it) alerts the people its spec
routes `review_overdue` to, once per due date, checked daily. The inventory only shows an
overdue review to whoever opens it; revalidation is a regulatory duty, so someone is told.
"""

import json
from collections.abc import Callable
from datetime import UTC, datetime

import dagster as dg

from modelops.governance.inventory import inventory_row
from modelops.governance.release_desk import ReleaseDesk
from modelops.resources.alerts import AlertSink
from modelops.resources.audit_log import AuditLog
from modelops.resources.tracking import ModelTracking
from modelops.spec import UseCaseSpec
from modelops.spec.risk import RiskPolicy

REVIEW_SENSOR = "review_overdue_alerts"
CHECK_INTERVAL_SECONDS = 24 * 3600


def review_overdue_alerts(
    specs: list[UseCaseSpec],
    policy: RiskPolicy,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dg.SensorDefinition:
    """Daily: each use case whose review is overdue alerts once per due date (cursor: the
    due date last alerted per use case, so a new champion or revalidation starts afresh)."""

    @dg.sensor(
        name=REVIEW_SENSOR,
        minimum_interval_seconds=CHECK_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Alerts the owners once when a model in production is past its review date.",
    )
    def sensor(
        context: dg.SensorEvaluationContext,
        tracking: ModelTracking,
        audit_log: AuditLog,
        alerts: AlertSink,
    ) -> dg.SensorResult | dg.SkipReason:
        alerted: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        now, raised = clock(), []
        for spec in specs:
            try:
                row = inventory_row(ReleaseDesk(spec, policy, tracking, audit_log), now)
            except Exception as exc:  # one use case's registry problem does not hide others
                context.log.warning(f"{spec.id}: review date not read ({type(exc).__name__})")
                continue
            if not row.review_overdue or alerted.get(spec.id) == row.next_review:
                continue
            alerts.notify(
                spec,
                "review_overdue",
                f"version {row.champion} ({row.tier} tier) in production since "
                f"{(row.champion_since or '?')[:10]} was due for review on {row.next_review}",
                champion=row.champion,
                next_review=row.next_review,
            )
            alerted[spec.id] = str(row.next_review)
            raised.append(spec.id)
        if not raised:
            return dg.SkipReason("no review overdue (or already alerted)")
        return dg.SensorResult(cursor=json.dumps(alerted, sort_keys=True))

    return sensor
