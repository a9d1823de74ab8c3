"""Sensors and schedules that close the monitoring loop: the spec's `monitoring.batches`,
`monitoring.labels` and `monitoring.retraining` sections.

- new batches and new labels: a file landing for a month requests that month's run;
- retraining: drift in k of the last n months, realised performance below the floor, enough
  new labels (`ml.retraining.retraining_decision`), or the spec's schedule, with a cooldown
  counted in scored months (the partition calendar; the wall clock only stops a storm) and
  run keys so a burst of signals gives one run; drift that persists against a champion
  trained because of drift raises one escalation instead of another retraining.

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
from modelops.monitoring.history import drift_summaries, incident_months, performance_summaries
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
        f"{policy.cooldown_months} scored months (and {policy.cooldown}).",
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
        _note_drift_champion(state, champion)
        drift = {s.month: s for s in drift_summaries(store, spec) if s.model_version == champion}
        performance = {
            s.month: s.auc
            for s in performance_summaries(store, spec)
            if s.model_version == champion
        }
        incidents = incident_months(store, spec)
        months = [
            MonthSignal(m, s.breach, performance.get(m), incident=m in incidents)
            for m, s in sorted(drift.items())
        ]
        now = clock()
        decision = retraining_decision(
            use_case=spec.id,
            policy=policy,
            months=months,
            new_labelled_rows=_labelled_rows_since(context.instance, store, spec, champion),
            last_retraining=last,
            now=now,
            last_retraining_month=state.get("last_month"),
            trained_for_drift=state.get("drift_champion") == champion,
        )
        if decision.escalation is not None:
            escalated = list(state.get("escalated", []))
            if champion in escalated:
                return _skip(f"escalated already for version {champion}", state)
            alerts.notify(
                spec,
                "escalation",
                f"version {champion}: {decision.escalation}",
                severity="critical",
                champion=champion,
            )
            return _skip(
                f"escalated: {decision.escalation}", {**state, "escalated": [*escalated, champion]}
            )
        if not decision.due:
            return _skip(decision.detail, state)
        alerts.notify(
            spec,
            "retraining",
            f"retraining requested: {decision.detail}",
            severity="info",
            reason=decision.reason,
            champion=champion,
        )
        requested = {
            **state,
            "last": now.isoformat(),
            "last_month": max(drift) if drift else state.get("last_month"),
            "run_key": decision.run_key,
            # Which champion asked for a drift retraining; the next champion is then the one
            # trained because of drift (`drift_champion`), against which drift escalates.
            "drift_from": champion if decision.reason == "drift" else None,
            "drift_champion": None,
        }
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=decision.run_key,
                    tags={names.RETRAINING_REASON_TAG: str(decision.reason)},
                )
            ],
            cursor=json.dumps(requested, sort_keys=True),
        )

    return sensor


def clock() -> datetime:
    """The wall clock of the retraining sensor's storm guard (tests replace it)."""
    return datetime.now(UTC)


def _note_drift_champion(state: dict[str, object], champion: str) -> None:
    """The first champion after a drift request is the one trained because of drift."""
    asked_by = state.get("drift_from")
    if asked_by and champion != asked_by and not state.get("drift_champion"):
        state["drift_champion"] = champion


def _skip(reason: str, state: dict[str, object]) -> dg.SensorResult:
    """No request; the cursor keeps what this tick learnt (the champion, an escalation)."""
    return dg.SensorResult(skip_reason=reason, cursor=json.dumps(state, sort_keys=True))


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
