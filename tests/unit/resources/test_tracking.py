"""Experiment tracking and the registry against a real MLflow sqlite store."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import polars as pl
import pytest
import skops.io
from sklearn.pipeline import Pipeline

from modelops.ml import model_integrity
from modelops.ml.model_integrity import ModelIntegrityError, UntrustedModelError, artifact_digest
from modelops.ml.training import fit_baseline, fit_model, model_input_frame
from modelops.resources.tracking import DIGEST_TAG, DatasetRef, ModelTracking
from modelops.spec import UseCaseSpec

UC = "german_credit"


@pytest.fixture(scope="module")
def data(german_split: tuple[pl.DataFrame, pl.DataFrame]) -> tuple[pl.DataFrame, pl.DataFrame]:
    return german_split


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

    # A card longer than the registry holds is cut at a section, never inside a table.
    table = "\n".join(f"| row {i} | {i} |" for i in range(300))
    card = f"**Summary** [model card](http://h/card.html)\n\n## A\n{table}\n\n## B\n{table}\n"
    tracking.describe_version("files_model", registered.version, card)
    kept = client.get_model_version("files_model", registered.version).description
    assert len(kept) <= 5000 and kept.startswith("**Summary** [model card](http://h/card.html)")
    assert "## B" not in kept and "did not fit the registry" in kept
    assert kept.split("\n\n_(")[0].rstrip().endswith(("|", "http://h/card.html)"))


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
    assert needed <= model_integrity.TRUSTED_MODEL_TYPES

    monkeypatch.setattr(model_integrity, "TRUSTED_MODEL_TYPES", frozenset({"numpy.dtype"}))
    with pytest.raises(UntrustedModelError, match=r"sklearn\.tree\._tree\.Tree") as refused:
        record(
            tracking, tree, train, german_spec, registered_name="untrusted", run_name="untrusted"
        )
    assert "modelops.ml.model_integrity.TRUSTED_MODEL_TYPES" in str(refused.value)

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


def test_experiments_open_on_their_training_runs(tracking: ModelTracking):
    """MLflow 3 opens an experiment without a kind in its GenAI (traces) view."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking.tracking_uri)
    experiment = client.get_experiment(tracking.experiment_id("kind_uc"))
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    # An experiment created before the tag existed gets it on next use.
    client.delete_experiment_tag(experiment.experiment_id, "mlflow.experimentKind")
    tracking.experiment_id("kind_uc")
    again = client.get_experiment(experiment.experiment_id)
    assert again.tags["mlflow.experimentKind"] == "custom_model_development"


def test_version_for_alias_does_not_hide_an_unreachable_server(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    # Port 9 (discard) on the loopback: the connection is refused at once.
    unreachable = ModelTracking(tracking_uri="http://127.0.0.1:9")
    with pytest.raises(Exception, match=r"127\.0\.0\.1"):
        unreachable.version_for_alias("german_credit", "champion")


# Model integrity ----------------------------------------------------------------------------


def stored_model_dir(tracking: ModelTracking, name: str, version: str) -> Path:
    """Where the local artifact store keeps a version's model folder (what an attacker edits)."""
    uri = tracking._client().get_model_version_download_uri(name, version)
    assert uri.startswith("file://"), uri
    return Path(urlparse(uri).path)


def test_registration_records_the_artifact_digest(
    tracking: ModelTracking,
    candidate: Pipeline,
    data: tuple[pl.DataFrame, pl.DataFrame],
    german_spec: UseCaseSpec,
):
    train, _ = data
    registered = record(tracking, candidate, train, german_spec, registered_name="digest_model")
    digest = registered.artifact_sha256
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert tracking.version_digest("digest_model", registered.version) == digest
    client = tracking._client()
    assert client.get_run(registered.run_id).data.tags[DIGEST_TAG] == digest
    # It is the digest of what the store holds (not of a local copy that was never uploaded),
    # and covers the model file itself.
    stored = stored_model_dir(tracking, "digest_model", registered.version)
    assert {"MLmodel", "model.skops", "requirements.txt"} <= {p.name for p in stored.iterdir()}
    assert artifact_digest(stored) == digest


def test_verified_load_from_the_store(
    tracking: ModelTracking,
    candidate: Pipeline,
    data: tuple[pl.DataFrame, pl.DataFrame],
    german_spec: UseCaseSpec,
):
    train, holdout = data
    registered = record(tracking, candidate, train, german_spec, registered_name="verified")
    tracking.set_alias("verified", "champion", registered.version)
    frame = model_input_frame(holdout, german_spec)
    for uri in (registered.model_uri, "models:/verified@champion"):
        loaded = tracking.load_model(
            uri, expected_sha256=registered.artifact_sha256, from_store=True
        )
        assert loaded is not candidate
        np.testing.assert_array_equal(loaded.predict_proba(frame), candidate.predict_proba(frame))


def test_a_changed_byte_in_the_stored_model_is_refused(
    tracking: ModelTracking,
    candidate: Pipeline,
    data: tuple[pl.DataFrame, pl.DataFrame],
    german_spec: UseCaseSpec,
):
    train, _ = data
    registered = record(tracking, candidate, train, german_spec, registered_name="flipped")
    stored = stored_model_dir(tracking, "flipped", registered.version)
    model_file = stored / "model.skops"
    original = model_file.read_bytes()
    tampered = bytearray(original)
    tampered[len(tampered) // 2] ^= 0x01
    model_file.write_bytes(bytes(tampered))
    tampered_digest = artifact_digest(stored)

    with pytest.raises(ModelIntegrityError) as refused:
        tracking.load_model(registered.model_uri, from_store=True)
    message = str(refused.value)
    assert f"flipped version {registered.version}" in message
    assert tampered_digest in message
    assert registered.artifact_sha256 in message
    assert "changed after registration" in message

    # The refusal is about the content: restored from backup, the version loads again.
    model_file.write_bytes(original)
    assert tracking.load_model(registered.model_uri, from_store=True) is not None


def test_a_substituted_model_that_would_load_fine_is_refused(
    tracking: ModelTracking,
    candidate: Pipeline,
    data: tuple[pl.DataFrame, pl.DataFrame],
    german_spec: UseCaseSpec,
):
    """The case skops cannot catch: a valid model of trusted types swapped in for another."""
    train, holdout = data
    first = record(tracking, candidate, train, german_spec, registered_name="swapped")
    other = fit_model(train.head(150), german_spec)
    second = record(tracking, other, train, german_spec, registered_name="swapped")
    frame = model_input_frame(holdout, german_spec)
    assert not np.array_equal(other.predict_proba(frame), candidate.predict_proba(frame))

    shutil.copyfile(
        stored_model_dir(tracking, "swapped", second.version) / "model.skops",
        stored_model_dir(tracking, "swapped", first.version) / "model.skops",
    )
    with pytest.raises(ModelIntegrityError, match=f"swapped version {first.version}"):
        tracking.load_model(first.model_uri, from_store=True)


def test_an_added_file_is_refused(
    tracking: ModelTracking,
    candidate: Pipeline,
    data: tuple[pl.DataFrame, pl.DataFrame],
    german_spec: UseCaseSpec,
):
    train, _ = data
    registered = record(tracking, candidate, train, german_spec, registered_name="added")
    stored = stored_model_dir(tracking, "added", registered.version)
    (stored / "sitecustomize.py").write_text("print('hello')\n")
    with pytest.raises(ModelIntegrityError, match=r"added version 1: its artifacts' sha256 is"):
        tracking.load_model(registered.model_uri, from_store=True)


def test_mlflows_own_loads_do_not_lock_a_version_out(
    tracking: ModelTracking,
    candidate: Pipeline,
    data: tuple[pl.DataFrame, pl.DataFrame],
    german_spec: UseCaseSpec,
):
    """MLflow writes a registered_model_meta note into a local store's model folder whenever
    something (a notebook, `mlflow models serve`) loads it through a models:/ URI."""
    train, _ = data
    registered = record(tracking, candidate, train, german_spec, registered_name="noted")
    stored = stored_model_dir(tracking, "noted", registered.version)
    with tracking.active() as mlflow:
        import mlflow.sklearn

        mlflow.sklearn.load_model(registered.model_uri)
    assert (stored / "registered_model_meta").is_file()  # MLflow's doing, not ours
    assert artifact_digest(stored) == registered.artifact_sha256
    assert tracking.load_model(registered.model_uri, from_store=True) is not None


def test_a_version_without_a_recorded_digest_is_refused(
    tracking: ModelTracking,
    candidate: Pipeline,
    data: tuple[pl.DataFrame, pl.DataFrame],
    german_spec: UseCaseSpec,
):
    train, _ = data
    registered = record(tracking, candidate, train, german_spec, registered_name="untagged")
    tracking._client().delete_model_version_tag("untagged", registered.version, DIGEST_TAG)
    assert tracking.version_digest("untagged", registered.version) is None
    with pytest.raises(ModelIntegrityError, match=r"untagged version 1: it has no recorded digest"):
        tracking.load_model(registered.model_uri, from_store=True)


def test_the_callers_expected_digest_must_match_the_registry(
    tracking: ModelTracking,
    candidate: Pipeline,
    data: tuple[pl.DataFrame, pl.DataFrame],
    german_spec: UseCaseSpec,
):
    """The registry tag and the artifact can be rewritten together: the audit log's digest,
    passed by the caller, is checked against both."""
    train, _ = data
    registered = record(tracking, candidate, train, german_spec, registered_name="expected")
    audit_digest = "0" * 64
    with pytest.raises(ModelIntegrityError, match=f"{audit_digest} was expected") as refused:
        tracking.load_model(registered.model_uri, expected_sha256=audit_digest, from_store=True)
    assert registered.artifact_sha256 in str(refused.value)
    # Also for the model this process just registered.
    with pytest.raises(ModelIntegrityError, match=f"{audit_digest} was expected"):
        tracking.load_model(registered.model_uri, expected_sha256=audit_digest)
    assert tracking.load_model(registered.model_uri, expected_sha256=registered.artifact_sha256)


def test_only_registered_versions_can_be_loaded(tracking: ModelTracking):
    for uri in ("runs:/0123/model", "models:/m-0123abcd", "models:/german_credit/Production"):
        with pytest.raises(ModelIntegrityError, match="only registered versions"):
            tracking.load_model(uri)
