"""The LightGBM use case (assets/german_credit_lightgbm.yaml) through the real platform: it
trains and registers with the LightGBM flavour beside scikit-learn's, its artifact digest
covers the native model file, its reason codes are exact (method `tree`, fidelity 1.0/1.0),
and the champion scores a production month."""

from __future__ import annotations

import tempfile
from pathlib import Path

import dagster as dg
import mlflow
import numpy as np
import pytest
import yaml

from modelops.governance.champion import champion_bundle
from modelops.ml.model_integrity import artifact_digest
from modelops.names import PREDICTIONS, monthly
from modelops.operator import Platform
from modelops.resources.native_flavours import FAMILY_TAG, LIGHTGBM_FILE
from modelops.resources.package_logging import ONNX_PARITY_TAG, ONNX_UNAVAILABLE_TAG, PYFUNC_TAG
from modelops.resources.tracking import DIGEST_TAG
from modelops.settings import Settings
from support import PROJECT
from support.monthly_platform import MONTH, ROWS, failures, score_month, trained_platform

UC = "german_credit_lightgbm"
SPEC = PROJECT / "assets" / f"{UC}.yaml"


@pytest.fixture(scope="module")
def champion(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Version 1 trained, registered and approved; one CSV production month under root."""
    return trained_platform(tmp_path_factory.mktemp("lightgbm"), SPEC)


@pytest.fixture
def tracked(champion: Settings):
    uri = champion.mlflow_tracking_uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return mlflow.MlflowClient()


def test_registered_version_carries_the_lightgbm_flavour(champion, tracked):
    import lightgbm

    version = tracked.get_model_version(UC, "1")
    run = tracked.get_run(version.run_id)
    assert run.data.tags[FAMILY_TAG] == "lightgbm"
    assert run.data.params["estimator"] == "lightgbm.LGBMClassifier"
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(
            mlflow.artifacts.download_artifacts(
                tracked.get_model_version_download_uri(UC, "1"), dst_path=tmp
            )
        )
        flavours = yaml.safe_load((local / "MLmodel").read_text())["flavors"]
        assert {"lightgbm", "sklearn", "python_function"} <= set(flavours)
        assert flavours["python_function"]["loader_module"] == "mlflow.sklearn"
        assert (local / LIGHTGBM_FILE).is_file()
        # The digest recorded at registration covers the native model file: change it and
        # the digest no longer matches.
        (local / "registered_model_meta").unlink(missing_ok=True)
        assert artifact_digest(local) == version.tags[DIGEST_TAG]
        (local / LIGHTGBM_FILE).write_text("tampered")
        assert artifact_digest(local) != version.tags[DIGEST_TAG]
    # The scoring packages: pyfunc, and ONNX through onnxmltools' LightGBM converter.
    assert PYFUNC_TAG in version.tags and ONNX_UNAVAILABLE_TAG not in version.tags
    assert version.tags[ONNX_PARITY_TAG] == "passed", version.tags
    booster = mlflow.lightgbm.load_model(f"models:/{UC}/1")
    assert isinstance(booster, lightgbm.Booster)
    platform = Platform(champion)
    pipeline = platform.resources.tracking.load_model(f"models:/{UC}/1", from_store=True)
    assert booster.model_to_string() == pipeline[-1].booster_.model_to_string()


def test_reason_codes_are_exact_and_a_month_is_scored(champion):
    platform = Platform(champion)
    spec = platform.spec(UC)
    resources = platform.resources
    bundle = champion_bundle(resources.store, resources.audit_log, spec)
    assert bundle.reasons.method == "tree"
    assert (bundle.reasons.fidelity.r2, bundle.reasons.fidelity.spearman) == (1.0, 1.0)

    result = score_month(champion, UC)
    assert result.success, failures(result)
    (materialization,) = result.asset_materializations_for_node(f"{UC}__predictions")
    assert isinstance(materialization, dg.AssetMaterialization)
    predictions = resources.store.read_table(UC, monthly(PREDICTIONS, MONTH))
    scored = predictions.filter(predictions["score"].is_not_null())
    assert predictions.height == ROWS
    assert scored.height >= ROWS - 2  # the two unreadable rows are answered by a person
    assert set(scored["model_version"].to_list()) == {"1"}
    assert np.isfinite(scored["score"].to_numpy()).all()
    assert scored["reason_1"].null_count() < scored.height
