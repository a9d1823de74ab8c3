"""The whole German credit graph, materialized in-process on an isolated embedded default.

A first run through the CLI is made once for the module (`first_run`) and only read by the
tests that inspect it. Tests that run the graph again (a second version, corrupted data, an
empty source) start from a platform home of their own, so no test depends on another's order.
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import yaml

from modelops.cli import main
from modelops.definitions import build_definitions
from modelops.names import MAIN_JOB
from modelops.names import TRAINING_ASSETS as ASSET_NAMES
from modelops.provenance import code_revision
from modelops.resources.environment import resources_for
from modelops.resources.storage import LocalArtifactStore
from modelops.settings import Settings
from support import GERMAN_DATA, copy_german_spec, make_settings

UC = "german_credit"


@dataclass(frozen=True)
class FirstRun:
    settings: Settings
    exit_code: int
    printed: str


def _new_platform(root: Path) -> Settings:
    copy_german_spec(root / "specs")
    return make_settings(root, root / "specs")


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> FirstRun:
    """`modelops run` on a fresh platform home, as a newcomer types it."""
    settings = _new_platform(tmp_path_factory.mktemp("platform"))
    with pytest.MonkeyPatch.context() as patch:
        for name, value in _env_for(settings).items():
            patch.setenv(name, value)
        patch.delenv("DAGSTER_HOME", raising=False)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(["run"])
    return FirstRun(settings, code, out.getvalue())


@pytest.fixture
def platform(first_run: FirstRun) -> Settings:
    return first_run.settings


def _trained_platform(tmp_path: Path) -> Settings:
    """A platform home of the test's own, after one run of the whole graph."""
    settings = _new_platform(tmp_path / "own")
    result = (
        build_definitions(settings)
        .resolve_job_def(MAIN_JOB)
        .execute_in_process(instance=_instance(settings))
    )
    assert result.success
    return settings


def _env_for(settings: Settings) -> dict[str, str]:
    return {
        "MODELOPS_PROJECT_DIR": str(settings.project_dir),
        "MODELOPS_SPECS_DIR": str(settings.specs_dir),
        "MODELOPS_HOME": str(settings.home_dir),
    }


def _reading_from(platform: Settings, source: Path, tmp_path: Path) -> Settings:
    """The same platform home, with the use case's spec pointing at another source file."""
    spec = yaml.safe_load((platform.specs_dir / f"{UC}.yaml").read_text())
    spec["source"]["path"] = str(source)
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / f"{UC}.yaml").write_text(yaml.safe_dump(spec))
    # The platform team lets this platform read the test's own folder too.
    roots = (*platform.source_roots, str(tmp_path))
    return platform.model_copy(update={"specs_dir": specs, "source_roots": roots})


def _store(settings: Settings) -> LocalArtifactStore:
    return LocalArtifactStore(root=str(settings.data_dir))


def _instance(settings: Settings) -> dg.DagsterInstance:
    from modelops.instance import local_instance

    return local_instance(settings.dagster_home)


def _mlflow(settings: Settings):
    from mlflow import MlflowClient

    uri = settings.mlflow_tracking_uri
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def test_first_run_through_the_cli(first_run: FirstRun) -> None:
    platform, out = first_run.settings, first_run.printed
    assert first_run.exit_code == 0

    assert f"{len(ASSET_NAMES) + 1} assets materialized" in out  # + the model inventory
    assert "german_credit: model version 1; holdout AUC" in out
    assert "http://127.0.0.1:3000/runs/" in out
    assert "/#/models/german_credit/versions/1" in out

    # Every asset was recorded in the persistent instance, with a data version.
    instance = _instance(platform)
    for name in ASSET_NAMES:
        event = instance.get_latest_materialization_event(dg.AssetKey([UC, name]))
        assert event is not None, name
        tags = event.asset_materialization.tags  # type: ignore[union-attr]
        assert tags["dagster/data_version"], name
        assert tags["dagster/code_version"], name


def test_run_outputs_are_stored_and_described(platform: Settings) -> None:
    store = _store(platform)
    instance = _instance(platform)

    raw_version = store.require_current(UC, "raw_dataset")
    # The raw dataset is the batch byte for byte as the source delivered it.
    assert store.read_bytes(UC, "raw_dataset", raw_version, "batch.csv") == GERMAN_DATA.read_bytes()
    raw = pl.read_csv(GERMAN_DATA, infer_schema=False)
    valid = store.read_table(UC, "validated_dataset")
    quarantined = store.read_table(UC, "quarantined_rows")
    assert raw.height == 1000
    assert valid.height + quarantined.height == raw.height
    train, holdout = store.read_table(UC, "training_set"), store.read_table(UC, "holdout_set")
    assert train.height + holdout.height == valid.height
    assert set(train["row_id"]).isdisjoint(set(holdout["row_id"]))

    event = instance.get_latest_materialization_event(dg.AssetKey([UC, "validated_dataset"]))
    metadata = event.asset_materialization.metadata  # type: ignore[union-attr]
    assert metadata["dagster/row_count"].value == valid.height
    columns = [c.name for c in metadata["dagster/column_schema"].value.columns]
    assert columns == valid.columns

    model_event = instance.get_latest_materialization_event(dg.AssetKey([UC, "trained_model"]))
    assert model_event.asset_materialization.tags["dagster/data_version"] == "1"  # type: ignore[union-attr]

    evaluation = instance.get_latest_materialization_event(dg.AssetKey([UC, "evaluation_report"]))
    eval_md = evaluation.asset_materialization.metadata["report"].value  # type: ignore[union-attr]
    assert "AUC" in eval_md
    auc = evaluation.asset_materialization.metadata["holdout_auc"].value  # type: ignore[union-attr]
    assert 0.7 < auc < 0.9

    card = store.read_bytes(
        UC, "model_card", store.require_current(UC, "model_card"), "model_card.md"
    ).decode()
    assert card.startswith("# Model card: german_credit version 1")
    assert "## Ethical considerations" in card


def test_mlflow_records_run_lineage_and_registered_version(platform: Settings) -> None:
    client = _mlflow(platform)
    version = client.get_model_version(UC, "1")
    run = client.get_run(version.run_id)

    assert run.info.status == "FINISHED"
    # The logged model carries its signature and input example.
    import mlflow
    from mlflow.models import get_model_info

    mlflow.set_tracking_uri(platform.mlflow_tracking_uri)
    mlflow.set_registry_uri(platform.mlflow_tracking_uri)
    info = get_model_info(f"models:/{UC}/1")
    assert info.signature is not None
    assert "credit_amount" in info.signature.inputs.input_names()
    assert info.saved_input_example_info is not None
    assert run.data.tags["modelops.use_case"] == UC
    assert run.data.tags["modelops.git_commit"]
    assert run.data.tags["modelops.training_set_version"] == _store(platform).current_version(
        UC, "training_set"
    )
    assert run.data.params["estimator"] == "sklearn.linear_model.LogisticRegression"
    assert "holdout_auc" in run.data.metrics and "train_auc" in run.data.metrics
    inputs = run.inputs.dataset_inputs
    assert [i.dataset.name for i in inputs] == [f"{UC}/training_set"]
    assert inputs[0].dataset.digest == run.data.tags["modelops.training_set_version"]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation")}
    assert {
        "evaluation/roc.png",
        "evaluation/calibration.png",
        "evaluation/evaluation.json",
    } <= artifacts
    # A summary that fits the registry, linking the full card in MLflow's artifact view.
    assert version.description.startswith("**german_credit version 1**: holdout AUC 0.")
    assert "release gates passed" in version.description and "risk tier high" in version.description
    assert f"/runs/{version.run_id}/artifactPath/model_card/model_card.html" in version.description


def test_second_run_keeps_the_first_versions(tmp_path: Path) -> None:
    platform = _trained_platform(tmp_path)
    store = _store(platform)
    first_card_version = store.require_current(UC, "model_card")
    first_card = store.read_bytes(UC, "model_card", first_card_version, "model_card.md")
    first_eval = store.current_version(UC, "evaluation_report")
    # Version 1 is approved by a validator and becomes champion: the second candidate must
    # be compared with it.
    from modelops.governance.release_desk import ReleaseDesk
    from modelops.spec import load_spec
    from modelops.spec.risk import load_risk_policy

    defs = build_definitions(platform)
    resources = resources_for(platform)
    desk = ReleaseDesk(
        load_spec(platform.specs_dir / f"{UC}.yaml"),
        load_risk_policy(),
        resources.tracking,
        resources.audit_log,
    )
    assert desk.approve("1", "val@bank.example", "model_validator", "VR-1").champion == "1"

    result = defs.resolve_job_def(MAIN_JOB).execute_in_process(instance=_instance(platform))
    assert result.success

    assert store.current_version(UC, "trained_model") == "2"
    # Version 1's card and report are still there, byte for byte.
    assert store.current_version(UC, "model_card") != first_card_version
    assert store.read_bytes(UC, "model_card", first_card_version, "model_card.md") == first_card
    assert store.exists(UC, "evaluation_report", first_eval, "evaluation.json")

    second_eval = json.loads(
        store.read_bytes(
            UC,
            "evaluation_report",
            store.require_current(UC, "evaluation_report"),
            "evaluation.json",
        )
    )
    assert second_eval["model_version"] == "2"
    assert second_eval["champion"]["version"] == "1"
    assert second_eval["champion"]["error"] is None
    # Same data, same seed, same code: the champion's holdout AUC equals the candidate's.
    assert second_eval["champion"]["metrics"]["auc"] == pytest.approx(
        second_eval["candidate"]["auc"], abs=1e-12
    )
    client = _mlflow(platform)
    assert {str(v.version) for v in client.search_model_versions(f"name='{UC}'")} == {"1", "2"}


def test_corrupted_batch_is_quarantined_blocked_and_overwrites_nothing(tmp_path: Path) -> None:
    platform = _trained_platform(tmp_path)
    store = _store(platform)
    before = {name: store.current_version(UC, name) for name in ASSET_NAMES}

    # A batch where a fifth of the rows are broken in different ways.
    raw = pl.read_csv(GERMAN_DATA, infer_schema=False)
    row = pl.int_range(pl.len())
    raw = raw.with_columns(
        pl.when(row % 20 == 0)
        .then(pl.lit("twelve"))
        .otherwise(pl.col("duration_in_month"))
        .alias("duration_in_month"),
        pl.when(row % 20 == 1)
        .then(pl.lit("spaceship"))
        .otherwise(pl.col("purpose"))
        .alias("purpose"),
        pl.when(row % 20 == 2)
        .then(pl.lit("-5"))
        .otherwise(pl.col("credit_amount"))
        .alias("credit_amount"),
        pl.when(row % 20 == 3).then(None).otherwise(pl.col("creditability")).alias("creditability"),
    )
    bad_csv = tmp_path / "bad.csv"
    raw.write_csv(bad_csv)
    settings = _reading_from(platform, bad_csv, tmp_path)

    result = (
        build_definitions(settings)
        .resolve_job_def(MAIN_JOB)
        .execute_in_process(instance=_instance(settings), raise_on_error=False)
    )
    assert not result.success
    check = next(
        e for e in result.get_asset_check_evaluations() if e.asset_check_key.name == "batch_quality"
    )
    assert not check.passed
    assert "20.00% of rows quarantined" in (check.description or "")

    quarantined = store.read_table(UC, "quarantined_rows")
    assert quarantined.height == 200  # every broken row kept, none dropped
    reasons = dict(
        zip(quarantined["row_id"].to_list(), quarantined["reasons"].to_list(), strict=True)
    )
    assert reasons[1] == "duration_months: 'twelve' is not a valid int"
    assert reasons[2] == "purpose: 'spaceship' is not an allowed value"
    assert reasons[3] == "credit_amount: -5 is below the minimum 1.0"
    assert reasons[4] == "credit_risk: value is missing"

    # Downstream of the blocking check nothing moved: same features, model, reports.
    for name in (
        "features",
        "training_set",
        "holdout_set",
        "trained_model",
        "evaluation_report",
        "drift_report",
        "model_card",
    ):
        assert store.current_version(UC, name) == before[name], name
    assert store.current_version(UC, "validated_dataset") != before["validated_dataset"]
    client = _mlflow(platform)
    assert client.get_model_version(UC, "1").status == "READY"  # the model is untouched
    assert [str(v.version) for v in client.search_model_versions(f"name='{UC}'")] == ["1"]


def test_empty_source_fails_the_run_with_a_clear_error(tmp_path: Path) -> None:
    platform = _trained_platform(tmp_path)
    empty = tmp_path / "empty.csv"
    empty.write_text(GERMAN_DATA.read_text().splitlines()[0] + "\n")
    settings = _reading_from(platform, empty, tmp_path)
    store = _store(platform)
    raw_before = store.current_version(UC, "raw_dataset")

    result = (
        build_definitions(settings)
        .resolve_job_def(MAIN_JOB)
        .execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "the file has a header (21 columns) but no rows" in str(failure.step_failure_data.error)  # type: ignore[union-attr]
    assert store.current_version(UC, "raw_dataset") == raw_before


def test_model_ref_points_at_registered_version(platform: Settings) -> None:
    store = _store(platform)
    version = store.current_version(UC, "trained_model")
    ref = json.loads(store.read_bytes(UC, "trained_model", version, "model.json"))
    assert ref["model_uri"] == f"models:/{UC}/{version}"
    assert ref["git_commit"] == code_revision()
    assert ref["training_set_version"] == store.current_version(UC, "training_set")
