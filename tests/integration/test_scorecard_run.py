"""The WoE scorecard spec (assets/german_credit_scorecard.yaml) trains through `modelops run`,
registers, and scores through the batch door with exact linear reason codes; the MLflow pyfunc
package gives the same probabilities."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import mlflow
import numpy as np
import polars as pl

from modelops.governance.champion import champion_bundle
from modelops.ml.features import build_features
from modelops.ml.scoring.applications import ApplicationScorer
from modelops.ml.validation import validate_batch
from modelops.operator import Platform
from modelops.resources.package_logging import PYFUNC_TAG
from support import GERMAN_DATA, make_settings
from support.platform_cli import cli

UC = "german_credit_scorecard"
SPEC = Path(__file__).resolve().parents[2] / "assets" / f"{UC}.yaml"


def test_scorecard_trains_and_scores_through_the_batch_door(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    shutil.copy(SPEC, tmp_path / "specs" / SPEC.name)
    settings = make_settings(tmp_path, tmp_path / "specs")
    result = cli(settings, "run", "-u", UC, env={"MODELOPS_ACTOR": "dev@bank.example"})
    assert result.code == 0, result
    approve = ("--by", "val@bank.example", "--role", "model_validator", "--reason", "VR-1")
    assert cli(settings, "approve", "-u", UC, *approve).code == 0

    platform = Platform(settings)
    spec = platform.spec(UC)
    valid = validate_batch(pl.read_csv(GERMAN_DATA), spec, labelled=False).valid
    features = build_features(valid, spec, with_label=False)
    bundle = champion_bundle(platform.resources.store, platform.resources.audit_log, spec)
    batch = ApplicationScorer(bundle, spec).score_table(features, scored_at=datetime.now(UTC))
    assert batch.height == features.height
    assert batch["reason_1"].null_count() == 0
    assert batch["reason_1_contribution"].min() > 0

    uri = platform.tracking.tracking_uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    tags = mlflow.MlflowClient().get_model_version(spec.registered_model_name, "1").tags
    fields = [c.name for c in spec.data_schema.columns if c.name != spec.target.column]
    raw = valid.select(fields).with_columns(pl.col(pl.Enum).cast(pl.String))
    packaged = mlflow.pyfunc.load_model(tags[PYFUNC_TAG]).predict(raw.to_pandas())
    packaged_p = packaged["probability"].to_numpy(dtype=float)
    assert np.max(np.abs(packaged_p - batch["score"].to_numpy())) <= 1e-9
