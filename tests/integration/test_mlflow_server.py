"""The platform against a real MLflow tracking server (Postgres backend, proxied artifacts).

Production runs talk to MLflow over HTTP only: runs, dataset lineage, registered versions and
artifacts must all go through the server, and nothing may land on the run worker's disk. A
second server with basic auth checks that the platform authenticates from the environment.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import polars as pl
import pytest
import requests

from modelops.definitions import build_definitions
from modelops.resources.storage import LocalArtifactStore
from modelops.resources.tracking import DatasetRef, ModelTracking
from modelops.settings import Settings
from modelops.spec import UseCaseSpec
from support import GERMAN_DATA, PROJECT, copy_german_spec

if TYPE_CHECKING:
    from support.mlflow_server import MlflowServer
    from support.postgres import PostgresServer


UC = "german_credit"
API = "/api/2.0/mlflow"
# The server's proxied artifact store; left to the `local` default, artifacts would go to a
# folder on the run worker and never through the server.
ARTIFACT_ROOT = "mlflow-artifacts:/modelops"


def server_settings(root: Path, tracking_uri: str) -> Settings:
    copy_german_spec(root / "specs")
    return Settings.from_env(
        {
            "MODELOPS_PROJECT_DIR": str(PROJECT),
            "MODELOPS_SPECS_DIR": str(root / "specs"),
            "MODELOPS_HOME": str(root / "home"),
            "MODELOPS_MLFLOW_TRACKING_URI": tracking_uri,
            "MODELOPS_MLFLOW_ARTIFACT_ROOT": ARTIFACT_ROOT,
        }
    )


def versions(url: str) -> set[str]:
    response = requests.get(f"{url}{API}/model-versions/search", params={"filter": f"name='{UC}'"})
    response.raise_for_status()
    return {v["version"] for v in response.json().get("model_versions", [])}


@pytest.fixture(scope="session")
def auth_server_process(
    start_mlflow_server: Callable[..., MlflowServer],
    postgres_database: Callable[[], str],
    postgres_server: PostgresServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[MlflowServer, tuple[str, str]]:
    """A basic-auth server, started (not yet healthy) before the shared server is awaited, so
    that both start at the same time. Its user store is a throwaway Postgres database."""
    folder = tmp_path_factory.mktemp("mlflow-auth")
    auth_ini = folder / "basic_auth.ini"
    auth_ini.write_text(
        "[mlflow]\n"
        "default_permission = NO_PERMISSIONS\n"
        f"database_uri = {postgres_server.url(postgres_database())}\n"
        "admin_username = admin\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        # Without it every request pays a password hash (~26 requests per training).
        "auth_cache_ttl_seconds = 60\n"
    )
    admin_password = secrets.token_urlsafe(16)
    server = start_mlflow_server(
        folder,
        postgres_server.url(postgres_database()),
        extra_args=["--app-name", "basic-auth"],
        env={
            "MLFLOW_AUTH_CONFIG_PATH": str(auth_ini),
            "MLFLOW_AUTH_ADMIN_PASSWORD": admin_password,
            "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
        },
    )
    return server, ("admin", admin_password)


@pytest.fixture(scope="module")
def graph_run(
    auth_server_process: tuple[MlflowServer, tuple[str, str]],
    mlflow_server_process: MlflowServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Settings, dg.ExecuteInProcessResult, str]:
    """The whole German credit graph once, tracked on the shared server. (The basic-auth
    server is requested only so that it starts now, while this one is awaited.)"""
    settings = server_settings(tmp_path_factory.mktemp("platform"), mlflow_server_process.url)
    before = versions(mlflow_server_process.url)
    result = (
        build_definitions(settings)
        .resolve_job_def("all_use_cases")
        .execute_in_process(instance=dg.DagsterInstance.ephemeral())
    )
    assert result.success
    (new,) = versions(mlflow_server_process.url) - before
    return settings, result, new


def test_graph_registers_one_version_and_writes_nothing_locally(
    graph_run: tuple[Settings, dg.ExecuteInProcessResult, str],
) -> None:
    settings, result, version = graph_run
    model = next(
        e.materialization
        for e in result.get_asset_materialization_events()
        if e.materialization.asset_key == dg.AssetKey([UC, "trained_model"])
    )
    # The asset's data version is the version the server registered.
    assert model.tags is not None and model.tags["dagster/data_version"] == version
    # No local MLflow store or artifact folder: the worker only talked HTTP.
    assert not (settings.home_dir / "mlartifacts").exists()
    # No MLflow store beside the platform: the only local database is the audit log, which
    # the local environment keeps in SQLite whatever the tracking URI.
    assert [p.name for p in settings.home_dir.rglob("*.db")] == ["audit.db"]


def test_run_lineage_and_version_through_the_rest_api(
    graph_run: tuple[Settings, dg.ExecuteInProcessResult, str], mlflow_server: str
) -> None:
    settings, _, version = graph_run
    mv = requests.get(
        f"{mlflow_server}{API}/model-versions/get", params={"name": UC, "version": version}
    ).json()["model_version"]
    assert mv["status"] == "READY"
    # A summary that fits the registry, linking the full card in MLflow's artifact view.
    assert mv["description"].startswith(f"**{UC} version {version}**: holdout AUC 0.")
    assert "risk tier high" in mv["description"]
    assert f"/runs/{mv['run_id']}/artifactPath/model_card/" in mv["description"]
    run = requests.get(f"{mlflow_server}{API}/runs/get", params={"run_id": mv["run_id"]}).json()
    info, data, inputs = run["run"]["info"], run["run"]["data"], run["run"]["inputs"]
    assert info["status"] == "FINISHED"
    tags = {t["key"]: t["value"] for t in data["tags"]}
    training_version = LocalArtifactStore(root=str(settings.data_dir)).current_version(
        UC, "training_set"
    )
    assert tags["modelops.training_set_version"] == training_version
    assert {m["key"] for m in data["metrics"]} >= {"train_auc", "holdout_auc"}
    (dataset,) = [i["dataset"] for i in inputs["dataset_inputs"]]
    assert dataset["name"] == f"{UC}/training_set"
    assert dataset["digest"] == training_version


def test_artifacts_are_proxied_by_the_server(
    graph_run: tuple[Settings, dg.ExecuteInProcessResult, str],
    mlflow_server_process: MlflowServer,
    german_spec: UseCaseSpec,
) -> None:
    settings, _, version = graph_run
    url = mlflow_server_process.url
    tracking = ModelTracking(tracking_uri=url)
    run = tracking._client().get_run(tracking.run_id_of(UC, version))
    assert run.info.artifact_uri.startswith(f"{ARTIFACT_ROOT}/{UC}/")

    # Downloaded over plain HTTP from the server's artifact proxy...
    relative = run.info.artifact_uri.removeprefix("mlflow-artifacts:/")
    response = requests.get(
        f"{url}/api/2.0/mlflow-artifacts/artifacts/{relative}/evaluation/evaluation.json"
    )
    response.raise_for_status()
    assert json.loads(response.content)["model_version"] == version
    # ...and stored where the server keeps artifacts, not where the worker runs.
    assert (mlflow_server_process.artifacts / relative / "evaluation" / "roc.png").is_file()

    # The registered model loads back through the server and scores.
    from modelops.ml.training import model_input_frame

    model = tracking.load_model(f"models:/{UC}/{version}", from_store=True)
    holdout = LocalArtifactStore(root=str(settings.data_dir)).read_table(UC, "holdout_set")
    scores = model.predict_proba(model_input_frame(holdout.head(5), german_spec))[:, 1]
    assert ((scores > 0) & (scores < 1)).all()


def test_basic_auth_refuses_anonymous_calls_and_accepts_env_credentials(
    auth_server_process: tuple[MlflowServer, tuple[str, str]],
    german_spec: UseCaseSpec,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, admin = auth_server_process
    url = server.wait_healthy()
    search = f"{url}{API}/experiments/search"
    assert requests.post(search, json={"max_results": 1}).status_code == 401
    assert (
        requests.post(search, json={"max_results": 1}, auth=("admin", "wrong")).status_code == 401
    )

    # A service account for training runs, created by the admin; not an admin itself.
    trainer = ("modelops-trainer", secrets.token_urlsafe(16))
    created = requests.post(
        f"{url}{API}/users/create",
        json={"username": trainer[0], "password": trainer[1]},
        auth=admin,
    )
    assert created.status_code == 200, created.text

    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", trainer[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", trainer[1])
    registered = _record_a_training(ModelTracking(tracking_uri=url), german_spec)

    get_run = f"{url}{API}/runs/get?run_id={registered.run_id}"
    run = requests.get(get_run, auth=admin).json()["run"]
    assert run["info"]["status"] == "FINISHED"
    version = requests.get(
        f"{url}{API}/model-versions/get",
        params={"name": UC, "version": registered.version},
        auth=trainer,
    )
    assert version.json()["model_version"]["run_id"] == registered.run_id
    # The run belongs to the service account: another account without grants cannot read it.
    other = ("someone-else", secrets.token_urlsafe(16))
    requests.post(
        f"{url}{API}/users/create", json={"username": other[0], "password": other[1]}, auth=admin
    ).raise_for_status()
    assert requests.get(get_run, auth=trainer).status_code == 200
    assert requests.get(get_run, auth=other).status_code == 403


def _record_a_training(tracking: ModelTracking, spec: UseCaseSpec) -> Any:
    from modelops.ml.features import build_features
    from modelops.ml.split import split_train_holdout
    from modelops.ml.training import fit_model, model_input_frame
    from modelops.ml.validation import validate_batch

    raw = pl.read_csv(GERMAN_DATA, infer_schema=False)
    train, _ = split_train_holdout(build_features(validate_batch(raw, spec).valid, spec), spec)
    return tracking.record_training(
        use_case=UC,
        registered_name=UC,
        model=fit_model(train, spec),
        input_example=model_input_frame(train.head(5), spec),
        params={"estimator": spec.model.estimator},
        metrics={"train_auc": 0.8},
        tags={"modelops.use_case": UC},
        datasets=[
            (
                DatasetRef(f"{UC}/training_set", "file:///data.parquet", "0123abcd", "training"),
                train.head(100),
            )
        ],
        run_name="basic-auth-check",
    )
