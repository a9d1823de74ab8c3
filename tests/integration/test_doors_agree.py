"""The same 1,000 applications through every door give the same answers: the online service
(a real `modelops serve` process, one request of 1,000 applications), the version's MLflow
pyfunc package, its ONNX graph and the monthly batch door (`score_table` on the validated
feature table). Probabilities agree within 1e-5, decisions, reasons and the reason-code
catalogue's applicant-facing code and text exactly."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import httpx
import mlflow
import numpy as np
import polars as pl
import pytest
import yaml

from modelops.governance.champion import champion_bundle
from modelops.ml.features import build_features
from modelops.ml.packages.onnx_package import onnx_probabilities
from modelops.ml.scoring.applications import ApplicationScorer
from modelops.ml.validation import validate_batch
from modelops.operator import Platform
from modelops.resources.package_logging import ONNX_ARTIFACT_TAG, PYFUNC_TAG
from modelops.settings import Settings
from modelops.spec.columns import ROW_ID
from support import GERMAN_DATA, copy_german_spec, make_settings
from support.platform_cli import cli
from support.scoring_service import start_service, stop_service

UC = "german_credit"
TOLERANCE = 1e-5
CATALOGUE = {
    "reasons": {
        "checking_account_status": {"code": "R01", "text": "Balance of your current account"},
        "duration_months": {"code": "R02", "text": "Length of the requested loan"},
        "credit_history": {"code": "R03", "text": "Your history of repaying credit"},
    },
    "default_text": "Other factors in your application",
}


@pytest.fixture(scope="module")
def champion(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("doors")
    path = copy_german_spec(root / "specs")
    spec = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**spec, "explanations": CATALOGUE}, sort_keys=False))
    settings = make_settings(root, root / "specs")
    assert cli(settings, "run", "-u", UC, env={"MODELOPS_ACTOR": "dev@bank.example"}).code == 0
    approve = ("--by", "val@bank.example", "--role", "model_validator", "--reason", "VR-1")
    assert cli(settings, "approve", "-u", UC, *approve).code == 0
    return settings


@pytest.fixture(scope="module")
def applications(champion: Settings) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The German credit file as 1,000 applications (spec names, categories as text), and
    its validated feature table as the batch door scores it."""
    spec = Platform(champion).spec(UC)
    valid = validate_batch(pl.read_csv(GERMAN_DATA), spec, labelled=False).valid
    fields = [c.name for c in spec.data_schema.columns if c.name != spec.target.column]
    raw = valid.select(fields).with_columns(pl.col(pl.Enum).cast(pl.String))
    return raw, build_features(valid, spec, with_label=False)


def _service_answers(settings: Settings, records: list[dict], log: Path) -> list[dict]:
    process, url = start_service(settings, UC, log)
    try:
        reply = httpx.post(f"{url}/v1/{UC}/score", json={"applications": records}, timeout=60)
        assert reply.status_code == 200, reply.text
        return reply.json()["answers"]
    finally:
        stop_service(process)


def test_service_pyfunc_onnx_and_batch_give_the_same_answers(champion, applications, tmp_path):
    platform = Platform(champion)
    spec = platform.spec(UC)
    raw, features = applications
    assert raw.height == 1000
    records = raw.to_dicts()

    online = _service_answers(champion, records, tmp_path / "serve.log")
    service_p = np.array([a["probability"] for a in online])
    service_d = [a["decision"] for a in online]
    assert all(a["fallback_reason"] is None and a["model_version"] == "1" for a in online)

    resources = platform.resources
    bundle = champion_bundle(resources.store, resources.audit_log, spec)
    batch = ApplicationScorer(bundle, spec).score_table(features, scored_at=datetime.now(UTC))
    assert batch[ROW_ID].to_list() == features[ROW_ID].to_list()

    uri = platform.tracking.tracking_uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    tags = mlflow.MlflowClient().get_model_version(spec.registered_model_name, "1").tags
    packaged = mlflow.pyfunc.load_model(tags[PYFUNC_TAG]).predict(raw.to_pandas())
    with tempfile.TemporaryDirectory() as tmp:
        graph = Path(mlflow.artifacts.download_artifacts(tags[ONNX_ARTIFACT_TAG], dst_path=tmp))
        onnx_p = onnx_probabilities(graph.read_bytes(), features, spec)

    batch_p = batch["score"].to_numpy()
    for name, other in [
        ("pyfunc", packaged["probability"].to_numpy(dtype=float)),
        ("onnx", onnx_p),
        ("batch", batch_p),
    ]:
        assert np.max(np.abs(service_p - other)) <= TOLERANCE, name
    threshold = spec.evaluation.operating_threshold
    assert service_d == list(packaged["decision"]) == batch["decision"].to_list()
    assert service_d == ["refer" if p >= threshold else "accept" for p in onnx_p]
    service_reasons = [[r["feature"] for r in a["reasons"]] for a in online]
    batch_reasons = [
        [r for r in row if r is not None]
        for row in batch.select("reason_1", "reason_2", "reason_3").iter_rows()
    ]
    assert service_reasons == batch_reasons
    service_pushes = [r["contribution"] for a in online for r in a["reasons"]]
    batch_pushes = [
        v
        for row in batch.select("reason_1_contribution", "reason_2_contribution",
                                "reason_3_contribution").iter_rows()
        for v in row
        if v is not None
    ]  # fmt: skip
    assert np.allclose(service_pushes, batch_pushes, rtol=0, atol=1e-9)
    service_texts = [[(r["code"], r["text"]) for r in a["reasons"]] for a in online]
    for name, table in [("batch", batch.to_pandas()), ("pyfunc", packaged)]:
        texts = [
            [(row[f"reason_{k}_code"], row[f"reason_{k}_text"]) for k in (1, 2, 3)
             if row[f"reason_{k}"] is not None]
            for _, row in table.iterrows()
        ]  # fmt: skip
        assert service_texts == texts, name
    stated = {r["feature"]: (r["code"], r["text"]) for a in online for r in a["reasons"]}
    entries = CATALOGUE["reasons"]
    assert any(f in entries for f in stated) and any(f not in entries for f in stated)
    for feature, (code, text) in stated.items():
        entry = entries.get(feature, {"code": None, "text": CATALOGUE["default_text"]})
        assert (code, text) == (entry["code"], entry["text"])
