"""Online traffic in monitoring: decisions the service kept in the decision log appear in the
daily `online_decisions` asset and in the month's drift, beside the monthly batch.

One platform is trained and approved for the module (tests/support/monthly_platform.py). A
month's online decisions are made by the scoring core and kept with the decision log's own
writer, as the service does; the monthly scoring job and the daily asset then run in process.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from modelops.definitions import build_definitions
from modelops.governance.champion import champion_bundle
from modelops.instance import local_instance
from modelops.ml.scoring.applications import ApplicationScorer
from modelops.ml.validation import validate_batch
from modelops.monitoring.decision_log import DecisionLog, DecisionRecord
from modelops.resources.environment import resources_for
from modelops.resources.storage import LocalArtifactStore
from modelops.settings import Settings
from modelops.spec import load_spec
from modelops.spec.columns import ROW_ID
from support import GERMAN_DATA
from support.monthly_platform import failures, score_month, trained_platform
from support.platform_cli import copy_platform

UC = "german_credit"
ONLINE = 150
DAY = datetime(2025, 1, 15, 10, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = trained_platform(tmp_path_factory.mktemp("online_monitoring"))
    spec = load_spec(settings.specs_dir / f"{UC}.yaml")
    resources = resources_for(settings)
    scorer = ApplicationScorer(champion_bundle(resources.store, resources.audit_log, spec), spec)
    valid = validate_batch(pl.read_csv(GERMAN_DATA), spec).valid
    applications = (
        valid.drop(ROW_ID, spec.target.column)
        .tail(ONLINE)
        .with_columns(pl.col(pl.Enum).cast(pl.String))
        .to_dicts()
    )
    answers = scorer.answer(applications)
    log = DecisionLog(settings.decision_log_dir, UC)
    log.append(
        [
            DecisionRecord(
                request_id=f"r{i}",
                decision_id=f"r{i}-0",
                decided_at=DAY,
                use_case=UC,
                model_version=a.model_version,
                application_id=f"W{i}",
                inputs=app,
                probability=a.probability,
                decision=a.decision,
                reasons=tuple((r.feature, r.contribution) for r in a.reasons),
                outlier_score=a.outlier_score,
                outlier_flag=a.outlier_flag,
                fallback_reason=a.fallback_reason,
            )
            for i, (app, a) in enumerate(zip(applications, answers, strict=True))
        ]
    )
    log.close()
    folder = settings.decision_log_dir / UC / DAY.date().isoformat()
    (folder / "killed-writer.jsonl").write_text('{"request_id": "torn')  # a torn last line
    return settings


def test_the_months_drift_covers_the_online_decisions(platform: Settings) -> None:
    result = score_month(platform)
    assert result.success, failures(result)
    (drift,) = result.asset_materializations_for_node(f"{UC}__monthly_drift")
    assert drift.metadata["online_rows"].value == ONLINE


def test_the_daily_asset_reads_every_decision_then_applies_the_retention(
    platform: Settings, tmp_path: Path
) -> None:
    """The day is read (the torn line skipped), stored as a table, and, being older than the
    spec's 400 days, deleted from the decision log."""
    platform = copy_platform(platform, tmp_path)
    defs = build_definitions(platform)
    key = dg.AssetKey([UC, "online_decisions"])
    result = dg.materialize(
        [defs.resolve_assets_def(key)],
        partition_key=DAY.date().isoformat(),
        instance=local_instance(platform.dagster_home),
    )
    assert result.success
    (materialization,) = result.asset_materializations_for_node(f"{UC}__online_decisions")
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    assert metadata["decisions"] == ONLINE
    assert metadata["torn_lines_skipped"] == 1
    assert metadata["writer_files"] == 2
    assert metadata["days_deleted"] == DAY.date().isoformat()
    assert not (platform.decision_log_dir / UC / DAY.date().isoformat()).exists()
    stored = LocalArtifactStore(root=str(platform.data_dir)).read_table(
        UC, f"online_decisions/{DAY.date().isoformat()}"
    )
    assert stored.height == ONLINE
    assert set(stored["application_id"]) == {f"W{i}" for i in range(ONLINE)}
