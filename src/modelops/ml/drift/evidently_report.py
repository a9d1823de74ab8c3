"""Evidently's data-drift report: its verdicts per column and its HTML page, on a sample.

Evidently 0.7 does the statistics (one `ValueDrift` metric per column, rather than the slow
`DataDriftPreset`); this module only prepares the data, reads Evidently's verdicts back out of
the snapshot and aggregates them into a dataset verdict (see `stattests` for the tests it
picks). Evidently is imported lazily: its import costs several seconds and most callers of
this package never need it.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from typing import TYPE_CHECKING

import polars as pl

from modelops.ml.drift.checks import check_column_lists, check_frame, check_thresholds
from modelops.ml.drift.result import ColumnDrift, DriftResult

if TYPE_CHECKING:
    import pandas as pd

    from modelops.spec import UseCaseSpec

_VALUE_DRIFT_TYPE = "evidently:metric_v2:ValueDrift"
_WHO = "drift report"


def build_drift_report(
    reference: pl.DataFrame,
    current: pl.DataFrame,
    *,
    numeric: list[str],
    categorical: list[str],
    drift_share: float,
    stattest_threshold: float | None,
    max_rows: int,
    seed: int,
) -> DriftResult:
    """Compare `current` with `reference` column by column and decide whether the dataset drifted.

    Each side is sampled with `sample_rows` down to at most `max_rows` rows first, because
    Evidently's cost and HTML size grow with the rows. `stattest_threshold=None` keeps
    Evidently's default threshold for each test (0.05 for p-values, 0.1 for distances).
    The dataset drifts when the share of drifted columns is at least `drift_share`. The result
    carries Evidently's HTML page and whether either side was sampled.

    Raises ValueError when a frame is empty, a column is missing, has the wrong type or holds
    only nulls (Evidently cannot compare an empty distribution), or an argument is out of range.
    """
    check_column_lists(_WHO, numeric, categorical)
    check_thresholds(_WHO, drift_share, stattest_threshold)
    if max_rows < 1:
        raise ValueError(f"{_WHO}: max_rows must be at least 1, got {max_rows}")
    for side, frame in (("reference", reference), ("current", current)):
        check_frame(_WHO, side, frame, numeric, categorical)

    ref = sample_rows(reference, max_rows, seed)
    cur = sample_rows(current, max_rows, seed)
    for side, frame in (("reference", ref), ("current", cur)):
        null_only = [c for c in [*numeric, *categorical] if frame[c].null_count() == frame.height]
        if null_only:
            raise ValueError(
                f"{_WHO}: column(s) {null_only} hold only nulls in the {side} frame "
                f"({frame.height:,} rows compared); Evidently cannot test an empty distribution"
            )

    features, html = _run_evidently(
        evidently_frame(ref, numeric, categorical),
        evidently_frame(cur, numeric, categorical),
        numeric=numeric,
        categorical=categorical,
        threshold=stattest_threshold,
    )
    return DriftResult.of(
        features,
        drift_share=drift_share,
        reference_rows=ref.height,
        current_rows=cur.height,
        sampled=ref.height < reference.height or cur.height < current.height,
        html=html,
    )


def drift_report_for(
    spec: UseCaseSpec,
    reference: pl.DataFrame,
    current: pl.DataFrame,
    *,
    inputs: Collection[str] | None = None,
) -> DriftResult:
    """`build_drift_report` as the spec sets it up: its feature types and drift settings,
    sampled with its seed, over every model input or only `inputs` (a month's inputs that
    are not all null)."""
    numeric, categorical = spec.numeric_features, spec.categorical_features
    if inputs is not None:
        numeric = [c for c in numeric if c in inputs]
        categorical = [c for c in categorical if c in inputs]
    return build_drift_report(
        reference,
        current,
        numeric=numeric,
        categorical=categorical,
        drift_share=spec.drift.drift_share,
        stattest_threshold=spec.drift.stattest_threshold,
        max_rows=spec.drift.max_rows,
        seed=spec.split.seed,
    )


def sample_rows(frame: pl.DataFrame, max_rows: int, seed: int) -> pl.DataFrame:
    """At most `max_rows` rows, seeded and without replacement, so a rerun on the same data
    gives the same report; the frame itself when it is small enough."""
    if frame.height <= max_rows:
        return frame
    return frame.sample(n=max_rows, seed=seed)


def evidently_frame(
    frame: pl.DataFrame, numeric: list[str], categorical: list[str]
) -> pd.DataFrame:
    """The columns as Evidently is given them: float64 with NaN for numbers, str/None for
    categories, every category HTML-escaped.

    Nullable pandas dtypes (Int64) break Evidently's numpy code, and integer-coded categories
    are turned into strings so they are counted as labels, not as numbers. Evidently writes
    the categories raw into JSON inside the page's inline `<script>` blocks, where a value
    holding `</script>` would end the block and run what follows. Escaping `&`, `<` and `>`
    leaves no `<` in any value, so no value can close or open a tag there; and it is one to
    one, so every count and every drift test is the same as on the raw values (the page
    shows the values as written: its charts decode the entities).
    """
    unsafe = [c for c in [*numeric, *categorical] if set(c) & set("<>&")]
    if unsafe:
        raise ValueError(f"{_WHO}: column names may not contain <, > or &: {unsafe}")
    return frame.select(
        *[pl.col(c).cast(pl.Float64) for c in numeric],
        *[
            pl.col(c)
            .cast(pl.String)
            .str.replace_all("&", "&amp;", literal=True)
            .str.replace_all("<", "&lt;", literal=True)
            .str.replace_all(">", "&gt;", literal=True)
            for c in categorical
        ],
    ).to_pandas()


def _run_evidently(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    numeric: list[str],
    categorical: list[str],
    threshold: float | None,
) -> tuple[list[ColumnDrift], str]:
    """Run one ValueDrift per column and read method, score, threshold and verdict back out."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift

    # Every type list is explicit (even the empty ones) so Evidently infers nothing.
    definition = DataDefinition(
        numerical_columns=list(numeric),
        categorical_columns=list(categorical),
        text_columns=[],
        datetime_columns=[],
        unknown_columns=[],
        list_columns=[],
    )
    columns = [*numeric, *categorical]
    # include_tests makes Evidently attach its own drifted / not drifted verdict to each metric.
    report = Report(
        [ValueDrift(column=c, threshold=threshold) for c in columns], include_tests=True
    )
    snapshot = report.run(
        current_data=Dataset.from_pandas(current, data_definition=definition),
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
    )

    result = snapshot.dict()
    status_by_metric = {t["metric_config"]["metric_id"]: t["status"] for t in result["tests"]}
    by_column: dict[str, ColumnDrift] = {}
    numeric_set = set(numeric)
    for metric in result["metrics"]:
        config = metric["config"]
        if config.get("type") != _VALUE_DRIFT_TYPE:
            continue
        column = config["column"]
        status = status_by_metric.get(metric["id"])
        if status not in ("SUCCESS", "FAIL"):
            raise RuntimeError(f"Evidently gave no drift verdict for column {column!r}: {status}")
        by_column[column] = ColumnDrift(
            column=column,
            kind="numeric" if column in numeric_set else "categorical",
            method=str(config["method"]),
            score=float(metric["value"]),
            threshold=float(config["threshold"]),
            drifted=status == "FAIL",
        )
    missing = [c for c in columns if c not in by_column]
    if missing:
        raise RuntimeError(f"Evidently returned no drift result for column(s) {missing}")
    return [by_column[c] for c in columns], snapshot.get_html_str(as_iframe=False)
