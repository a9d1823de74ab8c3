"""Experiment tracking and the registry against a real MLflow sqlite store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import skops.io
from sklearn.pipeline import Pipeline

from conftest import GERMAN_DATA
from modelops.ml.features import build_features
from modelops.ml.split import split_train_holdout
from modelops.ml.training import fit_baseline, fit_model, model_input_frame
from modelops.ml.validation import validate_batch
from modelops.resources import tracking as tracking_module
from modelops.resources.tracking import DatasetRef, ModelTracking, UntrustedModelError
from modelops.spec import UseCaseSpec

UC = "german_credit"


@pytest.fixture(scope="module")
def tracking(tmp_path_factory: pytest.TempPathFactory) -> ModelTracking:
    root = tmp_path_factory.mktemp("mlflow")
    return ModelTracking(
        tracking_uri=f"sqlite:///{root}/mlflow.db", artifact_root=(root / "artifacts").as_uri()
    )


@pytest.fixture(scope="module")
def data(german_spec: UseCaseSpec) -> tuple[pl.DataFrame, pl.DataFrame]:
    raw = pl.read_csv(GERMAN_DATA, infer_schema=False)
    features = build_features(validate_batch(raw, german_spec).valid, german_spec)
    return split_train_holdout(features, german_spec)


@pytest.fixture(scope="module")
def candidate(data: tuple[pl.DataFrame, pl.DataFrame], german_spec: UseCaseSpec) -> Pipeline:
    return fit_model(data[0], german_spec)


def record(
    tracking: ModelTracking,
    model: Pipeline,
    train: pl.DataFrame,
    spec: UseCaseSpec,
    *,
    registered_name: str,
    run_name: str = "test-run",
    digest: str = "0123456789abcdef",
) -> Any:
    return tracking.record_training(
        use_case=UC,
        registered_name=registered_name,
        model=model,
        input_example=model_input_frame(train.head(5), spec),
        params={"estimator": spec.model.estimator, "model.C": 0.3, "features": ["a", "b"]},
        metrics={"train_auc": 0.81, "train_ks": 0.45},
        tags={"modelops.use_case": UC, "modelops.training_set_version": digest},
        datasets=[
            (
                DatasetRef(f"{UC}/training_set", "file:///tmp/table.parquet", digest, "training"),
                train.head(100),
            )
        ],
        run_name=run_name,
    )


def test_record_training_registers_versions_with_lineage(
    tracking: ModelTracking,
    candidate: Pipeline,
    data: tuple[pl.DataFrame, pl.DataFrame],
    german_spec: UseCaseSpec,
):
    train, _ = data
    first = record(tracking, candidate, train, german_spec, registered_name="lineage_model")
    second = record(
        tracking, candidate, train, german_spec, registered_name="lineage_model", digest="f" * 16
    )
    assert (first.version, second.version) == ("1", "2")
    assert first.model_uri == "models:/lineage_model/1"
    assert second.model_uri == "models:/lineage_model/2"
    assert first.run_id != second.run_id
    assert first.experiment_id == second.experiment_id == tracking.experiment_id(UC)
    assert tracking.run_id_of("lineage_model", "1") == first.run_id

    client = tracking._client()
    run = client.get_run(first.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "test-run"
    # Params are strings in MLflow; non-scalar values are logged as their repr.
    assert run.data.params == {
        "estimator": "sklearn.linear_model.LogisticRegression",
        "model.C": "0.3",
        "features": "['a', 'b']",
    }
    assert run.data.metrics == {"train_auc": 0.81, "train_ks": 0.45}
    assert run.data.tags["modelops.use_case"] == UC
    assert run.data.tags["modelops.training_set_version"] == "0123456789abcdef"

    (dataset_input,) = run.inputs.dataset_inputs
    assert dataset_input.dataset.name == f"{UC}/training_set"
    assert dataset_input.dataset.digest == "0123456789abcdef"
    assert "file:///tmp/table.parquet" in dataset_input.dataset.source
    assert {t.key: t.value for t in dataset_input.tags}["mlflow.data.context"] == "training"
    second_input = client.get_run(second.run_id).inputs.dataset_inputs[0]
    assert second_input.dataset.digest == "f" * 16

    version = client.get_model_version("lineage_model", "2")
    assert version.run_id == second.run_id
    assert version.tags["modelops.training_set_version"] == "f" * 16


def test_load_model_gives_the_same_predictions(
    tracking: ModelTracking,
    candidate: Pipeline,
    data: tuple[pl.DataFrame, pl.DataFrame],
    german_spec: UseCaseSpec,
):
    train, holdout = data
    registered = record(tracking, candidate, train, german_spec, registered_name="load_model")
    # In the same process the just-registered object is handed back without a round trip...
    assert tracking.load_model(registered.model_uri) is candidate
    # ...and what was stored loads as an equal model.
    loaded = tracking.load_model(registered.model_uri, from_store=True)
    assert loaded is not candidate
    frame = model_input_frame(holdout, german_spec)
    np.testing.assert_array_equal(loaded.predict_proba(frame), candidate.predict_proba(frame))


def test_aliases(
    tracking: ModelTracking,
    candidate: Pipeline,
    data: tuple[pl.DataFrame, pl.DataFrame],
    german_spec: UseCaseSpec,
):
    train, _ = data
    for _ in range(2):
        record(tracking, candidate, train, german_spec, registered_name="alias_model")
    assert tracking.version_for_alias("alias_model", "champion") is None
    tracking.set_alias("alias_model", "champion", "1")
    assert tracking.version_for_alias("alias_model", "champion") == "1"
    tracking.set_alias("alias_model", "champion", "2")
    assert tracking.version_for_alias("alias_model", "champion") == "2"
    assert tracking.version_for_alias("alias_model", "challenger") is None
    # A model never registered has no alias either (rather than an error).
    assert tracking.version_for_alias("never_registered", "champion") is None


def test_log_files_and_describe_version(
    tracking: ModelTracking,
    candidate: Pipeline,
    data: tuple[pl.DataFrame, pl.DataFrame],
    german_spec: UseCaseSpec,
    tmp_path: Path,
):
    train, _ = data
    registered = record(tracking, candidate, train, german_spec, registered_name="files_model")
    files = {"model_card.md": b"# Model card\n", "roc.png": b"\x89PNG\r\n\x1a\nfake"}
    tracking.log_files(registered.run_id, files, "reports")

    client = tracking._client()
    listed = sorted(a.path for a in client.list_artifacts(registered.run_id, "reports"))
    assert listed == ["reports/model_card.md", "reports/roc.png"]
    local = Path(client.download_artifacts(registered.run_id, "reports", str(tmp_path)))
    assert {p.name: p.read_bytes() for p in local.iterdir()} == files

    tracking.describe_version("files_model", registered.version, "Approved by credit risk.")
    version = client.get_model_version("files_model", registered.version)
    assert version.description == "Approved by credit risk."


def test_untrusted_model_is_refused_and_nothing_is_registered(
    tracking: ModelTracking,
    data: tuple[pl.DataFrame, pl.DataFrame],
    german_spec: UseCaseSpec,
    monkeypatch: pytest.MonkeyPatch,
):
    train, _ = data
    tree = fit_baseline(train, german_spec)
    # Precondition: the shallow tree baseline needs the (normally trusted) tree type.
    needed = set(skops.io.get_untrusted_types(data=skops.io.dumps(tree)))
    assert "sklearn.tree._tree.Tree" in needed
    assert needed <= tracking_module.TRUSTED_MODEL_TYPES

    monkeypatch.setattr(tracking_module, "TRUSTED_MODEL_TYPES", frozenset({"numpy.dtype"}))
    with pytest.raises(UntrustedModelError, match=r"sklearn\.tree\._tree\.Tree"):
        record(
            tracking, tree, train, german_spec, registered_name="untrusted", run_name="untrusted"
        )

    client = tracking._client()
    assert client.search_model_versions("name='untrusted'") == []
    assert client.search_registered_models("name='untrusted'") == []
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments, filter_string="attributes.run_name = 'untrusted'")
    assert list(runs) == []


def test_experiment_id_is_stable(tracking: ModelTracking):
    first = tracking.experiment_id("stable_uc")
    assert tracking.experiment_id("stable_uc") == first
    assert tracking.experiment_id("other_uc") != first
    experiment = tracking._client().get_experiment(first)
    assert experiment.name == "modelops/stable_uc"
    assert experiment.artifact_location.endswith("/artifacts/stable_uc")


def test_version_for_alias_does_not_hide_an_unreachable_server(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    # Port 9 (discard) on the loopback: the connection is refused at once.
    unreachable = ModelTracking(tracking_uri="http://127.0.0.1:9")
    with pytest.raises(Exception, match=r"127\.0\.0\.1"):
        unreachable.version_for_alias("german_credit", "champion")
