"""Acceptance: MODELOPS_ENV=gcp runs the whole German credit graph with every artifact in GCS.

The bucket is gcp-storage-emulator's, talked to with the real google-cloud-storage client, and
MLflow keeps its artifacts in the same bucket (its own GCS artifact repository). The tracking
store is a SQLite file here; the MLflow server itself is tested in test_mlflow_server.py. Not
verified: authentication, a real bucket's IAM, and BigQuery (see test_bigquery.py).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import polars as pl
import yaml
from mlflow import MlflowClient

from modelops.definitions import build_definitions
from modelops.ml.serving_bundle import FILES as BUNDLE_FILES
from modelops.names import MAIN_JOB, SERVING_BUNDLE_PREFIX
from modelops.names import TRAINING_ASSETS as ASSET_NAMES
from modelops.resources.gcs import GcsArtifactStore
from modelops.settings import Settings
from modelops.spec import load_spec
from support import GERMAN_DATA, GERMAN_SPEC, PROJECT

if TYPE_CHECKING:
    from support.gcs_emulator import EmulatorBucket


UC = "german_credit"
PREFIX = "modelops-test"
RAW_OBJECT = "landing/german_credit.csv"

# What each asset's version folder must hold.
FILES = {
    "raw_dataset": {"batch.csv"},
    "validated_dataset": {"table.parquet"},
    "quarantined_rows": {"table.parquet"},
    "features": {"table.parquet"},
    "training_set": {"table.parquet"},
    "holdout_set": {"table.parquet"},
    "trained_model": {
        "model.json",
        "gate_plan.json",
        "card_inputs.json",
        *(f"{SERVING_BUNDLE_PREFIX}{name}" for name in BUNDLE_FILES),
    },
    "evaluation_report": {
        "evaluation.json",
        "evaluation.md",
        "roc.png",
        "calibration.png",
        "explanation.json",
        "explanation.md",
    },
    "drift_report": {"drift.json", "drift.md", "drift.html", "most_moved_inputs.png"},
    "fairness_report": {"fairness.json", "fairness.md", "fairness.png"},
    "release_gates": {"gates.json", "gates.md"},
    "model_card": {"model_card.md", "model_card.html"},
}
STORED_ASSETS = set(ASSET_NAMES) - {"model_release"}
"""`model_release` moves registry aliases and writes the audit log; it stores no file."""


def gcp_settings(tmp_path: Path, bucket: str, audit_database_url: str) -> Settings:
    """The project's German credit spec, reading its batch from the bucket."""
    spec = yaml.safe_load(GERMAN_SPEC.read_text())
    spec["source"]["path"] = f"gs://{bucket}/{RAW_OBJECT}"
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / GERMAN_SPEC.name).write_text(yaml.safe_dump(spec, sort_keys=False))
    return Settings.from_env(
        {
            "MODELOPS_ENV": "gcp",
            "MODELOPS_PROJECT_DIR": str(PROJECT),
            "MODELOPS_SPECS_DIR": str(specs),
            "MODELOPS_HOME": str(tmp_path / "home"),
            "MODELOPS_GCP_PROJECT": "bank-modelops-test",
            "MODELOPS_GCS_BUCKET": bucket,
            "MODELOPS_GCS_PREFIX": PREFIX,
            "MODELOPS_MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
            "MODELOPS_MLFLOW_ARTIFACT_ROOT": f"gs://{bucket}/mlflow",
            "MODELOPS_AUDIT_DATABASE_URL": audit_database_url,
        }
    )


def test_the_whole_graph_runs_on_gcs(
    gcs_bucket: EmulatorBucket, tmp_path: Path, postgres_server: Any, postgres_database: Any
):
    assert GERMAN_DATA.stat().st_size > 0
    gcs_bucket.upload(RAW_OBJECT, GERMAN_DATA.read_bytes())
    # The audit log of a cloud environment is a Postgres table (a throwaway database here).
    audit_url = postgres_server.url(postgres_database()).replace("+psycopg2", "")
    settings = gcp_settings(tmp_path, gcs_bucket.name, audit_url)
    defs = build_definitions(settings)
    assert isinstance(defs.resources["store"], GcsArtifactStore)

    result = defs.resolve_job_def(MAIN_JOB).execute_in_process(
        instance=dg.DagsterInstance.ephemeral()
    )
    assert result.success

    # Every asset has a CURRENT pointer and the files of the version it points to.
    names = set(gcs_bucket.object_names(prefix=f"{PREFIX}/"))
    root = f"{PREFIX}/{UC}"
    assert {n.split("/")[2] for n in names} == STORED_ASSETS
    for asset in STORED_ASSETS:
        assert f"{root}/{asset}/CURRENT" in names, asset
        version = gcs_bucket.download(f"{root}/{asset}/CURRENT").decode()
        stored = {n.rsplit("/", 1)[1] for n in names if n.startswith(f"{root}/{asset}/{version}/")}
        assert stored == FILES[asset], asset
    # Nothing else under the prefix: only version folders and pointers.
    assert all(len(n.split("/")) in (4, 5) for n in names)

    def current(asset: str, filename: str) -> bytes:
        version = gcs_bucket.download(f"{root}/{asset}/CURRENT").decode()
        return gcs_bucket.download(f"{root}/{asset}/{version}/{filename}")

    # The raw batch is the uploaded object byte for byte; the datasets add up.
    assert current("raw_dataset", "batch.csv") == GERMAN_DATA.read_bytes()
    valid = pl.read_parquet(io.BytesIO(current("validated_dataset", "table.parquet")))
    quarantined = pl.read_parquet(io.BytesIO(current("quarantined_rows", "table.parquet")))
    assert valid.height + quarantined.height == 1000

    # Lineage in Dagster points at the bucket, not at a local folder.
    raw = result.asset_materializations_for_node(f"{UC}__raw_dataset")[0].metadata
    assert raw["source"].value == f"gs://{gcs_bucket.name}/{RAW_OBJECT}"
    # A link a person opens: the Cloud console's authenticated https view of the object.
    console = f"https://storage.cloud.google.com/{gcs_bucket.name}/{root}/raw_dataset/"
    assert raw["uri"].value.startswith(console)
    assert not settings.data_dir.exists()

    # A model version was registered, and its files went to the bucket through MLflow.

    ref = json.loads(current("trained_model", "model.json"))
    assert ref["version"] == "1"
    client = MlflowClient(settings.mlflow_tracking_uri, settings.mlflow_tracking_uri)
    version = client.get_model_version("german_credit", "1")
    assert version.run_id == ref["run_id"]
    mlflow_objects = gcs_bucket.object_names(prefix=f"mlflow/{UC}/")
    assert any(n.endswith("/artifacts/model.skops") for n in mlflow_objects), mlflow_objects
    assert any(n.endswith("/artifacts/model_card/model_card.md") for n in mlflow_objects)
    # ... and comes back from the bucket as the same model (not from this process's memory).
    from modelops.ml.training import predict_scores

    tracking = defs.resources["tracking"]
    spec = load_spec(settings.specs_dir / GERMAN_SPEC.name)
    holdout = pl.read_parquet(io.BytesIO(current("holdout_set", "table.parquet")))
    trained = predict_scores(tracking.load_model(ref["model_uri"]), holdout, spec)
    stored = predict_scores(tracking.load_model(ref["model_uri"], from_store=True), holdout, spec)
    assert stored.tolist() == trained.tolist()


def test_the_release_record_of_the_gcp_run_is_in_postgres(
    gcs_bucket: EmulatorBucket, tmp_path: Path, postgres_server: Any, postgres_database: Any
):
    """The audit log of a cloud run is the Postgres table: training, gate thresholds, gate
    result and challenger, in one verified chain."""
    from modelops.resources.audit_postgres import PostgresAuditLog

    gcs_bucket.upload(RAW_OBJECT, GERMAN_DATA.read_bytes())
    audit_url = postgres_server.url(postgres_database()).replace("+psycopg2", "")
    settings = gcp_settings(tmp_path, gcs_bucket.name, audit_url)
    defs = build_definitions(settings)
    assert isinstance(defs.resources["audit_log"], PostgresAuditLog)
    job = defs.resolve_job_def(f"{UC}_pipeline")
    assert job.execute_in_process(instance=dg.DagsterInstance.ephemeral()).success
    log = defs.resources["audit_log"]
    events = [r.event for r in log.records(use_case=UC)]
    assert events == ["training", "gate_thresholds", "gate_result", "challenger"]
    assert log.verify().ok
