"""The pyfunc package answers as the scoring core, the ONNX package and the batch door do:
the same 1,000 German credit applications through all four give the same probabilities
(within 1e-5) and decisions. A package whose bundle was changed refuses to load."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd
import polars as pl
import pytest
import yaml

from modelops.ml.features import build_features
from modelops.ml.model_integrity import ModelIntegrityError
from modelops.ml.packages.onnx_package import OnnxPackage, convert_pipeline, onnx_probabilities
from modelops.ml.packages.pyfunc_package import answer_columns, input_signature, model_arguments
from modelops.ml.scoring.applications import ApplicationScorer
from modelops.ml.serving_bundle import PIPELINE, ServingBundle
from modelops.spec import UseCaseSpec
from support import GERMAN_SPEC

NOW = datetime(2026, 1, 31, tzinfo=UTC)
TOLERANCE = 1e-5
GAPPY = {"duration_months", "purpose"}


@pytest.fixture(scope="module", params=["scorecard", "native"])
def packaged(request, german_spec, german_split, fitted, tmp_path_factory):
    """A bundle of one model family, its scorer, and its pyfunc saved to a folder."""
    train, holdout = german_split
    bundle = ServingBundle.build(
        german_spec,
        model_version="3",
        pipeline=fitted[request.param],
        training=train,
        holdout=holdout,
        model_sha256="ab" * 32,
    )
    files = bundle.to_files()
    root = tmp_path_factory.mktemp(f"pyfunc-{request.param}")
    path = root / "package"
    arguments = model_arguments(german_spec, files, ServingBundle.digest_of(files), root / "art")
    mlflow.pyfunc.save_model(str(path), **arguments)
    return request.param, bundle, ApplicationScorer(bundle, german_spec), path


@pytest.fixture(scope="module")
def applications(german_valid, german_spec) -> pl.DataFrame:
    """The German credit rows as applications: spec names, categories as text."""
    fields = [
        c.name for c in german_spec.data_schema.columns if c.name != german_spec.target.column
    ]
    return german_valid.select(fields).with_columns(pl.col(pl.Enum, pl.Categorical).cast(pl.String))


def test_four_doors_give_the_same_answers(packaged, applications, german_valid, german_spec):
    family, bundle, scorer, path = packaged
    assert applications.height == 1000
    core = scorer.answer(applications.to_dicts())
    loaded = mlflow.pyfunc.load_model(str(path))
    frame = loaded.predict(applications.to_pandas())
    features = build_features(german_valid, german_spec, with_label=False)
    batch = scorer.score_table(features, scored_at=NOW)

    core_p = np.array([a.probability for a in core], dtype=np.float64)
    assert all(a.fallback_reason is None for a in core)
    assert list(frame.columns) == answer_columns(scorer.top_k)
    assert frame["fallback_reason"].isna().all()
    np.testing.assert_allclose(frame["probability"].to_numpy(float), core_p, atol=TOLERANCE)
    np.testing.assert_allclose(batch["score"].to_numpy(), core_p, atol=TOLERANCE)
    decisions = [a.decision for a in core]
    assert frame["decision"].tolist() == decisions
    assert batch["decision"].to_list() == decisions
    assert frame["reason_1"].tolist() == batch["reason_1"].to_list()

    onnx = convert_pipeline(bundle.pipeline, german_spec, features)
    if family == "native":  # gradient boosting's categorical splits have no ONNX converter
        assert not isinstance(onnx, OnnxPackage)
        return
    assert isinstance(onnx, OnnxPackage)
    onnx_p = onnx_probabilities(onnx.onnx_bytes, features, german_spec)
    np.testing.assert_allclose(onnx_p, core_p, atol=TOLERANCE)
    onnx_decisions = np.where(onnx_p >= scorer.threshold, "refer", "accept").tolist()
    near = np.abs(core_p - scorer.threshold) <= TOLERANCE  # a tie may round either way
    assert all(n or a == b for n, a, b in zip(near, onnx_decisions, decisions, strict=True))


@pytest.fixture(scope="module")
def gappy_package(german_split, fitted, tmp_path_factory):
    """The scorecard packaged under a spec where an int and a category column are nullable."""
    raw = yaml.safe_load(GERMAN_SPEC.read_text())
    for column in raw["schema"]["columns"]:
        if column["name"] in GAPPY:
            column["nullable"] = True
    spec = UseCaseSpec.model_validate(raw)
    train, holdout = german_split
    bundle = ServingBundle.build(
        spec,
        model_version="4",
        pipeline=fitted["scorecard"],
        training=train,
        holdout=holdout,
        model_sha256="ab" * 32,
    )
    files = bundle.to_files()
    root = tmp_path_factory.mktemp("pyfunc-gappy")
    arguments = model_arguments(spec, files, ServingBundle.digest_of(files), root / "art")
    mlflow.pyfunc.save_model(str(root / "package"), **arguments)
    return spec, root / "package"


def test_raw_rows_with_gaps_pass_mlflow_schema_enforcement(gappy_package, applications):
    """The bug in the issue: MLflow refused the platform's own data. Gaps in nullable
    columns (pandas NaN in an int column, None in a text one) are accepted and scored."""
    spec, path = gappy_package
    optional = {c.name for c in input_signature(spec).inputs.inputs if not c.required}
    assert optional >= GAPPY
    frame = applications.head(30).to_pandas()
    frame.loc[::3, "duration_months"] = np.nan  # pandas widens the column to float64
    frame.loc[::3, "purpose"] = None
    answers = mlflow.pyfunc.load_model(str(path)).predict(frame)
    assert len(answers) == 30
    assert answers["fallback_reason"].isna().all(), answers["fallback_reason"].dropna().tolist()
    assert answers["probability"].between(0, 1).all()


def test_a_value_breaking_the_contract_is_the_fallback_not_an_error(packaged, applications):
    _, _, _, path = packaged
    frame = applications.head(3).to_pandas()
    frame.loc[1, "purpose"] = "yacht"
    answers = mlflow.pyfunc.load_model(str(path)).predict(frame)
    assert answers.loc[1, "decision"] == "refer"
    assert "purpose" in answers.loc[1, "fallback_reason"]
    assert pd.isna(answers.loc[1, "probability"])
    assert answers.loc[[0, 2], "fallback_reason"].isna().all()


def test_a_package_whose_bundle_changed_refuses_to_load(packaged, tmp_path):
    import shutil

    _, _, _, path = packaged
    assert not list(path.rglob("*.pkl"))  # the model is code: nothing to unpickle
    copy = Path(shutil.copytree(path, tmp_path / "tampered"))
    (pipeline,) = list(copy.rglob(PIPELINE))
    pipeline.write_bytes(pipeline.read_bytes() + b"\0")
    with pytest.raises(ModelIntegrityError):
        mlflow.pyfunc.load_model(str(copy))
