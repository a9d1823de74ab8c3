"""The bundled separate-environment use case (`assets/german_credit_env.yaml`) through the
platform's CLI: trained by scikit-learn 1.8 in its own locked environment through Dagster
Pipes, while the platform itself runs another scikit-learn, and released like any model."""

from __future__ import annotations

import dagster as dg
import mlflow
import sklearn
import yaml

from modelops.instance import local_instance
from support import PROJECT, make_settings, write_spec
from support.platform_cli import cli

UC = "german_credit_env"


def test_the_environment_trains_with_its_own_scikit_learn_and_is_released_as_any_model(
    tmp_path,
) -> None:
    spec = yaml.safe_load((PROJECT / "assets" / f"{UC}.yaml").read_text())
    spec.pop("monitoring")
    write_spec(tmp_path / "specs", spec)
    settings = make_settings(tmp_path, tmp_path / "specs")
    trained = cli(settings, "run", "-u", UC)
    assert trained.code == 0, trained.printed
    assert f"{UC}: model version 1" in trained.printed

    instance = local_instance(settings.dagster_home)
    event = instance.get_latest_materialization_event(dg.AssetKey([UC, "trained_model"]))
    metadata = event.asset_materialization.metadata
    assert metadata["runtime/sklearn_version"].value == "1.8.0"
    assert sklearn.__version__ != "1.8.0", "the platform's own scikit-learn differs"

    client = mlflow.MlflowClient(
        settings.mlflow_tracking_uri, registry_uri=settings.mlflow_tracking_uri
    )
    run = client.get_run(client.get_model_version(UC, "1").run_id)
    assert run.data.tags["modelops.runtime"] == "python-env"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "runtime")}
    assert {"runtime/model.joblib", "runtime/uv.lock", "runtime/model.py"} <= artifacts

    card = instance.get_latest_materialization_event(dg.AssetKey([UC, "model_card"]))
    text = str(card.asset_materialization.metadata["card"].value)
    assert "Trained in: Python 3." in text and "model_code/german_credit_sklearn/model.py" in text
