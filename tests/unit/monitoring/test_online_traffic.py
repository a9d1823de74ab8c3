"""A month's online decisions in the batch's shape: the validated inputs kept in the decision
log give the same features as the batch path on the same applications; fallbacks (no score)
are left out; no online traffic leaves the batch as it was."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from modelops.ml.features import build_features
from modelops.monitoring.decision_log import DecisionLog, DecisionRecord, read_decisions
from modelops.monitoring.online_traffic import (
    ONLINE_ROW_OFFSET,
    online_features,
    online_scores,
    with_online,
)
from modelops.spec import UseCaseSpec
from modelops.spec.columns import ROW_ID

UC = "german_credit"
AT = datetime(2025, 4, 2, 8, tzinfo=UTC)
ROWS = 40


@pytest.fixture
def applications(german_valid: pl.DataFrame, german_spec: UseCaseSpec) -> pl.DataFrame:
    rows = german_valid.head(ROWS)
    return rows.with_columns(pl.Series("application_id", [f"A{i}" for i in range(ROWS)]))


@pytest.fixture
def decisions(applications: pl.DataFrame, german_spec: UseCaseSpec, tmp_path: Path) -> pl.DataFrame:
    """Every application answered by the model, then one fallback."""
    inputs = (
        applications.drop(ROW_ID, german_spec.target.column, "application_id")
        .with_columns(pl.col(pl.Enum, pl.Categorical).cast(pl.String))
        .to_dicts()
    )
    records = [
        DecisionRecord(
            request_id=f"r{i}",
            decided_at=AT,
            use_case=UC,
            model_version="3",
            application_id=f"A{i}",
            inputs=values,
            probability=i / ROWS,
            decision="accept",
        )
        for i, values in enumerate(inputs)
    ]
    fallback = records[0].model_copy(
        update={"request_id": "stopped", "probability": None, "fallback_reason": "stopped: x"}
    )
    DecisionLog(tmp_path, UC).append([*records, fallback])
    return read_decisions(tmp_path, UC, AT.date()).decisions


def test_online_features_equal_the_batch_features_of_the_same_applications(
    applications: pl.DataFrame, decisions: pl.DataFrame, german_spec: UseCaseSpec
) -> None:
    assert decisions.height == ROWS + 1
    online = online_features(decisions, german_spec)
    batch = build_features(applications, german_spec, with_label=False, carry=("application_id",))
    assert online.height == ROWS  # the fallback has no score: left out
    assert online[ROW_ID].min() == ONLINE_ROW_OFFSET
    assert_frame_equal(online.drop(ROW_ID), batch.drop(ROW_ID).select(online.drop(ROW_ID).columns))
    together = with_online(batch, online)
    assert together.height == 2 * ROWS
    assert together.schema == batch.schema


def test_online_scores_carry_the_id_the_labels_join_on(
    decisions: pl.DataFrame, german_spec: UseCaseSpec
) -> None:
    scores = online_scores(decisions, german_spec)
    assert scores.columns == ["application_id", "score", "model_version"]
    assert scores.height == ROWS
    assert scores["score"].to_list() == pytest.approx([i / ROWS for i in range(ROWS)])


def test_no_online_traffic_leaves_the_batch_untouched(german_spec: UseCaseSpec) -> None:
    batch = pl.DataFrame({"application_id": [1, 2], "score": [0.1, 0.2], "model_version": "1"})
    empty = online_scores(
        read_decisions(Path("/nonexistent"), UC, AT.date()).decisions, german_spec
    )
    assert with_online(batch, empty) is batch


def test_an_online_id_the_batch_type_cannot_hold_joins_nothing_rather_than_failing() -> None:
    batch = pl.DataFrame({"application_id": [1, 2], "score": [0.1, 0.2], "model_version": "1"})
    online = pl.DataFrame(
        {"application_id": ["3", "A-17"], "score": [0.3, 0.4], "model_version": "1"}
    )
    together = with_online(batch, online)
    assert together["application_id"].to_list() == [1, 2, 3, None]
