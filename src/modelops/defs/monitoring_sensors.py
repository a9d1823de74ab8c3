"""Sensors and schedules that close the monitoring loop: the spec's `monitoring.batches`,
`monitoring.labels` and `monitoring.retraining` sections.

- new batches and new labels: a file landing for a month requests that month's run;
- retraining: drift in k of the last n months, realised performance below the floor, enough
  new labels (`ml.retraining.retraining_decision`), or the spec's schedule, with a cooldown
  and run keys so a burst of signals gives one run.

Every sensor keeps its state in its cursor (JSON), so it can be tested with
`dg.build_sensor_context(cursor=...)` and behaves the same under the daemon.
"""

import json
from datetime import UTC, datetime

import dagster as dg

from modelops import names
from modelops.defs.partitions import month_of, monthly_partitions
from modelops.governance.champion import serving_champion
from modelops.governance.model_record import read_model_record
from modelops.monitoring.history import drift_summaries, performance_summaries
from modelops.resources.alerts import AlertSink
from modelops.resources.audit_log import AuditLog
from modelops.resources.source import DataSource
from modelops.resources.storage import ArtifactStore
from modelops.spec import MonthlyFiles, UseCaseSpec

SENSOR_INTERVAL_SECONDS = 60


def monitoring_sensors(spec: UseCaseSpec) -> list[dg.SensorDefinition | dg.ScheduleDefinition]:
    """New-file sensors, the retraining sensor and the retraining schedule of a use case."""
    monitoring = spec.monitoring
    if monitoring is None:
        return []
    sensors: list[dg.SensorDefinition | dg.ScheduleDefinition] = [
        new_files(spec, monitoring.batches, "batches", names.scoring_job(spec.id))
    ]
    if monitoring.labels is not None:
        sensors.append(new_files(spec, monitoring.labels, "labels", names.labels_job(spec.id)))
    sensors.append(retraining(spec))
    if monitoring.retraining.schedule:
        sensors.append(
            dg.ScheduleDefinition(
                name=f"{spec.id}_scheduled_retraining",
                cron_schedule=monitoring.retraining.schedule,
                job_name=names.training_job(spec.id),
                execution_timezone="UTC",
                tags={names.RETRAINING_REASON_TAG: "schedule"},
                default_status=dg.DefaultScheduleStatus.RUNNING,
            )
        )
    return sensors


def new_files(spec: UseCaseSpec, files: MonthlyFiles, what: str, job: str) -> dg.SensorDefinition:
    """Requests a month's run when its file appears or changes (cursor: month -> token).

    A month missing from the cursor (a new sensor, a lost cursor, runs launched by the demo)
    is compared with the token recorded on its latest materialization, so a file already
    processed is not processed again."""
    asset = dg.AssetKey([spec.id, names.BATCH if what == "batches" else names.LABELS])

    @dg.sensor(
        name=names.new_files_sensor(spec.id, what),
        job_name=job,
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"A new or replaced {what} file ({files.path}) -> that month's run.",
    )
    def sensor(
        context: dg.SensorEvaluationContext, source: DataSource
    ) -> dg.SensorResult | dg.SkipReason:
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
    value = records[0].asset_materialization.metadata.get(names.SOURCE_TOKEN)
    return str(value.value) if value is not None else None


def retraining(spec: UseCaseSpec) -> dg.SensorDefinition:
    """Requests the training job when monitoring says the champion should be replaced."""
    from modelops.ml.retraining import MonthSignal, retraining_decision

    assert spec.monitoring is not None
    policy = spec.monitoring.retraining

    @dg.sensor(
        name=names.retraining_sensor(spec.id),
        job_name=names.training_job(spec.id),
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
    ) -> dg.SensorResult | dg.SkipReason:
        state = json.loads(context.cursor) if context.cursor else {}
        last = datetime.fromisoformat(state["last"]) if state.get("last") else None
        champion = serving_champion(audit_log, spec)
        if champion is None:
            return dg.SkipReason("no champion model yet: nothing to retrain")
        drift = {s.month: s for s in drift_summaries(store, spec) if s.model_version == champion}
        performance = {
            s.month: s.auc
            for s in performance_summaries(store, spec)
            if s.model_version == champion
        }
        months = [MonthSignal(m, s.breach, performance.get(m)) for m, s in sorted(drift.items())]
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
        alerts.notify(
            spec,
            "retraining",
            f"retraining requested: {decision.detail}",
            severity="info",
            reason=decision.reason,
            champion=champion,
        )
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=decision.run_key,
                    tags={names.RETRAINING_REASON_TAG: str(decision.reason)},
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
    trained_at = read_model_record(store, spec.id, champion).trained_at.timestamp()
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=dg.AssetKey([spec.id, names.LABELS]), after_timestamp=trained_at
        ),
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
