"""Platform settings read from MODELOPS_* variables, with errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelops.settings import Settings, SettingsError
from support import PROJECT


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"MODELOPS_PROJECT_DIR": str(PROJECT), "MODELOPS_HOME": str(tmp_path / "home"), **extra}


def test_defaults_are_the_local_embedded_setup(tmp_path: Path):
    settings = Settings.from_env(env(tmp_path))
    home = (tmp_path / "home").resolve()
    assert settings.environment == "local"
    assert settings.home_dir == home
    assert settings.project_dir == PROJECT
    assert settings.specs_dir == PROJECT / "assets"
    assert settings.mlflow_tracking_uri == f"sqlite:///{home / 'mlflow.db'}"
    assert settings.mlflow_artifact_root == (home / "mlartifacts").as_uri()
    assert settings.data_dir == home / "data"
    assert settings.dagster_home == home / "dagster"
    # Reading the settings creates nothing.
    assert not home.exists()


def test_empty_environment_finds_the_project(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    # Outside the project the package's own location is used to find pyproject.toml.
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({})
    assert settings.environment == "local"
    assert settings.project_dir == PROJECT
    assert settings.home_dir == PROJECT / ".modelops"
    assert settings.mlflow_tracking_uri == f"sqlite:///{PROJECT / '.modelops' / 'mlflow.db'}"


def test_explicit_values_win(tmp_path: Path):
    settings = Settings.from_env(
        env(
            tmp_path,
            MODELOPS_ENV="local",
            MODELOPS_MLFLOW_TRACKING_URI="http://mlflow:5000",
            MODELOPS_MLFLOW_ARTIFACT_ROOT="gs://bucket/mlflow",
            MODELOPS_MLFLOW_UI_URL="https://mlflow.bank.example",
        )
    )
    assert settings.mlflow_tracking_uri == "http://mlflow:5000"
    assert settings.mlflow_artifact_root == "gs://bucket/mlflow"
    assert settings.mlflow_ui_url == "https://mlflow.bank.example"


def test_unknown_environment_names_the_variable_and_the_choices(tmp_path: Path):
    with pytest.raises(SettingsError) as info:
        Settings.from_env(env(tmp_path, MODELOPS_ENV="banana"))
    message = str(info.value)
    assert "MODELOPS_ENV: 'banana' is invalid" in message
    assert "one of local, gcp, k8s" in message
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("environment", ["gcp", "k8s"])
def test_cloud_environments_list_every_missing_variable(tmp_path: Path, environment: str):
    """A data scientist sees everything to set in one go, each with what it expects."""
    with pytest.raises(SettingsError) as info:
        Settings.from_env(env(tmp_path, MODELOPS_ENV=environment))
    message = str(info.value)
    assert "MODELOPS_GCP_PROJECT: is required for this environment" in message
    assert (
        "MODELOPS_GCS_BUCKET: is required for this environment (a valid GCS bucket name)" in message
    )
    assert f"MODELOPS_MLFLOW_TRACKING_URI: is required with MODELOPS_ENV={environment}" in message
    assert f"MODELOPS_AUDIT_DATABASE_URL: is required with MODELOPS_ENV={environment}" in message
    assert ("MODELOPS_K8S_IMAGE" in message) == (environment == "k8s")


def test_gcp_settings_are_read_and_checked(tmp_path: Path):
    settings = Settings.from_env(
        env(
            tmp_path,
            MODELOPS_ENV="gcp",
            MODELOPS_GCP_PROJECT="bank-ml",
            MODELOPS_GCS_BUCKET="bank-modelops",
            MODELOPS_GCS_PREFIX="/platform/",
            MODELOPS_MLFLOW_TRACKING_URI="https://mlflow.bank.internal",
            MODELOPS_AUDIT_DATABASE_URL="postgresql://audit@db.bank.internal:5432/modelops",
        )
    )
    assert settings.audit_database_url == "postgresql://audit@db.bank.internal:5432/modelops"
    assert settings.gcp is not None and settings.k8s is None
    assert (settings.gcp.project, settings.gcp.bucket, settings.gcp.prefix) == (
        "bank-ml",
        "bank-modelops",
        "platform",
    )
    assert settings.mlflow_artifact_root is None  # the tracking server decides
    assert settings.mlflow_ui_url == "https://mlflow.bank.internal"


def test_k8s_settings_and_bad_values(tmp_path: Path):
    base = {
        "MODELOPS_ENV": "k8s",
        "MODELOPS_GCP_PROJECT": "bank-ml",
        "MODELOPS_GCS_BUCKET": "bank-modelops",
        "MODELOPS_MLFLOW_TRACKING_URI": "https://mlflow.bank.internal",
        "MODELOPS_K8S_IMAGE": "registry.bank/modelops:1.2.3",
        "MODELOPS_AUDIT_DATABASE_URL": "postgresql://audit@db:5432/modelops",
    }
    settings = Settings.from_env(env(tmp_path, **base, MODELOPS_K8S_ENV_SECRETS="a, b"))
    assert settings.k8s is not None
    assert settings.k8s.env_secrets == ("a", "b")
    assert settings.k8s.namespace == "modelops"
    with pytest.raises(SettingsError) as info:
        Settings.from_env(
            env(
                tmp_path,
                **{
                    **base,
                    "MODELOPS_GCS_BUCKET": "Bad_Bucket!",
                    "MODELOPS_K8S_NAMESPACE": "Not A Namespace",
                    "MODELOPS_K8S_IMAGE_PULL_POLICY": "Sometimes",
                },
            )
        )
    message = str(info.value)
    assert "MODELOPS_GCS_BUCKET: 'Bad_Bucket!' is not a valid GCS bucket name" in message
    assert "MODELOPS_K8S_NAMESPACE: 'Not A Namespace' is not a valid" in message
    assert "MODELOPS_K8S_IMAGE_PULL_POLICY: 'Sometimes' is invalid" in message


def test_credentials_in_the_tracking_uri_are_refused(tmp_path: Path):
    with pytest.raises(SettingsError, match="must not contain credentials"):
        Settings.from_env(env(tmp_path, MODELOPS_MLFLOW_TRACKING_URI="https://u:secret@mlflow"))


def test_missing_specs_dir_names_the_variable(tmp_path: Path):
    missing = tmp_path / "no_such_specs"
    with pytest.raises(SettingsError, match="MODELOPS_SPECS_DIR") as info:
        Settings.from_env(env(tmp_path, MODELOPS_SPECS_DIR=str(missing)))
    assert str(missing) in str(info.value)


def test_specs_dir_that_is_a_file_is_refused(tmp_path: Path):
    a_file = tmp_path / "german_credit.yaml"
    a_file.write_text("id: german_credit\n")
    with pytest.raises(SettingsError, match=r"MODELOPS_SPECS_DIR: .* is not a directory"):
        Settings.from_env(env(tmp_path, MODELOPS_SPECS_DIR=str(a_file)))


def test_specs_dir_that_exists_is_used(tmp_path: Path):
    specs = tmp_path / "specs"
    specs.mkdir()
    assert Settings.from_env(env(tmp_path, MODELOPS_SPECS_DIR=str(specs))).specs_dir == specs


def test_audit_database_url_must_be_postgres_without_a_password(tmp_path: Path):
    with pytest.raises(SettingsError) as info:
        Settings.from_env(
            env(tmp_path, MODELOPS_AUDIT_DATABASE_URL="postgresql://audit:s3cret@db:5432/x")
        )
    assert "MODELOPS_AUDIT_DATABASE_URL: must not contain a password" in str(info.value)
    assert "s3cret" not in str(info.value)
    with pytest.raises(SettingsError, match="is not a Postgres connection string"):
        Settings.from_env(env(tmp_path, MODELOPS_AUDIT_DATABASE_URL="mysql://db/x"))


def test_audit_database_url_may_be_a_key_value_connection_string(tmp_path: Path):
    dsn = "host=db.bank.internal port=5432 dbname=modelops user=audit"
    assert (
        Settings.from_env(env(tmp_path, MODELOPS_AUDIT_DATABASE_URL=dsn)).audit_database_url == dsn
    )


def test_a_risk_policy_file_that_does_not_exist_fails_at_load(tmp_path: Path):
    with pytest.raises(SettingsError, match=r"MODELOPS_RISK_POLICY: .* is not a file"):
        Settings.from_env(env(tmp_path, MODELOPS_RISK_POLICY=str(tmp_path / "nope.yaml")))
