"""Sensors and schedules that close the monitoring loop (M17, M18, M22).

- new batches and new labels: a file landing for a month requests that month's run;
- retraining: drift in k of the last n months, realised performance below the floor, enough
  new labels (`ml.retraining.retraining_decision`), or the spec's schedule, with a cooldown
  and run keys so a burst of signals gives one run;
- freshness: an asset older than its SLA alerts its owners, once per breach;
- run failures: the owners of the failed run's use case are alerted.

Every sensor keeps its state in its cursor (JSON), so it can be tested with
`dg.build_sensor_context(cursor=...)` and behaves the same under the daemon.
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from modelops.defs.jobs import (
    SCORING_TAG,
    TRAINING_TAG,
    labels_job_name,
    scoring_job_name,
    training_job_name,
)
from modelops.defs.monitoring import (
    BATCH,
    LABELS,
    SOURCE_TOKEN,
    month_of,
    monthly_partitions,
    read_drift_history,
    read_performance_history,
)
from modelops.defs.use_case import MODEL, MODEL_REF_FILE, RAW
from modelops.resources.alerts import Alert, AlertSink
from modelops.resources.audit_log import AuditLog
from modelops.resources.source import DataSource
from modelops.resources.storage import ArtifactStore
from modelops.spec.model import MonthlyFiles, UseCaseSpec

RETRAINING_REASON_TAG = "modelops/retraining_reason"
SENSOR_INTERVAL_SECONDS = 60


def sensors_for(specs: list[UseCaseSpec]) -> list[Any]:
    sensors: list[Any] = [run_failure_alerts(specs)]
    for spec in specs:
        sensors.append(freshness_alerts(spec))
        if spec.monitoring is None:
            continue
        sensors.append(
            new_files_sensor(spec, spec.monitoring.batches, "batches", scoring_job_name(spec))
        )
        if spec.monitoring.labels is not None:
            sensors.append(
                new_files_sensor(spec, spec.monitoring.labels, "labels", labels_job_name(spec))
            )
        sensors.append(retraining_sensor(spec))
        if spec.monitoring.retraining.schedule:
            sensors.append(
                dg.ScheduleDefinition(
                    name=f"{spec.id}_scheduled_retraining",
                    cron_schedule=spec.monitoring.retraining.schedule,
                    job_name=training_job_name(spec),
                    execution_timezone="UTC",
                    tags={RETRAINING_REASON_TAG: "schedule"},
                    default_status=dg.DefaultScheduleStatus.RUNNING,
                )
            )
    return sensors


def new_files_sensor(spec: UseCaseSpec, files: MonthlyFiles, what: str, job: str) -> Any:
    """Requests a month's run when its file appears or changes (cursor: month -> token).

    A month missing from the cursor (a new sensor, a lost cursor, runs launched by the demo)
    is compared with the token recorded on its latest materialization, so a file already
    processed is not processed again."""
    asset = dg.AssetKey([spec.id, BATCH if what == "batches" else LABELS])

    @dg.sensor(
        name=f"{spec.id}_new_{what}",
        job_name=job,
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"A new or replaced {what} file ({files.path}) -> that month's run.",
    )
    def sensor(context: dg.SensorEvaluationContext, source: DataSource) -> Any:
        seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        requests = []
        for partition_key in monthly_partitions(spec).get_partition_keys():
            month = month_of(partition_key)
            token = source.probe(files.source_for(month, spec.source))
            if token is None or seen.get(month) == token:
                continue
            if (
                month not in seen
                and _recorded_token(context.instance, asset, partition_key) == token
            ):
                seen[month] = token
                continue
            seen[month] = token
            requests.append(
                dg.RunRequest(run_key=f"{what}:{month}:{token}", partition_key=partition_key)
            )
        if not requests:
            return dg.SkipReason(f"no new {what} file")
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(seen, sort_keys=True))

    return sensor


def _recorded_token(instance: dg.DagsterInstance, asset: dg.AssetKey, partition: str) -> str | None:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset, asset_partitions=[partition]), limit=1
    ).records
    if not records or records[0].asset_materialization is None:
        return None
    value = records[0].asset_materialization.metadata.get(SOURCE_TOKEN)
    return str(value.value) if value is not None else None


def retraining_sensor(spec: UseCaseSpec) -> Any:
    """Requests the training job when monitoring says the champion should be replaced."""
    from modelops.ml.retraining import MonthSignal, retraining_decision

    assert spec.monitoring is not None
    policy = spec.monitoring.retraining

    @dg.sensor(
        name=f"{spec.id}_retraining",
        job_name=training_job_name(spec),
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Retrain on drift in {policy.drift_breaches} of {policy.drift_window} "
        f"months, AUC below {policy.min_auc}, or new labels; at most once per "
        f"{policy.cooldown}.",
    )
    def sensor(
        context: dg.SensorEvaluationContext,
        store: ArtifactStore,
        alerts: AlertSink,
        audit_log: AuditLog,
    ) -> Any:
        from modelops.defs.governance import serving_champion

        state = json.loads(context.cursor) if context.cursor else {}
        last = datetime.fromisoformat(state["last"]) if state.get("last") else None
        champion = serving_champion(audit_log, spec)
        if champion is None:
            return dg.SkipReason("no champion model yet: nothing to retrain")
        drift = {
            r["month"]: r
            for r in read_drift_history(store, spec).to_dicts()
            if r["model_version"] == champion
        }
        performance = {
            r["month"]: r["auc"]
            for r in read_performance_history(store, spec).to_dicts()
            if r["model_version"] == champion
        }
        months = [
            MonthSignal(m, bool(r["breach"]), performance.get(m)) for m, r in sorted(drift.items())
        ]
        now = datetime.now(UTC)
        decision = retraining_decision(
            use_case=spec.id,
            policy=policy,
            months=months,
            new_labelled_rows=_labelled_rows_since(context.instance, store, spec, champion),
            last_retraining=last,
            now=now,
        )
        if not decision.due:
            return dg.SkipReason(decision.detail)
        alerts.send(
            Alert(
                use_case=spec.id,
                kind="retraining",
                severity="info",
                summary=f"retraining requested: {decision.detail}",
                owners=tuple(spec.owners.dagster_owners),
                details={"reason": decision.reason, "champion": champion},
            )
        )
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=decision.run_key, tags={RETRAINING_REASON_TAG: str(decision.reason)}
                )
            ],
            cursor=json.dumps({"last": now.isoformat(), "run_key": decision.run_key}),
        )

    return sensor


def _labelled_rows_since(
    instance: dg.DagsterInstance, store: ArtifactStore, spec: UseCaseSpec, champion: str
) -> int:
    """Labelled rows materialized after the champion was trained."""
    if spec.monitoring is None or spec.monitoring.labels is None:
        return 0
    ref = json.loads(store.read_bytes(spec.id, MODEL, champion, MODEL_REF_FILE))
    trained_at = datetime.fromisoformat(ref["trained_at"]).timestamp() if "trained_at" in ref else 0
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey([spec.id, LABELS]), after_timestamp=trained_at),
        limit=1000,
    ).records
    latest: dict[str, int] = {}
    for record in records:
        materialization = record.asset_materialization
        if materialization is None or materialization.partition is None:
            continue
        rows = materialization.metadata.get("dagster/row_count")
        latest.setdefault(materialization.partition, int(rows.value) if rows else 0)
    return sum(latest.values())


def freshness_alerts(spec: UseCaseSpec) -> Any:
    """Alerts the owners once when an asset is older than its SLA (cursor: what was alerted)."""
    limits = {RAW: spec.freshness.source_max_age, MODEL: spec.freshness.model_max_age}

    @dg.sensor(
        name=f"{spec.id}_freshness_alerts",
        minimum_interval_seconds=15 * 60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Alerts the owners when the source data or the model is older than its SLA.",
    )
    def sensor(context: dg.SensorEvaluationContext, alerts: AlertSink) -> Any:
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
            alerts.send(
                Alert(
                    use_case=spec.id,
                    kind="freshness",
                    severity="warning",
                    summary=f"{name} is {_days(age)} old (SLA {_days(limit)})",
                    owners=tuple(spec.owners.dagster_owners),
                    details={"asset": name, "age_hours": age.total_seconds() / 3600},
                )
            )
        if not late:
            return dg.SkipReason("everything within its SLA (or already alerted)")
        return dg.SensorResult(cursor=json.dumps(alerted, sort_keys=True))

    return sensor


def run_failure_alerts(specs: list[UseCaseSpec]) -> Any:
    """A failed run alerts the owners of the use case(s) it was running."""
    owners = {spec.id: tuple(spec.owners.dagster_owners) for spec in specs}

    @dg.run_failure_sensor(
        name="run_failure_alerts",
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Alerts the owners of a use case when one of its runs fails.",
    )
    def sensor(context: dg.RunFailureSensorContext, alerts: AlertSink) -> None:
        run = context.dagster_run
        use_cases = {run.tags.get(TRAINING_TAG), run.tags.get(SCORING_TAG)} - {None}
        if not use_cases and run.asset_selection:
            use_cases = {key.path[0] for key in run.asset_selection}
        message = context.failure_event.message or "run failed"
        for use_case in sorted(use_cases or owners):
            if use_case not in owners:
                continue
            alerts.send(
                Alert(
                    use_case=use_case,
                    kind="run_failure",
                    severity="critical",
                    summary=f"run {run.run_id[:8]} of {run.job_name} failed: {message[:300]}",
                    owners=owners[use_case],
                    details={"run_id": run.run_id, "job": run.job_name},
                )
            )

    return sensor


def _days(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 86400:.1f} days"
