"""The bundled R use case (`assets/german_credit_r.yaml`) through the whole release process:
trained in R through Dagster Pipes, registered, gated, carded, approved, reproduced by running
R again, and a production month batch-scored by R. A failing R script fails its step with
R's own message and leaves the earlier version as it was."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import mlflow
import pytest
import yaml

from modelops.instance import local_instance
from modelops.settings import Settings
from support import GERMAN_DATA, PROJECT, write_spec
from support.monthly_platform import MONTH, ROWS, score_month, write_month
from support.platform_cli import cli

UC = "german_credit_r"
R_SPEC = PROJECT / "assets" / f"{UC}.yaml"
GLM = "model_code/german_credit_glm"
APPROVE = ("--by", "val@bank.example", "--role", "model_validator", "--reason", "VR-7")


def _project(root: Path) -> Path:
    """A project folder of the test's own: the R model code and the German credit data."""
    project = root / "project"
    shutil.copytree(PROJECT / GLM, project / GLM)
    (project / "data").mkdir(parents=True)
    shutil.copy(GERMAN_DATA, project / "data" / GERMAN_DATA.name)
    return project


def _settings(root: Path, project: Path) -> Settings:
    spec = yaml.safe_load(R_SPEC.read_text())
    spec["monitoring"]["batches"] = {"path": str(root / "applications" / "{month}.csv")}
    write_spec(root / "specs", spec)
    return Settings.from_env(
        {
            "MODELOPS_PROJECT_DIR": str(project),
            "MODELOPS_SPECS_DIR": str(root / "specs"),
            "MODELOPS_HOME": str(root / "home"),
            "MODELOPS_SOURCE_ROOTS": str(root),
        }
    )


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Version 1 of the R use case trained and approved; one production month written."""
    root = tmp_path_factory.mktemp("r_use_case")
    write_month(root)
    settings = _settings(root, _project(root))
    trained = cli(settings, "run", "-u", UC, env={"MODELOPS_ACTOR": "trainer@bank.example"})
    assert trained.code == 0, trained.printed
    approved = cli(settings, "approve", "-u", UC, *APPROVE)
    assert approved.code == 0, approved.printed
    return settings


def _latest(settings: Settings, name: str) -> dg.AssetMaterialization:
    instance = local_instance(settings.dagster_home)
    event = instance.get_latest_materialization_event(dg.AssetKey([UC, name]))
    assert event is not None and event.asset_materialization is not None
    return event.asset_materialization


def test_r_trains_through_pipes_and_its_logs_and_metadata_reach_the_asset(platform) -> None:
    metadata = _latest(platform, "trained_model").metadata
    assert metadata["runtime/runtime_language"].value == "R"
    assert str(metadata["runtime/runtime_version"].value).startswith("4.")
    assert metadata["runtime/converged"].value is True
    assert "R " in str(metadata["trained_in"].value)
    instance = local_instance(platform.dagster_home)
    run_id = instance.get_latest_materialization_event(dg.AssetKey([UC, "trained_model"])).run_id
    messages = [e.user_message for e in instance.all_logs(run_id)]
    assert any("glm on" in m for m in messages), "the R script's log lines reach the run"
    checks = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey([UC, "trained_model"]), "runtime_fit_healthy")]
    )
    assert all(c.status.value == "SUCCEEDED" for c in checks.values()) and checks


def test_mlflow_keeps_the_run_with_the_rds_and_says_r(platform) -> None:
    client = mlflow.MlflowClient(
        platform.mlflow_tracking_uri, registry_uri=platform.mlflow_tracking_uri
    )
    version = client.get_model_version(UC, "1")
    run = client.get_run(version.run_id)
    assert run.data.tags["modelops.runtime"] == "r"
    assert run.data.tags["modelops.runtime.language"] == "R"
    artifacts = {a.path for a in client.list_artifacts(version.run_id, "runtime")}
    assert {"runtime/model.rds", "runtime/description.json", "runtime/model.R"} <= artifacts


def test_the_r_version_is_gated_and_carded_as_r_and_becomes_champion(platform) -> None:
    status = cli(platform, "status", "-u", UC)
    assert status.code == 0 and "champion v1" in status.printed, status.printed
    assert _latest(platform, "release_gates").metadata["passed"].value is True
    card = str(_latest(platform, "model_card").metadata["card"].value)
    assert "Trained in: R 4." in card and "model.rds" in card


def test_reproduce_runs_r_again_and_gets_the_same_holdout_scores(platform) -> None:
    reproduced = cli(platform, "reproduce", "-u", UC, "--by", "val@bank.example")
    assert reproduced.code == 0, reproduced.printed
    assert "REPRODUCED" in reproduced.printed and "reproduced in R" in reproduced.printed


def test_a_month_is_batch_scored_by_r(platform) -> None:
    result = score_month(platform, UC)
    assert result.success
    metadata = _latest(platform, "predictions").metadata
    assert "R 4." in str(metadata["scored_in"].value)
    assert "fallback_reason" not in metadata
    from modelops.resources.environment import resources_for

    store = resources_for(platform).store
    table = store.read_table(UC, f"predictions/{MONTH}")
    scored = table.filter(table["score"].is_not_null())
    assert scored.height == ROWS - 2
    scores = scored["score"].to_numpy()
    assert ((scores > 0) & (scores < 1)).all()
    assert scored["reason_1"].null_count() == 0


def test_a_failing_r_script_fails_the_step_with_rs_message_and_keeps_version_1(
    platform, tmp_path: Path
) -> None:
    root = tmp_path
    project = _project(root)
    script = project / GLM / "model.R"
    script.write_text(
        script.read_text().replace(
            "pipes_run(function(ctx) {",
            'pipes_run(function(ctx) {\n  stop("deliberate failure: no column named duration")',
        )
    )
    shutil.copytree(platform.home_dir, root / "home")
    settings = _settings(root, project)
    failed = cli(settings, "run", "-u", UC)
    assert failed.code != 0
    print(failed.printed)
    assert "deliberate failure: no column named duration" in failed.printed, failed.printed
    status = cli(settings, "status", "-u", UC)
    assert "champion v1" in status.printed, status.printed
    client = mlflow.MlflowClient(
        settings.mlflow_tracking_uri, registry_uri=settings.mlflow_tracking_uri
    )
    assert [str(v.version) for v in client.search_model_versions(f"name='{UC}'")] == ["1"]


def test_a_month_r_cannot_score_is_referred_with_the_reason(platform, tmp_path: Path) -> None:
    shutil.copytree(platform.home_dir, tmp_path / "home")
    settings = _settings(tmp_path, platform.project_dir)
    write_month(tmp_path)
    from modelops.resources.environment import resources_for

    store = resources_for(settings).store
    stored = store.uri(UC, "trained_model", "1", "runtime/model.rds").removeprefix("file://")
    Path(stored).write_bytes(b"not the trained model")
    result = score_month(settings, UC)
    assert result.success, "production always answers"
    table = store.read_table(UC, f"predictions/{MONTH}")
    assert set(table["decision"]) == {"refer"}
    reasons = set(table["reason_1"])
    assert any("R scoring failed" in r and "changed after training" in r for r in reasons), reasons
