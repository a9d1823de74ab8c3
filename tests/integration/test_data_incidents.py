"""Incidents are not drift (issue 19, items 1 and 2), end to end on the real platform: a month
whose amounts arrive in thousands is classified as a data incident before it is scored,
alerted to the data owner with the evidence, answered `refer` (the spec's default for a
critical incident), and released by a person with the CLI (recorded in the audit log), after
which it is scored again. With `hold`, nothing is answered until the release.

One platform is trained and approved for the module (tests/support/monthly_platform.py); its
first month is sound. The broken month is written beside it as 2025-02.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import yaml

from modelops.definitions import build_definitions
from modelops.instance import local_instance
from modelops.monitoring.history import month_incidents, untaught_months
from modelops.names import PREDICTIONS, monthly, scoring_job
from modelops.resources.storage import LocalArtifactStore
from modelops.settings import Settings
from modelops.spec import load_spec
from support.monthly_platform import MONTH, QUIET, failures, score_month, trained_platform
from support.platform_cli import cli, copy_platform

UC = "german_credit"
BROKEN = "2025-02"


def _score(settings: Settings, month: str) -> dg.ExecuteInProcessResult:
    job = build_definitions(settings).resolve_job_def(scoring_job(UC))
    return job.execute_in_process(
        instance=local_instance(settings.dagster_home),
        partition_key=f"{month}-01",
        raise_on_error=False,
        run_config=QUIET,
    )


def _store(settings: Settings) -> LocalArtifactStore:
    return LocalArtifactStore(root=str(settings.data_dir))


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("incidents")
    settings = trained_platform(root)
    assert score_month(settings).success
    sound = pl.read_csv(root / "applications" / f"{MONTH}.csv", infer_schema=False)
    broken = sound.with_columns(
        ("B" + pl.col("application_id")).alias("application_id"),
        (pl.col("credit_amount").cast(pl.Float64) / 1000).round().cast(pl.Int64).cast(pl.String),
    )
    broken.write_csv(root / "applications" / f"{BROKEN}.csv")
    return settings


def test_a_sound_month_is_no_incident(platform: Settings) -> None:
    record = month_incidents(_store(platform), load_spec(_spec_file(platform)), MONTH)
    assert record is not None and not record.is_incident and record.action == "score"


def test_a_unit_change_is_an_incident_referred_alerted_and_released(
    platform: Settings, tmp_path: Path
) -> None:
    settings = copy_platform(platform, tmp_path)
    result = _score(settings, BROKEN)
    assert result.success, failures(result)
    spec = load_spec(_spec_file(settings))
    store = _store(settings)
    record = month_incidents(store, spec, BROKEN)
    assert record is not None and record.severity == "critical" and record.action == "refer"
    kinds = {i.kind for i in record.incidents}
    assert "scale_change" in kinds and any(i.column == "credit_amount" for i in record.incidents)
    answers = store.read_table(UC, monthly(PREDICTIONS, BROKEN))
    assert set(answers["decision"]) == {"refer"}
    assert answers["score"].null_count() < 20  # scored (only quarantined rows are not)
    alerts = [json.loads(line) for line in (settings.home_dir / "alerts.jsonl").open()]
    (incident,) = [a for a in alerts if a["kind"] == "data_incident"]
    assert "lending-data@bank.example" in incident["owners"]
    assert "credit_amount" in json.dumps(incident["details"])
    # The incident check is red in the UI, with the headline.
    checks = [e for e in result.get_asset_check_evaluations() if e.check_name == "no_data_incident"]
    assert checks and not checks[0].passed

    released = cli(
        settings, "incident", "release", "-u", UC, "--month", BROKEN,
        "--by", "data.owner@bank.example", "--reason", "INC-7: confirmed amounts are in EUR",
    )  # fmt: skip
    assert released.code == 0, released.printed
    assert "released by data.owner@bank.example" in released.printed
    assert "scored again" in released.printed
    rescored = store.read_table(UC, monthly(PREDICTIONS, BROKEN))
    assert "accept" in set(rescored["decision"])  # the model decides again
    after = month_incidents(store, spec, BROKEN)
    assert after is not None and after.release is not None and not after.teaches
    listed = cli(settings, "incident", "list", "-u", UC)
    assert BROKEN in listed.printed and "data.owner@bank.example" in listed.printed
    audit = cli(settings, "audit", "show", "-u", UC)
    assert "incident_release" in audit.printed


def test_a_held_month_is_not_answered_until_released(platform: Settings, tmp_path: Path) -> None:
    settings = copy_platform(platform, tmp_path)
    path = _spec_file(settings)
    spec = yaml.safe_load(path.read_text())
    spec["monitoring"]["incidents"] = {"actions": {"critical": "hold"}}
    path.write_text(yaml.safe_dump(spec))
    result = _score(settings, BROKEN)
    assert not result.success
    (failure,) = failures(result)
    assert "held" in failure and f"modelops incident release -u {UC} --month {BROKEN}" in failure
    store = _store(settings)
    assert store.current_version(UC, monthly(PREDICTIONS, BROKEN)) is None
    assert store.current_version(UC, monthly(PREDICTIONS, MONTH)) is not None  # kept
    released = cli(
        settings, "incident", "release", "-u", UC, "--month", BROKEN,
        "--by", "data.owner@bank.example", "--reason", "INC-8",
    )  # fmt: skip
    assert released.code == 0 and "scored again" in released.printed
    assert store.current_version(UC, monthly(PREDICTIONS, BROKEN)) is not None


def test_releasing_a_sound_month_is_refused(platform: Settings, tmp_path: Path) -> None:
    settings = copy_platform(platform, tmp_path)
    refused = cli(
        settings, "incident", "release", "-u", UC, "--month", MONTH,
        "--by", "x@bank.example", "--reason", "r",
    )  # fmt: skip
    assert refused.code == 3 and "no data incident" in refused.printed


def _spec_file(settings: Settings) -> Path:
    return settings.specs_dir / f"{UC}.yaml"


def test_a_renamed_category_is_an_incident_alerted_and_never_taught(
    platform: Settings, tmp_path: Path
) -> None:
    """Upstream renames a purpose: the old value vanishes, an unknown one appears (its rows
    fail the contract's allowed values). That is an incident, not drift."""
    settings = copy_platform(platform, tmp_path)
    renamed_month = "2025-03"
    spec = load_spec(_spec_file(settings))
    batches = spec.monitoring.batches.path
    sound = pl.read_csv(batches.format(month=MONTH), infer_schema=False)
    renamed = sound.with_columns(
        ("R" + pl.col("application_id")).alias("application_id"),
        pl.col("purpose").replace("radio/television", "radio & TV"),
    )
    assert (renamed["purpose"] == "radio & TV").sum() > 20
    renamed.write_csv(batches.format(month=renamed_month))
    result = _score(settings, renamed_month)
    assert result.success, failures(result)
    store = _store(settings)
    record = month_incidents(store, spec, renamed_month)
    assert record is not None and record.is_incident and record.severity == "critical"
    swap = [i for i in record.incidents if i.kind == "category_swap"]
    assert swap and swap[0].column == "purpose" and "radio & TV" in swap[0].evidence
    alerts = [json.loads(line) for line in (settings.home_dir / "alerts.jsonl").open()]
    sent = [a for a in alerts if a["kind"] == "data_incident" and renamed_month in a["summary"]]
    assert sent and "lending-data@bank.example" in sent[0]["owners"]
    answers = store.read_table(UC, monthly(PREDICTIONS, renamed_month))
    assert set(answers["decision"]) == {"refer"}
    assert renamed_month in untaught_months(store, spec)


def test_the_quarantine_is_readable_on_the_terminal(platform: Settings) -> None:
    """`modelops quarantine` prints the rejected rows with their reasons (the month's two
    applications with an unreadable duration)."""
    month = cli(platform, "quarantine", "-u", UC, "--month", MONTH)
    assert month.code == 0, month.printed
    assert "2 row(s) quarantined" in month.printed
    assert month.printed.count("duration") >= 2 and "row      1" in month.printed
    training = cli(platform, "quarantine", "-u", UC)
    assert training.code == 0 and "the training data" in training.printed
    missing = cli(platform, "quarantine", "-u", UC, "--month", "2031-01")
    assert missing.code == 3 and "nothing stored" in missing.printed
