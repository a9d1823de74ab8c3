"""Freshness and run-failure alerts, through Dagster's Python API and a real instance."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import yaml

from modelops.definitions import build_definitions
from modelops.defs import alert_sensors
from modelops.resources.alerts import LocalAlerts
from modelops.settings import Settings
from support import GERMAN_SPEC, PROJECT

UC = "german_credit"


def _settings(tmp_path: Path, **changes: object) -> Settings:
    spec = yaml.safe_load(GERMAN_SPEC.read_text())
    spec.pop("monitoring")
    for section, values in changes.items():
        spec[section] = {**spec.get(section, {}), **values}  # type: ignore[dict-item]
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / f"{UC}.yaml").write_text(yaml.safe_dump(spec))
    return Settings.from_env(
        {
            "MODELOPS_PROJECT_DIR": str(PROJECT),
            "MODELOPS_HOME": str(tmp_path / "home"),
            "MODELOPS_SPECS_DIR": str(specs),
            "MODELOPS_SOURCE_ROOTS": str(tmp_path),
        }
    )


def _alerts(settings: Settings) -> list[dict]:
    return LocalAlerts(path=str(settings.home_dir / "alerts.jsonl")).read()


def test_a_stale_source_alerts_its_owners_once(tmp_path: Path, monkeypatch) -> None:
    settings = _settings(tmp_path, freshness={"source_max_age": "2h"})
    defs = build_definitions(settings)
    instance = dg.DagsterInstance.ephemeral()
    assert dg.materialize(
        [defs.get_assets_def(dg.AssetKey([UC, "raw_dataset"]))],
        resources=defs.resources,
        instance=instance,
    ).success
    sensor = defs.resolve_sensor_def(f"{UC}_freshness_alerts")

    class ThreeHoursLater(datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[override]
            return datetime.now(tz) + timedelta(hours=3)

    monkeypatch.setattr(alert_sensors, "datetime", ThreeHoursLater)

    def tick(cursor: str | None) -> dg.SensorResult | dg.SkipReason:
        with dg.build_sensor_context(
            instance=instance, cursor=cursor, definitions=defs, resources=defs.resources
        ) as context:
            return sensor.evaluate_tick(context)

    first = tick(None)
    (alert,) = _alerts(settings)
    assert alert["kind"] == "freshness"
    assert "raw_dataset is 3 h old (SLA 2 h)" in alert["summary"]  # not "0.1 days"
    assert "anna.berg@bank.example" in alert["owners"]
    second = tick(first.cursor)  # the same stale materialization: no second alert
    assert not second.cursor or json.loads(second.cursor) == json.loads(first.cursor)
    assert len(_alerts(settings)) == 1


def test_a_fresh_source_raises_nothing(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    defs = build_definitions(settings)
    instance = dg.DagsterInstance.ephemeral()
    dg.materialize(
        [defs.get_assets_def(dg.AssetKey([UC, "raw_dataset"]))],
        resources=defs.resources,
        instance=instance,
    )
    with dg.build_sensor_context(
        instance=instance, definitions=defs, resources=defs.resources
    ) as context:
        result = defs.resolve_sensor_def(f"{UC}_freshness_alerts").evaluate_tick(context)
    assert "within its SLA" in (result.skip_message or "")
    assert _alerts(settings) == []


def test_a_failed_run_alerts_the_owners_of_its_use_case(tmp_path: Path) -> None:
    settings = _settings(tmp_path, source={"path": str(tmp_path / "missing.csv")})
    defs = build_definitions(settings)
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def(f"{UC}_pipeline").execute_in_process(
        instance=instance, raise_on_error=False
    )
    assert not result.success
    failure = next(
        e
        for e in result.all_events
        if e.event_type_value == "PIPELINE_FAILURE" or e.event_type_value == "RUN_FAILURE"
    )
    run = instance.get_run_by_id(result.run_id)
    sensor = defs.resolve_sensor_def("run_failure_alerts")
    with dg.build_run_status_sensor_context(
        sensor_name="run_failure_alerts",
        dagster_event=failure,
        dagster_instance=instance,
        dagster_run=run,
        resources=defs.resources,
    ) as status_context:
        sensor(status_context.for_run_failure())
    (alert,) = _alerts(settings)
    assert alert["kind"] == "run_failure" and alert["severity"] == "critical"
    assert f"{UC}_pipeline failed" in alert["summary"]
    assert alert["owners"] == ["team:credit-risk-models", "anna.berg@bank.example"]
