"""The monitoring loop end to end, through the demo command's own code path.

One sandbox (a short demo: a new applicant segment appears in the second month) is played
once per module; the tests then read what it left behind and tick its sensors again, as the
daemon would, to check that repeated signals give one run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from modelops.definitions import build_definitions
from modelops.demo import demo_home, run_demo
from modelops.instance import local_instance
from modelops.ml.monthly_drift import MonthlyDrift
from modelops.names import MODEL, SERVING_BUNDLE_PREFIX
from modelops.settings import Settings
from support import PROJECT

UC = "german_credit"


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    home = tmp_path_factory.mktemp("monitoring") / "home"
    settings = Settings.from_env({"MODELOPS_PROJECT_DIR": str(PROJECT), "MODELOPS_HOME": str(home)})
    lines: list[str] = []
    story = run_demo(
        settings,
        months=5,
        rows=1_500,
        scenario="new_segment",
        scenario_start=1,
        label_delay=1,
        history_rows=4_000,
        say=lines.append,
    )
    sandbox = Settings.from_env(
        {
            "MODELOPS_PROJECT_DIR": str(PROJECT),
            "MODELOPS_HOME": str(demo_home(settings)),
            "MODELOPS_SPECS_DIR": str(demo_home(settings) / "specs"),
        }
    )
    return story, sandbox, "\n".join(lines)


def _store(settings: Settings):
    from modelops.resources.storage import LocalArtifactStore

    return LocalArtifactStore(root=str(settings.data_dir))


def test_the_demo_tells_the_story(played) -> None:
    story, _, printed = played
    breaches = [m.drift.month for m in story.months if m.drift.breach]
    assert breaches and breaches[0] >= "2025-02"  # nothing before the segment appears
    assert story.retraining and story.retraining[0].endswith("drift")
    assert story.promotions[-1].startswith("1 -> 2")
    # High risk tier: each release went through the gates and an independent approval.
    assert story.tier == "high" and not story.blocked
    assert [a.split(" by ")[0] for a in story.approvals] == ["v1", "v2"]
    assert "validator@bank.example (model_validator)" in printed
    versions = [m.drift.model_version for m in story.months]
    assert versions[0] == "1" and versions[-1] == "2"  # scoring moved to the new version
    assert "retraining triggered:" in printed and "2025-" in printed
    assert story.realised_auc  # outcomes arrived and were measured
    # Progress: each month numbered with the elapsed time; the retraining announced before it
    # runs, numbered as the month it happens in.
    numbered = [line for line in printed.splitlines() if re.match(r"\[\d/5  \d+:\d\d\] ", line)]
    assert [line[line.index("] ") + 2 :][:7] for line in numbered if "(" in line[-6:]] == [
        "2025-01",
        "2025-02",
        "2025-03",
        "2025-04",
        "2025-05",
    ]
    retraining = story.retraining[0].split(":")[0]
    announced = next(line for line in numbered if "retraining requested" in line)
    assert retraining in announced and "training, gates, approval ..." in announced


def test_predictions_answer_every_application_with_a_traceable_version(played) -> None:
    _, sandbox, _ = played
    store = _store(sandbox)
    for month in ("2025-01", "2025-05"):
        name = f"predictions/{month}"
        table = store.read_table(UC, name)
        assert table.height == 1_500
        assert table["application_id"].n_unique() == 1_500
        assert table["model_version"].null_count() == 0
        assert set(table["decision"].unique()) <= {"accept", "refer"}
        scored = table.filter(pl.col("score").is_not_null())
        assert scored["reason_1"].null_count() == 0
        assert ((scored["score"] >= 0.5) == (scored["decision"] == "refer")).all()


def test_rescoring_a_month_keeps_the_earlier_output(played) -> None:
    _, sandbox, _ = played
    defs = build_definitions(sandbox)
    store = _store(sandbox)
    name = "predictions/2025-01"
    before = store.require_current(UC, name)
    result = defs.resolve_job_def(f"{UC}_monthly_scoring").execute_in_process(
        instance=local_instance(sandbox.dagster_home), partition_key="2025-01-01"
    )
    assert result.success
    after = store.require_current(UC, name)
    assert after != before  # scored again by today's champion, at another time
    assert store.read_table(UC, name, before).height == 1_500  # the first answers are kept
    assert set(store.read_table(UC, name)["model_version"].unique()) == {"2"}


def test_drift_history_and_alerts_name_the_owners(played) -> None:
    _, sandbox, _ = played
    history = _store(sandbox).read_table(UC, "drift_history")
    assert history["month"].to_list() == [f"2025-0{i}" for i in range(1, 6)]
    assert history.filter(pl.col("breach"))["max_csi"].min() >= 0.25
    alerts = [
        json.loads(line) for line in (sandbox.home_dir / "alerts.jsonl").read_text().splitlines()
    ]
    kinds = {a["kind"] for a in alerts}
    assert {"drift", "retraining"} <= kinds
    assert all("anna.berg@bank.example" in a["owners"] for a in alerts)


def _tick(defs: dg.Definitions, instance: dg.DagsterInstance, name: str, cursor: str | None):
    sensor = defs.resolve_sensor_def(name)
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=defs, resources=defs.resources
    ) as context:
        return sensor.evaluate_tick(context)


def test_repeated_drift_signals_give_one_retraining_run(played) -> None:
    """No storm: months of breaches against today's champion, the sensor ticking again and
    again (as the daemon does every minute), one run requested; the same signals seen afresh
    (a lost cursor) ask for the same run key, which Dagster runs once."""
    story, sandbox, _ = played
    assert len(story.retraining) == 1  # during the demo too
    store = _store(sandbox)
    champion = story.months[-1].drift.model_version
    for month in ("2025-07", "2025-08"):
        drift = MonthlyDrift(
            month=month,
            model_version=champion,
            rows=1_500,
            drifted_share=0.1,
            dataset_drift=False,
            drifted_columns=["purpose"],
            score_psi=0.02,
            score_psi_band="stable",
            max_csi=0.6,
            max_csi_column="purpose",
            breach=True,
        )
        name = f"monthly_drift/{month}"
        store.write_bytes(UC, name, f"test-{month}", "drift.json", drift.model_dump_json().encode())
        store.publish(UC, name, f"test-{month}")
    defs = build_definitions(sandbox)
    instance = local_instance(sandbox.dagster_home)
    first = _tick(defs, instance, f"{UC}_retraining", None)
    (request,) = first.run_requests
    assert request.run_key == f"retrain:{UC}:drift:2025-08"
    cursor = first.cursor
    for _ in range(10):
        tick = _tick(defs, instance, f"{UC}_retraining", cursor)
        assert not tick.run_requests and "cooldown" in (tick.skip_message or "")
        cursor = tick.cursor or cursor
    (again,) = _tick(defs, instance, f"{UC}_retraining", None).run_requests
    assert again.run_key == request.run_key


def test_new_file_sensor_requests_each_month_once(played, tmp_path: Path) -> None:
    """A fresh cursor (the daemon's first tick after the demo) finds every month already
    processed; a replaced file is a new batch for its month, requested once."""
    _, sandbox, _ = played
    defs = build_definitions(sandbox)
    instance = local_instance(sandbox.dagster_home)
    first = _tick(defs, instance, f"{UC}_new_batches", None)
    assert not first.run_requests
    batch = Path(str(sandbox.home_dir / "traffic/applications/2025-03.parquet"))
    pl.read_parquet(batch).write_parquet(batch)
    second = _tick(defs, instance, f"{UC}_new_batches", first.cursor)
    assert [r.partition_key for r in second.run_requests or []] == ["2025-03-01"]
    third = _tick(defs, instance, f"{UC}_new_batches", second.cursor)
    assert not third.run_requests
    # A month that lands later is picked up on its own.
    month = pl.read_parquet(batch)
    month.write_parquet(sandbox.home_dir / "traffic/applications/2025-06.parquet")
    fourth = _tick(defs, instance, f"{UC}_new_batches", third.cursor)
    assert [r.partition_key for r in fourth.run_requests or []] == ["2025-06-01"]


def test_a_broken_upstream_feature_is_quarantined_alerted_never_scored(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"MODELOPS_PROJECT_DIR": str(PROJECT), "MODELOPS_HOME": str(tmp_path / "home")}
    )
    story = run_demo(
        settings,
        months=2,
        rows=800,
        scenario="broken_feature",
        scenario_start=1,
        label_delay=3,
        history_rows=3_000,
        say=lambda _: None,
        scenario_params={"column": "telephone"},
    )
    sandbox = demo_home(settings)
    store = _store(
        Settings.from_env(
            {
                "MODELOPS_PROJECT_DIR": str(PROJECT),
                "MODELOPS_HOME": str(sandbox),
                "MODELOPS_SPECS_DIR": str(sandbox / "specs"),
            }
        )
    )
    broken = store.read_table(UC, "predictions/2025-02")
    assert broken.height == 800
    assert broken["score"].null_count() == 800  # nothing scored as if fine
    assert (broken["decision"] == "refer").all()
    assert broken["reason_1"].str.starts_with("input failed validation: telephone").all()
    alerts = [json.loads(line) for line in (sandbox / "alerts.jsonl").read_text().splitlines()]
    incident = [a for a in alerts if a["kind"] == "data_incident" and "2025-02" in a["summary"]]
    assert incident, "the broken month is alerted as a data incident"
    assert "lending-data@bank.example" in incident[0]["owners"]  # the data's owners
    assert "telephone" in json.dumps(incident[0]["details"]["top_failures"])
    assert story.months[0].drift.model_version == "1"


# A month scored in a fresh process, from the champion's serving bundle -------------------------

FIT_DETECTOR = """
import json, sys, threading
calls = []
def profile(frame, event, arg):
    code = frame.f_code
    if event == "call" and code.co_name in ("fit", "fit_transform", "partial_fit"):
        module = frame.f_globals.get("__name__", "")
        if module.startswith(("sklearn", "modelops")):
            calls.append(module + "." + code.co_qualname)
sys.setprofile(profile)
threading.setprofile(profile)
from modelops.definitions import build_definitions
from modelops.instance import local_instance
from modelops.names import scoring_job
from modelops.settings import Settings
settings = Settings.from_env()
defs = build_definitions(settings)
result = defs.resolve_job_def(scoring_job("german_credit")).execute_in_process(
    instance=local_instance(settings.dagster_home), partition_key="2025-04-01",
    raise_on_error=False,
)
scoring = sorted(set(calls))
def messages(error):
    while error is not None:
        yield error.message
        error = error.cause
failures = [
    " / ".join(messages(e.event_specific_data.error))
    for e in result.all_events
    if e.is_step_failure
]
from sklearn.linear_model import LogisticRegression
LogisticRegression().fit([[0.0], [1.0]], [0, 1])  # the detector's own control
sys.setprofile(None)
print(json.dumps({"success": result.success, "fits": scoring, "failures": failures,
                  "control": sorted(set(calls) - set(scoring))}))
"""


def _score_in_a_fresh_process(home: Path) -> dict:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MODELOPS_")},
        "MODELOPS_PROJECT_DIR": str(PROJECT),
        "MODELOPS_HOME": str(home),
        "MODELOPS_SPECS_DIR": str(home / "specs"),
        "DAGSTER_HOME": str(home / "dagster"),
    }
    out = subprocess.run(
        [sys.executable, "-c", FIT_DETECTOR],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _copy_of(sandbox: Settings, tmp_path: Path) -> Path:
    """The demo's sandbox copied, so what a test does to it stays its own."""
    home = tmp_path / "sandbox"
    shutil.copytree(sandbox.home_dir, home)
    spec = home / "specs" / f"{UC}.yaml"
    spec.write_text(spec.read_text().replace(str(sandbox.home_dir), str(home)))
    return home


def test_scoring_a_month_in_a_fresh_process_fits_nothing(played, tmp_path: Path) -> None:
    """Reason codes, outliers and the drift reference come from the bundle written at
    training: a scoring process calls no estimator's fit."""
    _, sandbox, _ = played
    home = _copy_of(sandbox, tmp_path)

    report = _score_in_a_fresh_process(home)

    assert report["success"], report["failures"]
    assert report["fits"] == []
    assert "sklearn.linear_model._logistic.LogisticRegression.fit" in report["control"]


def test_a_changed_serving_bundle_is_refused_on_load(played, tmp_path: Path) -> None:
    """The changed bundle is never deserialised: the month is answered 'refer' with the
    reason (production always answers), the run succeeds and the owners are alerted."""
    story, sandbox, _ = played
    home = _copy_of(sandbox, tmp_path)
    champion = story.months[-1].drift.model_version
    pipeline = home / "data" / UC / MODEL / champion / f"{SERVING_BUNDLE_PREFIX}pipeline.skops"
    content = bytearray(pipeline.read_bytes())
    content[-1] ^= 1
    pipeline.write_bytes(bytes(content))

    report = _score_in_a_fresh_process(home)

    assert report["success"], report["failures"]
    assert report["fits"] == []
    alerts = (home / "alerts.jsonl").read_text()
    assert "model unavailable" in alerts
    assert "pipeline.skops was changed after training" in alerts
