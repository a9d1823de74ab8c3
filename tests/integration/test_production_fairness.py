"""Fairness in production, end to end on the real platform: once a month's outcomes arrive,
the labels job measures its decisions per protected group against the limits version 1 was
released with, and each group's share of applicants against training; a month whose
applicants are nearly all of one group is flagged and alerted to the model's owners."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import yaml

from modelops.definitions import build_definitions
from modelops.defs.fairness_monitoring_assets import FAIRNESS_CHECK, FAIRNESS_FILE
from modelops.instance import local_instance
from modelops.names import PRODUCTION_FAIRNESS, labels_job, monthly
from modelops.resources.storage import LocalArtifactStore
from modelops.settings import Settings
from support import GERMAN_DATA, GERMAN_SPEC
from support.monthly_platform import MONTH, QUIET, failures, score_month, trained_platform

UC = "german_credit"
SHIFTED = "2025-02"


def _labels(batch: pl.DataFrame, path: Path) -> None:
    """The outcomes of the month's applications, from the German data's own column."""
    german = pl.read_csv(GERMAN_DATA, infer_schema=False)
    outcome = german.get_column("creditability").head(batch.height)
    batch.select("application_id").with_columns(outcome.alias("creditability")).write_csv(path)


def _run_labels(settings: Settings, month: str) -> dg.ExecuteInProcessResult:
    job = build_definitions(settings).resolve_job_def(labels_job(UC))
    return job.execute_in_process(
        instance=local_instance(settings.dagster_home),
        partition_key=f"{month}-01",
        raise_on_error=False,
        run_config=QUIET,
    )


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("fairness")
    spec = yaml.safe_load(GERMAN_SPEC.read_text())
    spec["monitoring"]["labels"] = {"path": str(root / "outcomes" / "{month}.csv")}
    spec_path = root / "german_credit.yaml"
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    settings = trained_platform(root, spec_path)
    assert score_month(settings).success
    (root / "outcomes").mkdir()
    batch = pl.read_csv(root / "applications" / f"{MONTH}.csv", infer_schema=False)
    _labels(batch, root / "outcomes" / f"{MONTH}.csv")
    # A month whose applicants are all local workers (about 4% of the training applicants).
    shifted = batch.with_columns(
        ("S" + pl.col("application_id")).alias("application_id"),
        pl.lit("no").alias("foreign_worker"),
    )
    shifted.write_csv(root / "applications" / f"{SHIFTED}.csv")
    _labels(shifted, root / "outcomes" / f"{SHIFTED}.csv")
    return settings


def _stored(settings: Settings, month: str) -> dict:
    store = LocalArtifactStore(root=str(settings.data_dir))
    name = monthly(PRODUCTION_FAIRNESS, month)
    return json.loads(store.read_bytes(UC, name, store.require_current(UC, name), FAIRNESS_FILE))


def test_a_labelled_month_is_measured_per_group_with_the_release_limits(platform) -> None:
    result = _run_labels(platform, MONTH)
    assert result.success, failures(result)
    record = _stored(platform, MONTH)
    assert record["model_version"] == "1"
    assert record["labelled_rows"] == 198  # 200 applications, 2 quarantined
    attributes = [m["attribute"] for m in record["mix"]]
    assert attributes == ["personal_status_and_sex", "foreign_worker", "age_band"]
    assert {a["attribute"] for a in record["report"]["attributes"]} == set(attributes)
    (check,) = [e for e in result.get_asset_check_evaluations() if e.check_name == FAIRNESS_CHECK]
    assert check.passed == (not record["breaches"] and not any(m["shifted"] for m in record["mix"]))


def test_a_protected_group_taking_over_the_month_is_flagged_and_alerted(platform) -> None:
    assert score_month_of(platform, SHIFTED).success
    result = _run_labels(platform, SHIFTED)
    assert result.success, failures(result)
    record = _stored(platform, SHIFTED)
    foreign = next(m for m in record["mix"] if m["attribute"] == "foreign_worker")
    assert foreign["shifted"] and foreign["psi"] > 1
    (check,) = [e for e in result.get_asset_check_evaluations() if e.check_name == FAIRNESS_CHECK]
    assert not check.passed and "foreign_worker: group mix moved" in check.description
    alerts = [json.loads(line) for line in (platform.home_dir / "alerts.jsonl").open()]
    sent = [a for a in alerts if a["kind"] == "fairness" and SHIFTED in a["summary"]]
    assert sent and "anna.berg@bank.example" in sent[0]["owners"]


def score_month_of(settings: Settings, month: str) -> dg.ExecuteInProcessResult:
    from modelops.names import scoring_job

    job = build_definitions(settings).resolve_job_def(scoring_job(UC))
    return job.execute_in_process(
        instance=local_instance(settings.dagster_home),
        partition_key=f"{month}-01",
        raise_on_error=False,
        run_config=QUIET,
    )
