"""The realised performance of a vintage, as `performance.json` stores it and the histories
read it back."""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from modelops.formatting import json_document
from modelops.ml.metrics import binary_metrics, calibration_table
from modelops.ml.realised_performance import RealisedPerformance

LABELS = np.array([0, 0, 1, 1, 0, 1, 0, 1])
SCORES = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.7, 0.3, 0.9])


def _performance() -> RealisedPerformance:
    return RealisedPerformance(
        month="2025-06",
        model_version="2,3",
        labelled_rows=8,
        **binary_metrics(LABELS, SCORES).as_dict(),
        release_auc=0.81,
        calibration=tuple(calibration_table(LABELS, SCORES, 2)),
    )


def test_the_stored_document_is_flat_and_reads_back_equal() -> None:
    performance = _performance()
    stored = json_document(dataclasses.asdict(performance))
    document = json.loads(stored)
    assert set(document) == {
        "month",
        "model_version",
        "labelled_rows",
        "n",
        "positives",
        "auc",
        "gini",
        "ks",
        "brier",
        "pr_auc",
        "log_loss",
        "release_auc",
        "calibration",
        "predicted_bad_rate",
        "predicted_bad_rate_sd",
    }
    assert set(document["calibration"][0]) == {
        "lower",
        "upper",
        "count",
        "mean_predicted",
        "observed_rate",
    }
    assert RealisedPerformance.from_json(stored) == performance


def test_a_document_without_release_auc_and_with_unknown_keys_still_reads() -> None:
    document = json.loads(json_document(dataclasses.asdict(_performance())))
    document.update(release_auc=None, written_by="a later version")
    read = RealisedPerformance.from_json(json.dumps(document).encode())
    assert read.release_auc is None
    assert read.versions == ["2", "3"]
