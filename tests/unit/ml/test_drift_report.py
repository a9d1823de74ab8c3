"""Tests for the Evidently-backed data-drift report (`modelops.ml.drift.evidently_report`)."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from modelops.ml.drift import (
    DriftResult,
    build_drift_report,
    drift_report_for,
    evidently_report,
    sample_rows,
)
from modelops.spec import UseCaseSpec

NUMERIC = ["amount", "age"]
CATEGORICAL = ["purpose", "housing", "dependents"]
PURPOSES = ["car", "tv", "education", "business"]
PURPOSE_P = [0.4, 0.3, 0.2, 0.1]


def make_frame(
    n: int,
    seed: int,
    *,
    amount_shift: float = 0.0,
) -> pl.DataFrame:
    """A small credit-like frame: two numeric and three categorical columns (one integer-coded)."""
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "amount": rng.normal(3000.0 + amount_shift * 1000.0, 1000.0, n),
            "age": rng.integers(18, 75, n),
            "purpose": rng.choice(PURPOSES, n, p=PURPOSE_P),
            "housing": rng.choice(["own", "rent", "free"], n, p=[0.6, 0.3, 0.1]),
            "dependents": rng.choice([0, 1, 2], n, p=[0.5, 0.3, 0.2]),
        },
        schema={
            "amount": pl.Float64,
            "age": pl.Int64,
            "purpose": pl.String,
            "housing": pl.String,
            "dependents": pl.Int64,
        },
    )


def drifted_copy(frame: pl.DataFrame, seed: int) -> pl.DataFrame:
    """The same rows reshuffled, with `amount` shifted by +3 std and `purpose` frequencies reversed.

    Every other column keeps exactly its reference distribution, so only the two changed columns
    can drift, whatever test Evidently picks.
    """
    rng = np.random.default_rng(seed)
    return frame.sample(fraction=1.0, shuffle=True, seed=seed).with_columns(
        pl.col("amount") + 3000.0,
        pl.Series("purpose", rng.choice(PURPOSES, frame.height, p=PURPOSE_P[::-1])),
    )


def run(
    reference: pl.DataFrame,
    current: pl.DataFrame,
    *,
    drift_share: float = 0.5,
    stattest_threshold: float | None = None,
    max_rows: int = 100_000,
    seed: int = 0,
) -> DriftResult:
    return build_drift_report(
        reference,
        current,
        numeric=NUMERIC,
        categorical=CATEGORICAL,
        drift_share=drift_share,
        stattest_threshold=stattest_threshold,
        max_rows=max_rows,
        seed=seed,
    )


def by_column(report: DriftResult) -> dict[str, dict]:
    return {f["column"]: f for f in report.to_dict()["features"]}


# (a) identical distributions -------------------------------------------------------------------


def test_same_rows_in_another_order_never_drift() -> None:
    reference = make_frame(500, seed=1)
    current = reference.sample(fraction=1.0, shuffle=True, seed=2)

    report = run(reference, current)

    assert [f.column for f in report.features] == NUMERIC + CATEGORICAL
    assert [f.kind for f in report.features] == ["numeric"] * 2 + ["categorical"] * 3
    assert not any(f.drifted for f in report.features)
    assert all(f.score > 0.99 for f in report.features)  # p-values of identical samples
    assert report.drifted_share == 0.0
    assert report.dataset_drift is False


def test_independent_draws_of_one_distribution_do_not_drift() -> None:
    report = run(make_frame(3000, seed=1), make_frame(3000, seed=2))

    assert report.drifted_columns == []
    # distances well under the 0.1 threshold, not just under it by luck
    assert all(f.score < 0.05 for f in report.features)
    assert report.dataset_drift is False


# (b) real drift is flagged, and only where it is -------------------------------------------------


@pytest.mark.parametrize("n", [500, 3000], ids=["p-value tests", "distance tests"])
def test_shifted_numeric_and_reweighted_categorical_are_flagged(n: int) -> None:
    reference = make_frame(n, seed=1)
    current = drifted_copy(reference, seed=2)

    report = run(reference, current, drift_share=0.5)

    assert report.drifted_columns == ["amount", "purpose"]
    assert report.drifted_share == pytest.approx(2 / 5)
    assert report.dataset_drift is False  # 40 % < 50 %


def test_dataset_drifts_when_share_reaches_drift_share() -> None:
    reference = make_frame(3000, seed=1)
    current = drifted_copy(reference, seed=2)

    at_share = run(reference, current, drift_share=0.4)
    above_share = run(reference, current, drift_share=0.41)

    assert at_share.drifted_share == pytest.approx(0.4)
    assert at_share.dataset_drift is True  # >=, not >
    assert above_share.dataset_drift is False


# (c) Evidently's default test depends on the reference size ------------------------------------


def test_up_to_1000_reference_rows_uses_p_value_tests() -> None:
    report = run(make_frame(1000, seed=1), make_frame(300, seed=2))

    methods = {f.column: (f.method, f.threshold) for f in report.features}
    assert methods["amount"] == ("K-S p_value", 0.05)
    assert methods["age"] == ("K-S p_value", 0.05)
    assert methods["purpose"] == ("chi-square p_value", 0.05)
    assert methods["dependents"] == ("chi-square p_value", 0.05)


def test_above_1000_reference_rows_uses_distances() -> None:
    report = run(make_frame(1001, seed=1), make_frame(300, seed=2))

    methods = {f.column: (f.method, f.threshold) for f in report.features}
    assert methods["amount"] == ("Wasserstein distance (normed)", 0.1)
    assert methods["age"] == ("Wasserstein distance (normed)", 0.1)
    assert methods["purpose"] == ("Jensen-Shannon distance", 0.1)
    assert methods["dependents"] == ("Jensen-Shannon distance", 0.1)


def test_the_size_that_counts_is_non_null_reference_values() -> None:
    """A column with nulls can stay on the small-sample test while the others switch."""
    reference = make_frame(1100, seed=1).with_columns(
        pl.when(pl.int_range(pl.len()) < 200).then(None).otherwise(pl.col("amount")).alias("amount")
    )

    methods = {f.column: f.method for f in run(reference, make_frame(300, seed=2)).features}

    assert methods["amount"] == "K-S p_value"
    assert methods["age"] == "Wasserstein distance (normed)"


def test_explicit_threshold_applies_to_every_column() -> None:
    report = run(make_frame(500, seed=1), make_frame(500, seed=2), stattest_threshold=0.5)

    assert {f.threshold for f in report.features} == {0.5}


# (d) sampling -------------------------------------------------------------------------------------


def test_sampling_caps_rows_before_evidently_sees_them() -> None:
    reference = make_frame(3000, seed=1)
    current = make_frame(400, seed=2)

    report = run(reference, current, max_rows=1000)

    assert (report.reference_rows, report.current_rows, report.sampled) == (1000, 400, True)
    # Evidently picked its small-sample test, so it really got 1,000 reference rows, not 3,000.
    assert report.features[0].method == "K-S p_value"


def test_no_sampling_below_max_rows() -> None:
    report = run(make_frame(300, seed=1), make_frame(200, seed=2), max_rows=300)

    assert (report.reference_rows, report.current_rows, report.sampled) == (300, 200, False)


def test_sampling_is_deterministic_for_a_seed() -> None:
    reference = make_frame(3000, seed=1)
    current = make_frame(3000, seed=2, amount_shift=0.1)

    first = run(reference, current, max_rows=500, seed=7).to_dict()
    again = run(reference, current, max_rows=500, seed=7).to_dict()
    other = run(reference, current, max_rows=500, seed=8).to_dict()

    assert first == again
    assert [f["score"] for f in first["features"]] != [f["score"] for f in other["features"]]


# (e) nulls ----------------------------------------------------------------------------------------


def test_nulls_in_every_column_are_ignored_not_fatal() -> None:
    def with_nulls(frame: pl.DataFrame) -> pl.DataFrame:
        every_7th = pl.int_range(pl.len()) % 7 == 0
        return frame.with_columns(
            pl.when(every_7th).then(None).otherwise(pl.col(c)).alias(c)
            for c in NUMERIC + CATEGORICAL
        ).with_columns(  # a NaN as well as nulls in the float column
            pl.when(pl.int_range(pl.len()) == 1)
            .then(float("nan"))
            .otherwise("amount")
            .alias("amount")
        )

    reference = with_nulls(make_frame(600, seed=1))
    current = reference.sample(fraction=1.0, shuffle=True, seed=2)
    assert reference.schema["age"] == pl.Int64
    assert reference["dependents"].null_count() > 0

    report = run(reference, current)

    assert len(report.features) == 5
    assert all(np.isfinite(f.score) for f in report.features)
    assert report.drifted_columns == []
    assert report.features[0].score > 0.99  # NaN and nulls dropped on both sides alike


def test_column_with_only_nulls_is_a_clear_error() -> None:
    current = make_frame(200, seed=2).with_columns(pl.lit(None, dtype=pl.String).alias("housing"))

    with pytest.raises(ValueError, match=r"\['housing'\] hold only nulls in the current frame"):
        run(make_frame(200, seed=1), current)


# (f) html -----------------------------------------------------------------------------------------


def test_html_is_a_full_page_naming_every_column() -> None:
    report = run(make_frame(300, seed=1), make_frame(300, seed=2))

    assert "<html" in report.html
    for column in NUMERIC + CATEGORICAL:
        assert column in report.html
    # self-contained: Evidently inlines its JS bundle rather than loading it from a URL
    assert '<script src="http' not in report.html


# (g) serialisation --------------------------------------------------------------------------------


def test_to_dict_is_strict_json_without_html() -> None:
    reference = make_frame(300, seed=1)
    report = run(reference, make_frame(300, seed=2, amount_shift=3.0))

    data = report.to_dict()
    decoded = json.loads(json.dumps(data, allow_nan=False))

    assert decoded == data
    assert "html" not in data
    assert decoded["features"][0] == {
        "column": "amount",
        "kind": "numeric",
        "method": "K-S p_value",
        "score": pytest.approx(report.features[0].score),
        "threshold": 0.05,
        "drifted": True,
    }
    assert (decoded["reference_rows"], decoded["current_rows"]) == (300, 300)


def test_markdown_has_headline_and_one_row_per_column() -> None:
    reference = make_frame(300, seed=1)
    report = run(reference, reference.with_columns(pl.col("amount") + 3000.0))

    markdown = report.to_markdown()

    assert "**Dataset drift: not detected** — 1 of 5 columns drifted (20.0%" in markdown
    assert "| column | kind | method | score | threshold | drifted |" in markdown
    assert "| amount | numeric | K-S p_value |" in markdown
    rows = [line for line in markdown.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 1 + 5
    assert sum("**yes**" in line for line in rows) == 1


# (h) input errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("empty_side", ["reference", "current"])
def test_empty_frame_is_a_clear_error(empty_side: str) -> None:
    frame = make_frame(100, seed=1)
    empty = frame.clear()
    reference, current = (empty, frame) if empty_side == "reference" else (frame, empty)

    with pytest.raises(ValueError, match=f"the {empty_side} frame is empty"):
        run(reference, current)


def test_missing_column_is_a_clear_error() -> None:
    current = make_frame(100, seed=2).drop("housing")

    with pytest.raises(ValueError, match=r"\['housing'\] missing from the current frame"):
        run(make_frame(100, seed=1), current)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"drift_share": 0.0}, r"drift_share must be in \(0, 1\]"),
        ({"stattest_threshold": 0.0}, "stattest_threshold must be positive"),
        ({"max_rows": 0}, "max_rows must be at least 1"),
    ],
)
def test_arguments_out_of_range_are_clear_errors(arguments: dict, message: str) -> None:
    frame = make_frame(100, seed=1)

    with pytest.raises(ValueError, match=f"drift report: {message}"):
        run(frame, frame, **arguments)


# (i) the sample the report compares ---------------------------------------------------------------


def test_sample_rows_is_the_sample_the_report_compares() -> None:
    """A caller storing `sample_rows(training, max_rows, seed)` gets the report's own sample."""
    reference = make_frame(3000, seed=1)
    current = make_frame(400, seed=2, amount_shift=0.1)

    sampled_by_report = run(reference, current, max_rows=500, seed=7)
    sampled_beforehand = run(sample_rows(reference, 500, 7), current, max_rows=500, seed=7)

    assert sampled_by_report.sampled is True and sampled_beforehand.sampled is False
    assert sampled_by_report.features == sampled_beforehand.features


def test_sample_rows_keeps_small_frames_and_is_seeded() -> None:
    frame = make_frame(300, seed=1)

    assert sample_rows(frame, 300, seed=1) is frame
    assert sample_rows(frame, 100, seed=3).equals(sample_rows(frame, 100, seed=3))
    assert not sample_rows(frame, 100, seed=3).equals(sample_rows(frame, 100, seed=4))
    assert sample_rows(frame, 100, seed=3).height == 100


def test_drift_report_for_sets_the_report_up_from_the_spec(
    german_spec: UseCaseSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict] = []
    monkeypatch.setattr(
        evidently_report, "build_drift_report", lambda ref, cur, **kwargs: calls.append(kwargs)
    )
    frame = pl.DataFrame({"x": [1.0]})
    kept = [german_spec.numeric_features[0], german_spec.categorical_features[-1]]
    drift_report_for(german_spec, frame, frame)
    drift_report_for(german_spec, frame, frame, inputs=kept)
    settings = {
        "drift_share": german_spec.drift.drift_share,
        "stattest_threshold": german_spec.drift.stattest_threshold,
        "max_rows": german_spec.drift.max_rows,
        "seed": german_spec.split.seed,
    }
    every, some = calls
    assert every == {
        "numeric": german_spec.numeric_features,
        "categorical": german_spec.categorical_features,
        **settings,
    }
    assert some == {"numeric": kept[:1], "categorical": kept[1:], **settings}
