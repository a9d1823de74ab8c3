"""The monitoring story the demo tells, checked end to end: a data incident told apart from a
real population shift, the broken month never taught, one retraining after which drift
settles, and decay estimated before the labels that then confirm it.

Played once per module through the demo's own code path (the sensors ticked on the month
calendar, as a replayed year; tests/dagster/test_monitoring_sensors.py plays the same year on
a wall clock too).
"""

from __future__ import annotations

import json

import dagster as dg
import pytest

from modelops.demo import demo_home, run_demo
from modelops.instance import local_instance
from modelops.monitoring.labelled_production import assemble_labelled_production
from modelops.resources.storage import LocalArtifactStore
from modelops.settings import Settings
from modelops.spec import load_specs
from support import PROJECT

UC = "german_credit"


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("story") / "home"
    settings = Settings.from_env({"MODELOPS_PROJECT_DIR": str(PROJECT), "MODELOPS_HOME": str(home)})
    played = run_demo(
        settings,
        months=10,
        rows=5_000,
        scenario="unit_change@3+population_shift@6",
        label_delay=2,
        history_rows=20_000,
        say=lambda _: None,
    )
    sandbox = demo_home(settings)
    alerts = [json.loads(line) for line in (sandbox / "alerts.jsonl").read_text().splitlines()]
    return played, sandbox, alerts


def test_the_unit_change_is_an_incident_alerted_to_the_data_owner_not_drift(story) -> None:
    played, _, alerts = story
    incident_months = [m.drift.month for m in played.months if m.incident]
    assert incident_months == ["2025-04"]
    sent = [a for a in alerts if a["kind"] == "data_incident"]
    assert [a["details"]["month"] for a in sent] == ["2025-04"]
    assert "lending-data@bank.example" in sent[0]["owners"]
    assert "scale_change" in sent[0]["summary"]
    # It never counted towards a retraining: the only one came from the shift.
    assert played.retraining == ["2025-08: drift"]


def test_the_broken_month_never_teaches(story) -> None:
    _, sandbox, _ = story
    spec = load_specs(sandbox / "specs")[0]
    labelled = assemble_labelled_production(LocalArtifactStore(root=str(sandbox / "data")), spec)
    assert "2025-04" in labelled.months_left_out
    assert "2025-04" not in labelled.months_used
    assert {"2025-05", "2025-06"} <= set(labelled.months_used)
    # Lineage: version 2's training data names the production months that fed it.
    instance = local_instance(Settings.from_env(_sandbox_env(sandbox)).dagster_home)
    event = instance.get_latest_materialization_event(dg.AssetKey([UC, "validated_dataset"]))
    assert event is not None and event.asset_materialization is not None
    fed = event.asset_materialization.metadata["production_months"].value
    assert "2025-05" in fed and "2025-04" not in fed


def _sandbox_env(sandbox) -> dict[str, str]:
    return {
        "MODELOPS_PROJECT_DIR": str(PROJECT),
        "MODELOPS_HOME": str(sandbox),
        "MODELOPS_SPECS_DIR": str(sandbox / "specs"),
    }


def test_one_retraining_then_drift_settles(story) -> None:
    played, _, alerts = story
    breaches = [m.drift.month for m in played.months if m.drift.breach and not m.incident]
    assert breaches == ["2025-07", "2025-08"]
    after = [m.drift for m in played.months if m.drift.model_version == "2"]
    assert [d.month for d in after] == ["2025-09", "2025-10"]
    assert not any(d.breach for d in after)
    assert played.escalations == []
    assert [a["kind"] for a in alerts].count("retraining") == 1


def test_decay_is_estimated_before_the_labels_and_the_estimate_holds(story) -> None:
    played, _, alerts = story
    decay = [a for a in alerts if a["kind"] == "performance" and "AUC" in a["summary"]]
    first = {}
    for position, alert in enumerate(decay):
        first.setdefault((alert["details"]["month"], alert["details"]["basis"]), position)
    # The shift's first month is alerted from the estimate, before its labels arrived.
    assert ("2025-07", "estimated") in first
    assert first[("2025-07", "estimated")] < first.get(("2025-07", "realised"), len(decay))
    assert not any(m < "2025-07" for m, _ in first)  # no false alarm before the shift
    # Estimated against realised, on every labelled month without an incident.
    labelled = [r for r in played.backtest if r.realised_auc is not None]
    assert len(labelled) >= 7
    judged = [r.check for r in labelled if "incident" not in r.month]
    assert all(c.auc_inside for c in judged), played.backtest
    # A 95% interval misses about one month in twenty: at most one miss is allowed.
    assert sum(not c.bad_rate_inside for c in judged) <= 1, played.backtest
