"""Production always answers, in batch too (issue 11, item 3): a champion whose serving bundle
was changed after training, or lost, gives a month of `refer` answers with a machine-readable
reason, not a failed run; the owners are alerted, the fallback is recorded in the audit log,
and the month's earlier answers stay in the store.

One platform is trained for the module with `modelops run` and approved (version 1 the
champion); its production batch is a CSV file of 200 applications, two of them invalid. Each
test works on a copy of the platform and runs the monthly scoring job in process, as the
daemon would.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from modelops.governance.champion import champion_bundle
from modelops.ml.month_answers import MODEL_ERROR, MODEL_UNAVAILABLE, answer_month
from modelops.names import (
    MODEL,
    PREDICTIONS,
    PRODUCTION_FEATURES,
    PRODUCTION_QUARANTINE,
    SERVING_BUNDLE_PREFIX,
    monthly,
)
from modelops.resources.audit_sqlite import SqliteAuditLog
from modelops.resources.storage import LocalArtifactStore
from modelops.settings import Settings
from modelops.spec import load_spec
from support.monthly_platform import INVALID, MONTH, ROWS, failures, score_month, trained_platform
from support.platform_cli import cli, copy_platform

UC = "german_credit"


def succeeded(result: dg.ExecuteInProcessResult) -> set[str]:
    return {str(e.step_key) for e in result.all_events if e.is_step_success}


def predictions_metadata(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    (materialization,) = result.asset_materializations_for_node(f"{UC}__predictions")
    return {k: v.value for k, v in materialization.metadata.items()}


def store_of(settings: Settings) -> LocalArtifactStore:
    return LocalArtifactStore(root=str(settings.data_dir))


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The champion, and the month scored by it."""
    settings = trained_platform(tmp_path_factory.mktemp("batch_fallback"))
    scored = score_month(settings)
    assert scored.success, failures(scored)
    return settings


@pytest.fixture
def platform(released: Settings, tmp_path: Path) -> Settings:
    return copy_platform(released, tmp_path)


def _bundle_file(settings: Settings, name: str) -> Path:
    return settings.data_dir / UC / MODEL / "1" / f"{SERVING_BUNDLE_PREFIX}{name}"


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        ("tampered", "ModelIntegrityError: serving bundle of version 1: pipeline.skops"),
        ("deleted", "serving_bundle.outliers.npz"),
    ],
)
def test_a_champion_that_cannot_be_loaded_gives_a_month_of_refer_not_a_failed_run(
    platform: Settings, damage: str, named: str
) -> None:
    store = store_of(platform)
    name = monthly(PREDICTIONS, MONTH)
    scored_version = store.require_current(UC, name)
    scored = store.read_table(UC, name)
    assert scored["score"].null_count() == INVALID  # the control: the model answered

    if damage == "tampered":
        with _bundle_file(platform, "pipeline.skops").open("ab") as handle:
            handle.write(b"\x00tampered")
    else:
        _bundle_file(platform, "outliers.npz").unlink()
    result = score_month(platform)
    assert f"{UC}__predictions" in succeeded(result), failures(result)

    answers = store.read_table(UC, name)
    assert store.require_current(UC, name) != scored_version
    assert answers.height == ROWS and answers["application_id"].n_unique() == ROWS
    assert set(answers["decision"]) == {"refer"}
    assert answers["score"].null_count() == ROWS
    assert set(answers["model_version"]) == {"1"}
    (reason,) = set(answers["reason_1"])  # one reason, the invalid rows' too
    assert reason.startswith(f"{MODEL_UNAVAILABLE}: version 1: ") and named in reason, reason
    # The earlier answers are kept as they were.
    assert store.read_table(UC, name, scored_version).equals(scored)

    metadata = predictions_metadata(result)
    assert metadata["fallback_reason"] == reason
    assert metadata["refer_share"] == 1.0 and metadata["model_version"] == "1"

    alerts = [json.loads(line) for line in (platform.home_dir / "alerts.jsonl").open()]
    scoring = [a for a in alerts if a["kind"] == "scoring"]
    assert len(scoring) == 1 and scoring[0]["severity"] == "critical", scoring
    assert reason in scoring[0]["summary"] and "anna.berg@bank.example" in scoring[0]["owners"]

    log = SqliteAuditLog(path=str(platform.audit_log_path))
    (record,) = log.records(use_case=UC, events=["scoring_fallback"])
    assert record.actor == f"dagster:{result.run_id}"
    assert record.model_version == "1" and record.reason == f"{MONTH}: {reason}"
    assert log.verify().ok

    # `modelops status` says so too.
    assert (
        cli(platform, "status", "-u", UC)
        .out.splitlines()[1]
        .startswith(f"  scoring: answering 'refer' throughout: {MODEL_UNAVAILABLE}: version 1")
    )


def test_the_whole_scoring_run_succeeds_with_a_tampered_champion(platform: Settings) -> None:
    """Drift is not measured (nothing trustworthy to compare with) and says why; the run,
    and so the month's answers, succeed."""
    with _bundle_file(platform, "pipeline.skops").open("ab") as handle:
        handle.write(b"\x00tampered")
    result = score_month(platform)
    assert result.success, failures(result)
    drift = [
        e.event_specific_data.materialization
        for e in result.get_asset_materialization_events()
        if e.event_specific_data.materialization.asset_key.path[-1] == "monthly_drift"
    ]
    (materialization,) = drift
    note = materialization.metadata["report"].value
    assert "drift not measured: model unavailable: version 1" in note


def test_a_model_failing_on_the_month_answers_refer_with_the_error(released: Settings) -> None:
    """The month's rows reach a model that cannot score them (a feature missing from the
    table): every application `refer`, reason `model error: ...`, no exception."""
    store = store_of(released)
    spec = load_spec(released.specs_dir / f"{UC}.yaml")
    log = SqliteAuditLog(path=str(released.audit_log_path))
    bundle = champion_bundle(store, log, spec)
    assert bundle is not None
    features = store.read_table(UC, monthly(PRODUCTION_FEATURES, MONTH))
    quarantined = store.read_table(UC, monthly(PRODUCTION_QUARANTINE, MONTH))
    broken = features.drop(spec.model_inputs[0])
    table = answer_month(
        broken, quarantined, bundle, spec, month=MONTH, scored_at=datetime.now(UTC)
    )
    assert table.height == ROWS and set(table["decision"]) == {"refer"}
    (reason,) = set(table["reason_1"])
    assert reason.startswith(f"{MODEL_ERROR}: version 1: ") and "\n" not in reason, reason
    # The same tables with the feature: scored, the invalid rows referred with their reasons.
    fine = answer_month(
        features, quarantined, bundle, spec, month=MONTH, scored_at=datetime.now(UTC)
    )
    assert fine["score"].null_count() == INVALID
    invalid = fine.filter(pl.col("score").is_null())["reason_1"].to_list()
    assert all(r.startswith("input failed validation: ") for r in invalid), invalid
