"""Tests for the drift result both producers share (`modelops.ml.drift.result`): each keeps
the JSON keys and markdown columns it always had, and user data stays inert in the table."""

from __future__ import annotations

import json
import math

import pytest

from modelops.ml.drift import ALL_NULL_METHOD, ColumnDrift, DriftResult


def report_style() -> DriftResult:
    """As Evidently's report gives it: no PSI, sampled, with HTML."""
    return DriftResult.of(
        [
            ColumnDrift("amount", "numeric", "K-S p_value", 1.23456e-5, 0.05, True),
            ColumnDrift("purpose", "categorical", "chi-square p_value", 0.5, 0.05, False),
        ],
        drift_share=0.5,
        reference_rows=1000,
        current_rows=400,
        sampled=True,
        html="<html></html>",
    )


def engine_style() -> DriftResult:
    """As the engine gives it: PSI and the current null share per column, every row."""
    return DriftResult.of(
        [
            ColumnDrift(
                "amount", "numeric", "Wasserstein distance (normed)", 0.2, 0.1, True, 0.13, 0.0
            ),
            ColumnDrift("purpose", "categorical", ALL_NULL_METHOD, math.nan, 0.1, True, 1.5, 1.0),
            ColumnDrift(
                "age", "numeric", "Wasserstein distance (normed)", 0.01, 0.1, False, 0.01, 0.125
            ),
        ],
        drift_share=0.5,
        reference_rows=20_000,
        current_rows=15_000,
    )


def test_dataset_drifts_at_the_share_not_only_above() -> None:
    engine = engine_style()

    assert engine.drifted_share == pytest.approx(2 / 3)
    assert engine.dataset_drift is True
    assert engine.drifted_columns == ["amount", "purpose"]
    report = report_style()
    assert report.drifted_share == 0.5 and report.dataset_drift is True  # >=


def test_each_producer_keeps_its_json_keys() -> None:
    report, engine = report_style().to_dict(), engine_style().to_dict()

    common = {"features", "drifted_share", "dataset_drift", "drift_share"}
    assert set(report) == common | {"reference_rows", "current_rows", "sampled"}
    assert set(engine) == common | {"reference_rows", "current_rows"}
    assert report["features"][0] == {
        "column": "amount",
        "kind": "numeric",
        "method": "K-S p_value",
        "score": 1.23456e-5,
        "threshold": 0.05,
        "drifted": True,
    }
    assert engine["features"][0] == {
        "column": "amount",
        "kind": "numeric",
        "method": "Wasserstein distance (normed)",
        "score": 0.2,
        "threshold": 0.1,
        "drifted": True,
        "psi": 0.13,
        "psi_band": "moderate",
        "current_null_share": 0.0,
    }
    assert engine["features"][1]["score"] is None  # NaN: strict JSON
    json.dumps(engine, allow_nan=False)
    assert "html" not in report


def test_report_markdown_keeps_its_six_columns_and_says_it_sampled() -> None:
    markdown = report_style().to_markdown()

    assert markdown.startswith(
        "**Dataset drift: DETECTED** — 1 of 2 columns drifted (50.0%; dataset drifts at ≥ 50.0%)."
    )
    assert "Compared 1,000 reference rows with 400 current rows (sampled).\n" in markdown
    assert "PSI" not in markdown
    assert (
        "| column | kind | method | score | threshold | drifted |\n|---|---|---|---:|---:|:---:|\n"
    )
    assert "| amount | numeric | K-S p_value | 1.235e-05 | 0.05 | **yes** |" in markdown
    assert "| purpose | categorical | chi-square p_value | 0.5 | 0.05 | no |" in markdown


def test_engine_markdown_adds_psi_and_nulls() -> None:
    markdown = engine_style().to_markdown()

    assert (
        "Compared 20,000 reference rows with 15,000 current rows. PSI bands: < 0.1 stable, "
        "0.1–0.25 moderate, > 0.25 significant.\n"
    ) in markdown
    assert (
        "| column | kind | method | score | threshold | drifted | PSI | current nulls |\n"
        "|---|---|---|---:|---:|:---:|---:|---:|\n"
    ) in markdown
    assert "| amount | numeric | Wasserstein distance (normed) | 0.2 | 0.1 | **yes** | " in markdown
    assert "| 0.1300 (moderate) | 0.0% |" in markdown
    assert "| nan | 0.1 | **yes** | 1.5000 (significant) | 100.0% |" in markdown
    assert "| 0.0100 (stable) | 12.5% |" in markdown


def test_column_names_are_user_data_in_the_table() -> None:
    result = DriftResult.of(
        [ColumnDrift("a|b *x* <i>", "categorical", "Z-test p_value", 0.5, 0.05, False)],
        drift_share=0.5,
        reference_rows=10,
        current_rows=10,
    )

    row = result.to_markdown().splitlines()[-1]

    assert row == r"| a\|b \*x\* &lt;i&gt; | categorical | Z-test p_value | 0.5 | 0.05 | no |"


def test_frame_has_one_schema_for_both_producers() -> None:
    report, engine = report_style().to_frame(), engine_style().to_frame()

    assert report.schema == engine.schema
    assert report["psi"].null_count() == report.height
    assert report["psi_band"].null_count() == report.height
    assert engine["psi_band"].to_list() == ["moderate", "significant", "stable"]
    assert engine["current_null_share"].to_list() == [0.0, 1.0, 0.125]


def test_most_moved_puts_drifted_columns_first_then_the_closest_to_drifting():
    result = DriftResult.of(
        [
            ColumnDrift("age", "numeric", "K-S p_value", 0.06, 0.05, False),
            ColumnDrift("purpose", "categorical", "chi-square p_value", 0.9, 0.05, False),
            ColumnDrift("amount", "numeric", "K-S p_value", 0.001, 0.05, True),
            ColumnDrift("duration", "numeric", "Wasserstein distance (normed)", 0.5, 0.1, True),
            ColumnDrift("empty", "numeric", ALL_NULL_METHOD, math.nan, 0.1, False),
        ],
        drift_share=0.5,
        reference_rows=100,
        current_rows=100,
    )

    assert result.most_moved(3) == ["amount", "duration", "age"]  # 50x past, 5x past
    assert result.most_moved(10)[-1] == "empty"  # no finite score: last
