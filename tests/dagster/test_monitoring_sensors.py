"""The monitoring sensors on their own, with `dg.build_sensor_context`, an ephemeral instance
and in-memory resources: new files request their month once, breaches request one
retraining of the champion the audit log records."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from modelops.defs import monitoring_sensors as sensors_module
from modelops.defs.monitoring_sensors import monitoring_sensors
from modelops.defs.use_case import use_case_definitions
from modelops.governance.audit_records import AuditEvent
from modelops.governance.model_record import write_model_record
from modelops.ml.incident_record import INCIDENTS_FILE, Incident, MonthIncidents
from modelops.ml.monthly_drift import DRIFT_FILE, MonthlyDrift
from modelops.names import (
    DATA_INCIDENTS,
    MONTHLY_DRIFT,
    monthly,
    new_files_sensor,
    retraining_sensor,
)
from modelops.resources.alerts import LocalAlerts
from modelops.resources.audit_sqlite import SqliteAuditLog
from modelops.spec import UseCaseSpec
from modelops.spec.risk import load_risk_policy
from support.fakes import MemoryArtifactStore, MemorySource, model_record

UC = "german_credit"
RESOURCE_KEYS = ("store", "source", "tracking", "alerts", "audit_log", "decisions", "runtimes")


def sensor(spec: UseCaseSpec, name: str) -> tuple[dg.SensorDefinition, dg.Definitions]:
    """One of the use case's monitoring sensors, and the definitions its requests refer to."""
    (found,) = [s for s in monitoring_sensors(spec) if s.name == name]
    assert isinstance(found, dg.SensorDefinition)
    return found, use_case_definitions(spec, load_risk_policy())


def tick(
    sensor: tuple[dg.SensorDefinition, dg.Definitions], cursor: str | None, **resources: object
) -> dg.SensorExecutionData:
    definition, definitions = sensor
    unused = {key: dg.ResourceDefinition.mock_resource() for key in RESOURCE_KEYS}
    with dg.build_sensor_context(
        instance=dg.DagsterInstance.ephemeral(),
        cursor=cursor,
        resources=resources,
        definitions=dg.Definitions.merge(definitions, dg.Definitions(resources=unused)),
    ) as context:
        return definition.evaluate_tick(context)


def test_each_new_or_replaced_batch_requests_its_month_once(german_spec: UseCaseSpec):
    assert german_spec.monitoring is not None
    files = german_spec.monitoring.batches
    source = MemorySource()
    for month in ("2025-01", "2025-02"):
        source.put(str(files.source_for(month, german_spec.source).path), b"rows", token="a")
    new_batches = sensor(german_spec, new_files_sensor(UC, "batches"))

    first = tick(new_batches, None, source=source)
    assert [r.partition_key for r in first.run_requests or []] == ["2025-01-01", "2025-02-01"]
    assert not tick(new_batches, first.cursor, source=source).run_requests

    source.put(str(files.source_for("2025-02", german_spec.source).path), b"again", token="b")
    replaced = tick(new_batches, first.cursor, source=source)
    assert [r.partition_key for r in replaced.run_requests or []] == ["2025-02-01"]
    assert json.loads(replaced.cursor or "{}")["2025-02"] == "b"


@pytest.fixture
def champion_v1(
    tmp_path: Path, german_spec: UseCaseSpec
) -> tuple[MemoryArtifactStore, SqliteAuditLog]:
    """A store and an audit log in which version 1 is champion."""
    store, log = MemoryArtifactStore(), SqliteAuditLog(path=str(tmp_path / "audit.db"))
    log.append(
        AuditEvent(event="promotion", actor="val@bank.example", use_case=UC, model_version="1")
    )
    write_model_record(store, UC, model_record(registered_name=UC))
    return store, log


def drift_month(
    store: MemoryArtifactStore, month: str, *, breach: bool, version: str = "1"
) -> None:
    summary = MonthlyDrift(
        month=month,
        model_version=version,
        rows=1000,
        drifted_share=0.6 if breach else 0.0,
        dataset_drift=breach,
        drifted_columns=["purpose"] if breach else [],
        score_psi=0.02,
        score_psi_band="stable",
        max_csi=0.01,
        max_csi_column="purpose",
        breach=breach,
    )
    name = monthly(MONTHLY_DRIFT, month)
    store.store_files(UC, name, {DRIFT_FILE: summary.model_dump_json().encode()})


def test_breaches_request_one_retraining_and_alert_the_owners(
    german_spec: UseCaseSpec, champion_v1, tmp_path: Path
):
    store, log = champion_v1
    alerts = LocalAlerts(path=str(tmp_path / "alerts.jsonl"))
    retraining = sensor(german_spec, retraining_sensor(UC))
    drift_month(store, "2025-01", breach=False)
    drift_month(store, "2025-02", breach=True)

    quiet = tick(retraining, None, store=store, alerts=alerts, audit_log=log)
    assert not quiet.run_requests  # one breach in the window is not enough

    drift_month(store, "2025-03", breach=True)
    due = tick(retraining, None, store=store, alerts=alerts, audit_log=log)
    (request,) = due.run_requests or []
    assert request.run_key == f"retrain:{UC}:drift:2025-03"
    assert [a["kind"] for a in alerts.read()] == ["retraining"]

    again = tick(retraining, due.cursor, store=store, alerts=alerts, audit_log=log)
    assert not again.run_requests and "cooldown" in (again.skip_message or "")


def test_no_champion_means_nothing_to_retrain(german_spec: UseCaseSpec, tmp_path: Path):
    store, log = MemoryArtifactStore(), SqliteAuditLog(path=str(tmp_path / "audit.db"))
    drift_month(store, "2025-02", breach=True)
    drift_month(store, "2025-03", breach=True)
    result = tick(
        sensor(german_spec, retraining_sensor(UC)),
        None,
        store=store,
        alerts=LocalAlerts(path=str(tmp_path / "alerts.jsonl")),
        audit_log=log,
    )
    assert not result.run_requests
    assert "no champion" in (result.skip_message or "")


def incident_month(store: MemoryArtifactStore, month: str) -> None:
    """A month classified as a data incident (a unit change), as the scoring run stores it."""
    record = MonthIncidents(
        month=month,
        rows=1000,
        incidents=(
            Incident(
                kind="scale_change",
                severity="critical",
                column="credit_amount",
                evidence="credit_amount: median 2.3 vs 2,320 in training",
            ),
        ),
    )
    name = monthly(DATA_INCIDENTS, month)
    store.store_files(UC, name, {INCIDENTS_FILE: record.model_dump_json().encode()})


def play_year(
    spec: UseCaseSpec,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    month_apart: timedelta,
    shift_learnt: bool,
) -> tuple[list[list[str]], list[str]]:
    """A year of monthly drift played through the retraining sensor, two ticks per month
    (the second a minute later: a storm of signals), `month_apart` of wall clock between
    months. March is a data incident that breaches; the population shifts from April on. The
    retrained version is promoted before the next month; `shift_learnt` says whether its
    months stop breaching. Returns each tick's run keys and the alert kinds."""
    store, log = MemoryArtifactStore(), SqliteAuditLog(path=str(tmp_path / "audit.db"))
    promote(store, log, "1")
    alerts = LocalAlerts(path=str(tmp_path / "alerts.jsonl"))
    retraining = sensor(spec, retraining_sensor(UC))
    start = datetime(2025, 1, 5, tzinfo=UTC)
    champion, cursor, keys = "1", None, []
    for index in range(12):
        month = f"2025-{index + 1:02d}"
        shifted = index >= 3 and not (champion == "2" and shift_learnt)
        if month == "2025-03":
            incident_month(store, month)
        drift_month(store, month, breach=shifted or month == "2025-03", version=champion)
        for storm in range(2):
            now = start + index * month_apart + timedelta(minutes=storm)
            monkeypatch.setattr(sensors_module, "clock", lambda now=now: now)
            result = tick(retraining, cursor, store=store, alerts=alerts, audit_log=log)
            cursor = result.cursor if result.cursor is not None else cursor
            keys.append([str(r.run_key) for r in result.run_requests or []])
        if any(keys[-2:]) and champion == "1":
            champion = "2"
            promote(store, log, champion)
    return keys, [a["kind"] for a in alerts.read()]


def promote(store: MemoryArtifactStore, log: SqliteAuditLog, version: str) -> None:
    write_model_record(
        store, UC, model_record(registered_name=UC, version=version, run_id=f"r{version}")
    )
    log.append(
        AuditEvent(event="promotion", actor="val@bank.example", use_case=UC, model_version=version)
    )


@pytest.mark.parametrize("shift_learnt", [True, False], ids=["drift_settles", "drift_persists"])
def test_a_replayed_year_and_a_real_year_retrain_alike(
    german_spec: UseCaseSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shift_learnt: bool
):
    """The incident month does not count; the shift gives one retraining; a shift the new
    champion still breaches on gives one escalation, never a second retraining."""
    replay = play_year(
        german_spec, tmp_path / "replay", monkeypatch, month_apart=timedelta(seconds=5),
        shift_learnt=shift_learnt,
    )  # fmt: skip
    real = play_year(
        german_spec, tmp_path / "real", monkeypatch, month_apart=timedelta(days=30),
        shift_learnt=shift_learnt,
    )  # fmt: skip
    assert replay == real
    keys, alert_kinds = replay
    assert [k for tick_keys in keys for k in tick_keys] == [f"retrain:{UC}:drift:2025-05"]
    escalations = [] if shift_learnt else ["escalation"]
    assert alert_kinds == ["retraining", *escalations]
