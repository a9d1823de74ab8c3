"""The monthly `estimated_performance` asset with `dg.materialize` on an in-memory store: the
month's scores are estimated before any label, stored (`estimate.json`) and checked against the
AUC at release, with a warning and an alert when decay is estimated; once the labels arrive,
`realised_performance` shows the estimate beside the realised figures and alerts calibration
drift."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest

from modelops import names
from modelops.defs.estimate_assets import DECAY_CHECK, estimate_assets
from modelops.defs.label_assets import label_assets
from modelops.monitoring.estimate_history import month_estimate
from modelops.resources.alerts import LocalAlerts
from modelops.resources.decision_store import DecisionLogStore
from modelops.resources.tracking import ModelTracking
from modelops.spec import UseCaseSpec
from support.fakes import MemoryArtifactStore

UC = "german_credit"
MONTH = "2025-03"


class ReleaseAuc(ModelTracking):
    """The registry's answer for the AUC at release, without a registry."""

    release_auc: float

    def run_metric(self, registered_name: str, version: str, metric: str) -> float | None:
        return self.release_auc if metric == "holdout_auc" else None


def _scores(store: MemoryArtifactStore, p: np.ndarray) -> None:
    store.store_table(
        UC,
        names.monthly(names.PREDICTIONS, MONTH),
        pl.DataFrame(
            {
                "application_id": [f"B{i}" for i in range(p.size)] + ["Q0"],
                "score": [*p.tolist(), None],  # a quarantined row: answered, not scored
                "model_version": "1",
            }
        ),
    )


def _materialize(
    assets: list[dg.AssetsDefinition],
    store: MemoryArtifactStore,
    tmp_path: Path,
    release_auc: float,
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        assets,
        partition_key=f"{MONTH}-01",
        resources={
            "store": store,
            "tracking": ReleaseAuc(tracking_uri="sqlite:///unused.db", release_auc=release_auc),
            "alerts": LocalAlerts(path=str(tmp_path / "alerts.jsonl")),
            "decisions": DecisionLogStore(directory=str(tmp_path / "log")),
        },
    )


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, object]:
    (event,) = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey([UC, asset])
    ]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def _alerts(tmp_path: Path) -> list[dict]:
    return LocalAlerts(path=str(tmp_path / "alerts.jsonl")).read()


@pytest.fixture
def store() -> MemoryArtifactStore:
    return MemoryArtifactStore()


def test_a_month_is_estimated_before_its_labels_and_stored(
    german_spec: UseCaseSpec, store: MemoryArtifactStore, tmp_path: Path
) -> None:
    p = np.random.default_rng(1).beta(1, 3, 2000)
    _scores(store, p)

    result = _materialize(estimate_assets(german_spec), store, tmp_path, release_auc=0.79)

    metadata = _metadata(result, names.ESTIMATED_PERFORMANCE)
    assert metadata["scored_rows"] == 2000
    assert (
        metadata["estimated_auc_low"] < metadata["estimated_auc"] < metadata["estimated_auc_high"]
    )
    assert metadata["estimated_bad_rate"] == pytest.approx(p.mean(), abs=5e-5)  # as shown
    assert metadata["release_auc"] == 0.79
    assert "calibrated" in metadata["report"] and "concept shift" in metadata["report"]
    record = month_estimate(store, german_spec, MONTH)
    assert record is not None and record.model_version == "1"
    assert record.estimate.auc is not None
    assert record.estimate.auc.value == pytest.approx(metadata["estimated_auc"], abs=5e-5)
    (check,) = result.get_asset_check_evaluations()
    assert (check.check_name, check.passed) == (DECAY_CHECK, True)
    assert _alerts(tmp_path) == []


def test_estimated_decay_warns_and_alerts_the_owners(
    german_spec: UseCaseSpec, store: MemoryArtifactStore, tmp_path: Path
) -> None:
    """Scores that barely separate anyone: the expected AUC is far below the release's."""
    weak = np.clip(0.3 + np.random.default_rng(2).normal(0, 0.03, 2000), 0, 1)
    _scores(store, weak)

    result = _materialize(estimate_assets(german_spec), store, tmp_path, release_auc=0.85)

    (check,) = result.get_asset_check_evaluations()
    assert check.passed is False and check.severity == dg.AssetCheckSeverity.WARN
    assert "below the AUC at release 0.850" in (check.description or "")
    (alert,) = _alerts(tmp_path)
    assert alert["kind"] == "performance" and alert["details"]["basis"] == "estimated"
    assert alert["summary"].startswith(f"{MONTH}: estimated AUC")


def test_realised_performance_shows_the_estimate_and_alerts_calibration_drift(
    german_spec: UseCaseSpec, store: MemoryArtifactStore, tmp_path: Path
) -> None:
    """The model's scores are half the true probabilities: it ranks as well as ever (no
    relative decay) but under-predicts the bad rate, which only the labels can show."""
    rng = np.random.default_rng(3)
    truth = rng.beta(1, 3, 3000)
    scores = truth * 0.5
    _scores(store, scores)
    bad = rng.random(truth.size) < truth
    header = german_spec.data_schema.column(german_spec.target.column).header
    store.store_table(
        UC,
        names.monthly(names.LABELS, MONTH),
        pl.DataFrame(
            {
                "application_id": [f"B{i}" for i in range(truth.size)],
                header: ["bad" if b else "good" for b in bad],
            }
        ),
    )
    release = 0.79
    _materialize(estimate_assets(german_spec), store, tmp_path, release_auc=release)
    performance = next(
        a for a in label_assets(german_spec) if dg.AssetKey([UC, names.PERFORMANCE]) in a.keys
    )

    result = _materialize([performance], store, tmp_path, release_auc=release)

    metadata = _metadata(result, names.PERFORMANCE)
    assert metadata["observed_bad_rate"] == pytest.approx(bad.mean(), abs=5e-5)
    assert metadata["predicted_bad_rate"] == pytest.approx(scores.mean(), abs=5e-5)
    assert "under-predicts" in metadata["decay_alerts"]
    assert not np.isnan(metadata["estimated_auc"])
    assert "| 2025-03 |" in metadata["estimate_vs_realised"]
    realised = [a["details"] for a in _alerts(tmp_path) if a["details"]["basis"] == "realised"]
    assert [d["rule"] for d in realised] == ["calibration_drift"]


def test_no_monitoring_section_means_no_estimate(german_spec: UseCaseSpec) -> None:
    assert estimate_assets(german_spec.model_copy(update={"monitoring": None})) == []
