"""Alerts to the people a spec names as owners: freshness breaches (the spec's `freshness`
section) and failed runs.

- freshness: the source data or the model older than its SLA alerts its owners, once per
  breach (the cursor remembers what was alerted);
- run failures: the owners of the failed run's use case are alerted.
"""

import json
from datetime import UTC, datetime

import dagster as dg

from modelops import names
from modelops.formatting import duration
from modelops.resources.alerts import AlertSink
from modelops.spec import UseCaseSpec


def freshness_alerts(spec: UseCaseSpec) -> dg.SensorDefinition:
    """Alerts the owners once when an asset is older than its SLA (cursor: what was alerted)."""
    limits = {names.RAW: spec.freshness.source_max_age, names.MODEL: spec.freshness.model_max_age}

    @dg.sensor(
        name=f"{spec.id}_freshness_alerts",
        minimum_interval_seconds=15 * 60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Alerts the owners when the source data or the model is older than its SLA.",
    )
    def sensor(
        context: dg.SensorEvaluationContext, alerts: AlertSink
    ) -> dg.SensorResult | dg.SkipReason:
        alerted: dict[str, int] = json.loads(context.cursor) if context.cursor else {}
        now = datetime.now(UTC)
        late = []
        for name, limit in limits.items():
            records = context.instance.fetch_materializations(
                dg.AssetKey([spec.id, name]), limit=1
            ).records
            if not records:
                continue
            latest = records[0]
            age = now - datetime.fromtimestamp(latest.timestamp, UTC)
            if age <= limit or alerted.get(name) == latest.storage_id:
                continue
            alerted[name] = latest.storage_id
            late.append(name)
            alerts.notify(
                spec,
                "freshness",
                f"{name} is {duration(age)} old (SLA {duration(limit)})",
                asset=name,
                age_hours=age.total_seconds() / 3600,
            )
        if not late:
            return dg.SkipReason("everything within its SLA (or already alerted)")
        return dg.SensorResult(cursor=json.dumps(alerted, sort_keys=True))

    return sensor


def run_failure_alerts(specs: list[UseCaseSpec]) -> dg.SensorDefinition:
    """A failed run alerts the owners of the use case(s) it was running."""
    by_id = {spec.id: spec for spec in specs}

    @dg.run_failure_sensor(
        name="run_failure_alerts",
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Alerts the owners of a use case when one of its runs fails.",
    )
    def sensor(context: dg.RunFailureSensorContext, alerts: AlertSink) -> None:
        run = context.dagster_run
        use_cases = {run.tags.get(names.TRAINING_TAG), run.tags.get(names.SCORING_TAG)} - {None}
        if not use_cases and run.asset_selection:
            use_cases = {key.path[0] for key in run.asset_selection}
        message = context.failure_event.message or "run failed"
        for use_case in sorted(use_cases or by_id):
            if use_case not in by_id:
                continue
            alerts.notify(
                by_id[use_case],
                "run_failure",
                f"run {run.run_id[:8]} of {run.job_name} failed: {message[:300]}",
                severity="critical",
                run_id=run.run_id,
                job=run.job_name,
            )

    return sensor
