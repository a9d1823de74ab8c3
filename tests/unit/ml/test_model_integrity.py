"""Model integrity without a registry: the trusted-types check on skops bytes, and the digest
of a model's files, from a folder or from files held in memory."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sklearn.pipeline import Pipeline

from modelops.ml import model_integrity
from modelops.ml.model_integrity import (
    MLFLOW_META_FILE,
    ModelIntegrityError,
    UntrustedModelError,
    artifact_digest,
    dump_model,
    files_digest,
    load_model,
)
from modelops.ml.training import fit_baseline, model_input_frame
from modelops.spec import UseCaseSpec


def _write(root: Path, files: dict[str, bytes]) -> Path:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return root


def test_artifact_digest_is_a_manifest_of_names_and_contents(tmp_path: Path):
    files = {"MLmodel": b"flavors: {}\n", "model.skops": b"\x00\x01model", "sub/env.yaml": b"x"}
    first, second = tmp_path / "first", tmp_path / "second"
    for root in (first, second):
        _write(root, files)
    (second / "empty").mkdir()  # artifact stores do not keep empty folders
    digest = artifact_digest(first)
    assert artifact_digest(first) == digest == artifact_digest(second)
    # Documented form, so an auditor can rebuild it with sha256sum.
    manifest = "".join(
        f"{hashlib.sha256(files[name]).hexdigest()}  {name}\n" for name in sorted(files)
    )
    assert digest == hashlib.sha256(manifest.encode()).hexdigest()

    (second / "model.skops").rename(second / "model2.skops")
    assert artifact_digest(second) != digest
    (second / "model2.skops").rename(second / "model.skops")
    assert artifact_digest(second) == digest
    (second / "sub" / "env.yaml").unlink()
    assert artifact_digest(second) != digest


def test_artifact_digest_refuses_a_symlink(tmp_path: Path):
    _write(tmp_path, {"model.skops": b"model"})
    os.symlink(tmp_path / "model.skops", tmp_path / "link.skops")
    with pytest.raises(ModelIntegrityError, match="may not contain symlinks"):
        artifact_digest(tmp_path)


@pytest.mark.parametrize(
    "files",
    [
        {},
        {"model.skops": b"\x00\x01model"},
        {
            "MLmodel": b"flavors: {}\n",
            "model.skops": b"\x00\x01model",
            "sub/env.yaml": b"x",
            "sub/deeper/notes.txt": b"",
            "sub-dir.txt": b"'-' sorts before '/': the order is the path's, as text",
            "Z_upper": b"upper case sorts first",
            "caf\u00e9.json": b"{}",
        },
        # MLflow's note is left out of both, wherever it is written.
        {"model.skops": b"model", MLFLOW_META_FILE: b"name: m\nversion: 1\n"},
    ],
    ids=["empty", "one file", "nested", "mlflow note"],
)
def test_files_digest_is_the_artifact_digest_of_the_same_folder(
    files: dict[str, bytes], tmp_path: Path
):
    folder = _write(tmp_path / "model", files)
    folder.mkdir(exist_ok=True)
    assert files_digest(files) == artifact_digest(folder)
    # The order the files are given in does not matter.
    assert files_digest(dict(reversed(list(files.items())))) == files_digest(files)


def test_files_digest_of_a_real_model_folder(fitted: dict[str, Pipeline], tmp_path: Path):
    files = {
        "model.skops": dump_model(fitted["native"]),
        "MLmodel": b"flavors:\n  sklearn: {}\n",
        "requirements.txt": b"scikit-learn\n",
    }
    digest = files_digest(files)
    assert digest == artifact_digest(_write(tmp_path, files))
    changed = dict(files)
    changed["model.skops"] = dump_model(fitted["standard"])
    assert files_digest(changed) != digest


@pytest.mark.parametrize(
    "name", ["/etc/passwd", "../outside", "sub/../../outside", "a//b", "./a", "a/", "", "."]
)
def test_files_digest_refuses_a_path_no_folder_holds(name: str):
    with pytest.raises(ValueError, match="not a relative file path"):
        files_digest({name: b"x"})


def test_files_digest_refuses_a_name_that_is_both_a_file_and_a_folder():
    with pytest.raises(ValueError, match="both as a file and a folder"):
        files_digest({"sub": b"x", "sub/env.yaml": b"y"})


# Trusted types --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["scorecard", "standard", "native", "baseline"])
def test_dump_and_load_give_the_same_model(
    name: str,
    fitted: dict[str, Pipeline],
    german_split: tuple[pl.DataFrame, pl.DataFrame],
    german_spec: UseCaseSpec,
):
    train, holdout = german_split
    model = fit_baseline(train, german_spec) if name == "baseline" else fitted[name]
    data = dump_model(model)
    assert isinstance(data, bytes)
    loaded = load_model(data)
    assert loaded is not model
    frame = model_input_frame(holdout, german_spec)
    np.testing.assert_array_equal(loaded.predict_proba(frame), model.predict_proba(frame))


def test_a_model_needing_an_untrusted_type_is_not_dumped(
    german_split: tuple[pl.DataFrame, pl.DataFrame],
    german_spec: UseCaseSpec,
    monkeypatch: pytest.MonkeyPatch,
):
    tree = fit_baseline(german_split[0], german_spec)
    monkeypatch.setattr(model_integrity, "TRUSTED_MODEL_TYPES", frozenset({"numpy.dtype"}))
    with pytest.raises(UntrustedModelError, match=r"sklearn\.tree\._tree\.Tree") as refused:
        dump_model(tree)
    message = str(refused.value)
    assert message.startswith("the fitted model needs types outside the project's trusted list")
    assert "modelops.ml.model_integrity.TRUSTED_MODEL_TYPES" in message


def test_bytes_asking_for_an_untrusted_type_are_not_loaded(
    german_split: tuple[pl.DataFrame, pl.DataFrame],
    german_spec: UseCaseSpec,
    monkeypatch: pytest.MonkeyPatch,
):
    """What the bytes ask for is checked on load too: the list may have shrunk since, or the
    bytes may not be what `dump_model` wrote."""
    data = dump_model(fit_baseline(german_split[0], german_spec))
    monkeypatch.setattr(model_integrity, "TRUSTED_MODEL_TYPES", frozenset({"numpy.dtype"}))
    with pytest.raises(UntrustedModelError, match=r"the stored model needs .*_tree\.Tree"):
        load_model(data)


def test_bytes_that_are_no_model_are_not_loaded(fitted: dict[str, Pipeline]):
    with pytest.raises(ModelIntegrityError, match="the stored model is not a readable skops"):
        load_model(b"not a skops file")
    truncated = dump_model(fitted["scorecard"])[:-100]
    with pytest.raises(ModelIntegrityError, match="not a readable skops file"):
        load_model(truncated)
