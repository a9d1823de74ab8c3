"""The daily `online_decisions` asset with `dg.materialize` on a real decision log folder and
an in-memory artifact store: the day's decisions from every writer file are stored as a
table, the UI metadata says how many, the fallback share, the versions and the torn lines,
and days older than the spec's retention are deleted (and said so)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from modelops import names
from modelops.defs.decision_assets import decision_assets
from modelops.defs.label_assets import label_assets
from modelops.ml.realised_performance import PERFORMANCE_FILE
from modelops.monitoring.decision_log import DecisionLog, DecisionRecord
from modelops.names import ONLINE_DECISIONS
from modelops.resources.alerts import LocalAlerts
from modelops.resources.decision_store import DecisionLogStore
from modelops.resources.tracking import ModelTracking
from modelops.spec import UseCaseSpec
from support.fakes import MemoryArtifactStore

UC = "german_credit"
DAY = datetime.now(UTC).date() - timedelta(days=3)
"""Recent: within the default retention of 400 days."""
KEY = dg.AssetKey([UC, ONLINE_DECISIONS])


def _record(i: int, day: date, *, version: str | None = "1", fallback: str | None = None):
    return DecisionRecord(
        request_id=f"r{i}",
        decision_id=f"r{i}-0",
        decided_at=datetime(day.year, day.month, day.day, 9, tzinfo=UTC) + timedelta(seconds=i),
        use_case=UC,
        model_version=version,
        application_id=f"A{i}",
        inputs={"duration_months": 6 + i, "purpose": "car"},
        probability=None if fallback else 0.3,
        decision="refer" if fallback else "accept",
        reasons=() if fallback else (("duration_months", 0.5), ("purpose", -0.1)),
        fallback_reason=fallback,
    )


def _materialize(spec: UseCaseSpec, store: MemoryArtifactStore, folder: Path, day: date):
    (asset,) = decision_assets(spec)
    result = dg.materialize(
        [asset],
        partition_key=day.isoformat(),
        resources={"store": store, "decisions": DecisionLogStore(directory=str(folder))},
    )
    (event,) = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


@pytest.fixture
def store() -> MemoryArtifactStore:
    return MemoryArtifactStore()


def test_the_days_decisions_are_stored_with_what_the_ui_needs(
    german_spec: UseCaseSpec, store: MemoryArtifactStore, tmp_path: Path
) -> None:
    pod_a, pod_b = DecisionLog(tmp_path, UC), DecisionLog(tmp_path, UC)
    pod_a.append([_record(i, DAY) for i in range(6)])
    pod_b.append([_record(6, DAY, version="2"), _record(7, DAY, fallback="stopped: audit")])
    pod_a.append([_record(9, DAY + timedelta(days=1))])  # the next day: another partition
    folder = tmp_path / UC / DAY.isoformat()
    with (folder / "killed-pod.jsonl").open("w") as torn:
        torn.write('{"request_id": "r8", "decided_at": "' + DAY.isoformat())

    metadata = _materialize(german_spec, store, tmp_path, DAY)

    assert metadata["decisions"] == 8
    assert metadata["dagster/row_count"] == 8
    assert metadata["fallback_share"] == pytest.approx(1 / 8)
    assert metadata["torn_lines_skipped"] == 1
    assert metadata["writer_files"] == 3
    assert metadata["retention_days"] == 400
    assert "| 1 " in metadata["model_versions"] and "| 2 " in metadata["model_versions"]
    assert metadata["days_deleted"] == "none"
    table = store.read_table(UC, f"{ONLINE_DECISIONS}/{DAY.isoformat()}")
    assert table["request_id"].to_list() == [f"r{i}" for i in range(8)]
    assert table["reason_2"].to_list()[:2] == ["purpose", "purpose"]
    assert table["fallback_reason"].to_list()[-1] == "stopped: audit"


def test_days_beyond_the_retention_are_deleted_and_named(
    german_spec: UseCaseSpec, store: MemoryArtifactStore, tmp_path: Path
) -> None:
    today = datetime.now(UTC).date()
    spec = german_spec.model_copy(
        update={
            "serving": german_spec.serving.model_copy(update={"decision_log_retention_days": 200})
        }
    )
    log = DecisionLog(tmp_path, UC)
    for age in (0, 199, 200, 450):
        log.append([_record(age, today - timedelta(days=age))])

    metadata = _materialize(spec, store, tmp_path, today - timedelta(days=199))

    assert metadata["decisions"] == 1
    old = [today - timedelta(days=a) for a in (450, 200)]
    assert metadata["days_deleted"] == ", ".join(d.isoformat() for d in old)
    assert sorted(p.name for p in (tmp_path / UC).iterdir()) == sorted(
        (today - timedelta(days=a)).isoformat() for a in (0, 199)
    )


def test_a_day_without_traffic_stores_an_empty_table(
    german_spec: UseCaseSpec, store: MemoryArtifactStore, tmp_path: Path
) -> None:
    metadata = _materialize(german_spec, store, tmp_path, date(2025, 2, 10))
    assert metadata["decisions"] == 0
    assert metadata["fallback_share"] == 0.0
    assert store.read_table(UC, f"{ONLINE_DECISIONS}/2025-02-10").height == 0


def test_partitions_are_utc_days_from_the_first_monitored_month(
    german_spec: UseCaseSpec,
) -> None:
    (asset,) = decision_assets(german_spec)
    partitions = asset.partitions_def
    assert isinstance(partitions, dg.DailyPartitionsDefinition)
    assert partitions.timezone == "UTC"
    keys = partitions.get_partition_keys()
    assert keys[0] == f"{german_spec.monitoring.start_month}-01"
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    assert keys[-1] == yesterday.isoformat()  # a day is stored once it is closed


def test_each_closed_day_is_stored_once_after_midnight(
    german_spec: UseCaseSpec, tmp_path: Path
) -> None:
    (asset,) = decision_assets(german_spec)
    defs = dg.Definitions(
        assets=[asset],
        resources={
            "store": MemoryArtifactStore(),
            "decisions": DecisionLogStore(directory=str(tmp_path)),
        },
    )
    instance = dg.DagsterInstance.ephemeral()
    cursor, requested = None, []
    for hour, minute in ((0, 20), (0, 40), (6, 0)):
        result = dg.evaluate_automation_conditions(
            defs=defs,
            instance=instance,
            evaluation_time=datetime(2025, 3, 15, hour, minute, tzinfo=UTC),
            cursor=cursor,
        )
        cursor = result.cursor
        requested.append(
            sorted(
                k
                for r in result.results
                for k in r.true_subset.expensively_compute_partition_keys()
            )
        )
    assert requested == [[], ["2025-03-14"], []]


def test_no_monitoring_section_means_no_online_decisions_asset(german_spec) -> None:
    assert decision_assets(german_spec.model_copy(update={"monitoring": None})) == []


# --- realised performance covers the online decisions -------------------------------------

MONTH = "2025-03"


class ReleaseAuc(ModelTracking):
    """The registry's answer for the AUC at release, without a registry."""

    def run_metric(self, registered_name: str, version: str, metric: str) -> float | None:
        return 0.75


def _realised(
    spec: UseCaseSpec, store: MemoryArtifactStore, folder: Path, tmp_path: Path
) -> dict[str, object]:
    performance = next(
        a for a in label_assets(spec) if dg.AssetKey([UC, names.PERFORMANCE]) in a.keys
    )
    result = dg.materialize(
        [performance],
        partition_key=f"{MONTH}-01",
        resources={
            "store": store,
            "decisions": DecisionLogStore(directory=str(folder)),
            "tracking": ReleaseAuc(tracking_uri="sqlite:///unused.db"),
            "alerts": LocalAlerts(path=str(tmp_path / "alerts.jsonl")),
        },
    )
    (event,) = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_realised_performance_joins_the_online_decisions_outcomes(
    german_spec: UseCaseSpec, store: MemoryArtifactStore, tmp_path: Path
) -> None:
    """20 batch rows scored by v1, 20 online by v2 (and one online fallback, no score): the
    outcomes of all 40 scored applications are joined on `application_id`."""
    bad = [i % 4 == 0 for i in range(20)]
    store.store_table(
        UC,
        names.monthly(names.PREDICTIONS, MONTH),
        pl.DataFrame(
            {
                "application_id": [f"B{i}" for i in range(20)],
                "score": [0.8 if b else 0.2 + i / 100 for i, b in enumerate(bad)],
                "model_version": "1",
            }
        ),
    )
    header = german_spec.data_schema.column(german_spec.target.column).header
    outcome = ["bad" if b else "good" for b in bad]
    store.store_table(
        UC,
        names.monthly(names.LABELS, MONTH),
        pl.DataFrame(
            {
                "application_id": [f"{p}{i}" for p in "BO" for i in range(20)] + ["O20"],
                header: outcome * 2 + ["bad"],
            }
        ),
    )
    before = _realised(german_spec, store, tmp_path / "no-traffic", tmp_path)
    assert (before["labelled_rows"], before["online_rows"]) == (20, 0)

    day = date.fromisoformat(f"{MONTH}-05")
    online = [
        _record(i, day, version="2").model_copy(
            update={"application_id": f"O{i}", "probability": 0.9 if b else 0.1}
        )
        for i, b in enumerate(bad)
    ]
    stopped = _record(20, day, fallback="stopped: audit").model_copy(
        update={"application_id": "O20"}
    )
    DecisionLog(tmp_path / "log", UC).append([*online, stopped])

    after = _realised(german_spec, store, tmp_path / "log", tmp_path)
    assert (after["labelled_rows"], after["online_rows"]) == (40, 20)
    assert after["auc"] == pytest.approx(1.0)
    assert before["auc"] == pytest.approx(1.0)
    assert before["release_auc"] == 0.75  # one version scored the month
    stored = json.loads(
        store.read_bytes(
            UC,
            names.monthly(names.PERFORMANCE, MONTH),
            store.current_version(UC, names.monthly(names.PERFORMANCE, MONTH)),
            PERFORMANCE_FILE,
        )
    )
    assert stored["model_version"] == "1,2"
