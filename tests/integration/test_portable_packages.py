"""The portable packages logged at training: `modelops run` tags the registered version with
its pyfunc package and its ONNX parity; `mlflow models serve` of the pyfunc (a real
subprocess on the project venv) answers holdout applications exactly as the scoring core
does; the stored .onnx reproduces the pipeline on the holdout."""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import polars as pl
import pytest

from modelops.governance.champion import load_serving_bundle
from modelops.ml.packages.onnx_package import PARITY_TOLERANCE, onnx_probabilities
from modelops.ml.scoring.applications import ApplicationScorer
from modelops.ml.training import predict_scores
from modelops.names import HOLDOUT
from modelops.operator import Platform
from modelops.resources.package_logging import (
    ONNX_ARTIFACT_TAG,
    ONNX_DIFF_TAG,
    ONNX_PARITY_TAG,
    PYFUNC_TAG,
)
from modelops.settings import Settings
from modelops.spec.columns import ROW_ID
from support import copy_german_spec, make_settings
from support.mlflow_server import free_port
from support.platform_cli import cli

UC = "german_credit"
TRAINER = {"MODELOPS_ACTOR": "trainer@bank.example"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("packages")
    copy_german_spec(root / "specs")
    settings = make_settings(root, root / "specs")
    outcome = cli(settings, "run", env=TRAINER)
    assert outcome.code == 0, outcome.printed
    return settings


@pytest.fixture(scope="module")
def platform(trained: Settings) -> Platform:
    return Platform(trained)


@pytest.fixture(scope="module")
def version_tags(platform: Platform) -> dict[str, str]:
    spec = platform.spec(UC)
    uri = platform.tracking.tracking_uri
    client = mlflow.MlflowClient(uri, registry_uri=uri)
    return dict(client.get_model_version(spec.registered_model_name, "1").tags)


@pytest.fixture(scope="module")
def scorer(platform: Platform) -> ApplicationScorer:
    spec = platform.spec(UC)
    resources = platform.resources
    bundle = load_serving_bundle(resources.store, resources.audit_log, spec, "1")
    return ApplicationScorer(bundle, spec)


@pytest.fixture(scope="module")
def holdout(platform: Platform) -> pl.DataFrame:
    store = platform.resources.store
    return store.read_table(UC, HOLDOUT, store.current_version(UC, HOLDOUT))


def test_training_tags_the_version_with_both_packages(version_tags):
    assert version_tags[PYFUNC_TAG].startswith("models:/")
    assert version_tags[ONNX_PARITY_TAG] == "passed"
    assert float(version_tags[ONNX_DIFF_TAG]) <= PARITY_TOLERANCE
    assert version_tags[ONNX_ARTIFACT_TAG].endswith("packages/model.onnx")


def test_the_stored_onnx_reproduces_the_pipeline(platform, version_tags, scorer, holdout):
    with tempfile.TemporaryDirectory() as tmp, _tracking(platform):
        path = mlflow.artifacts.download_artifacts(version_tags[ONNX_ARTIFACT_TAG], dst_path=tmp)
        onnx_bytes = Path(path).read_bytes()
    spec = platform.spec(UC)
    expected = predict_scores(scorer.bundle.pipeline, holdout, spec)
    got = onnx_probabilities(onnx_bytes, holdout, spec)
    assert np.max(np.abs(got - expected)) <= PARITY_TOLERANCE


def test_mlflow_models_serve_answers_as_the_scoring_core(platform, version_tags, scorer, tmp_path):
    spec = platform.spec(UC)
    raw = _raw_holdout_rows(platform, spec, 20)
    expected = scorer.answer(raw.to_dicts())
    port = free_port()
    uri = platform.tracking.tracking_uri
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "MLFLOW_REGISTRY_URI": uri}
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    server = subprocess.Popen(
        [str(mlflow_cli), "models", "serve", "-m", version_tags[PYFUNC_TAG],
         "--env-manager", "local", "--host", "127.0.0.1", "-p", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path,
    )  # fmt: skip
    try:
        _wait_ready(server, port)
        body = {"dataframe_split": json.loads(raw.to_pandas().to_json(orient="split"))}
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answered = json.loads(response.read())["predictions"]
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert len(answered) == len(expected) == 20
    for row, answer in zip(answered, expected, strict=True):
        assert answer.fallback_reason is None and row["fallback_reason"] is None
        assert math.isclose(row["probability"], answer.probability, abs_tol=1e-9)
        assert row["decision"] == answer.decision
        assert row["model_version"] == "1"
        assert row["reason_1"] == (answer.reasons[0].feature if answer.reasons else None)


def _raw_holdout_rows(platform: Platform, spec, rows: int) -> pl.DataFrame:
    """Holdout applications as a caller sends them: raw spec columns, categories as text."""
    from modelops.ml.validation import validate_batch
    from support import GERMAN_DATA

    valid = validate_batch(pl.read_csv(GERMAN_DATA, infer_schema=False), spec).valid
    fields = [c.name for c in spec.data_schema.columns if c.name != spec.target.column]
    return (
        valid.drop(ROW_ID)
        .select(fields)
        .head(rows)
        .with_columns(pl.col(pl.Enum, pl.Categorical).cast(pl.String))
    )


def _wait_ready(server: subprocess.Popen, port: int, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"mlflow models serve exited: {server.stderr.read().decode()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError("mlflow models serve did not answer /ping in time")


@contextlib.contextmanager
def _tracking(platform: Platform) -> Iterator[None]:
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(platform.tracking.tracking_uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)
