"""Data-drift report: compare a current batch against a reference batch, column by column.

Evidently 0.7 does the statistics (one `ValueDrift` metric per column, rather than the slow
`DataDriftPreset`); this module only prepares the data, reads Evidently's verdicts back out of the
snapshot and aggregates them into a dataset verdict. Evidently is imported lazily because its
import costs several seconds and most callers of this package never need it.

Evidently's default test depends on the number of non-null reference values in the column:
up to 1,000 it uses p-value tests (K-S for numeric columns, chi-square for categorical ones, a
Z-test for columns with at most two distinct values), above 1,000 it uses distances (normed
Wasserstein for numeric columns, Jensen-Shannon for categorical ones and for numeric columns with
at most five distinct values). A p-value test drifts when the score is below its threshold, a
distance when it is at or above it; this is why a single `stattest_threshold` for every column is
only meaningful when all columns use the same kind of test.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

if TYPE_CHECKING:
    import pandas as pd

FeatureKind = Literal["numeric", "categorical"]

_VALUE_DRIFT_TYPE = "evidently:metric_v2:ValueDrift"


@dataclass(frozen=True)
class FeatureDrift:
    """Evidently's verdict on one column."""

    column: str
    kind: FeatureKind
    method: str
    """Evidently's name for the test, e.g. "K-S p_value" or "Wasserstein distance (normed)"."""
    score: float
    """p-value for a statistical test, distance for a distance; compare with `threshold`."""
    threshold: float
    drifted: bool


@dataclass(frozen=True)
class DriftReport:
    """Per-column drift verdicts, the dataset verdict and Evidently's HTML report.

    `html` is a self-contained page: Evidently inlines its JavaScript bundle (about 3.5 MB) and
    icon font, so it renders without network access (the only CDN address in the bundle is
    plotly's map-topology URL, which drift plots never use).
    """

    features: list[FeatureDrift]
    drifted_share: float
    """Share of compared columns that drifted."""
    dataset_drift: bool
    """True when `drifted_share >= drift_share`."""
    drift_share: float
    """The threshold `drifted_share` was compared with."""
    reference_rows: int
    """Reference rows actually compared (after sampling)."""
    current_rows: int
    """Current rows actually compared (after sampling)."""
    sampled: bool
    """True when either side was sampled down to `max_rows`."""
    html: str = field(repr=False)

    @property
    def drifted_columns(self) -> list[str]:
        """Names of the drifted columns, in report order."""
        return [f.column for f in self.features if f.drifted]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary without the HTML, e.g. for asset metadata or a JSON file.

        A non-finite score (which Evidently can return for degenerate columns) becomes None so
        that strict JSON encoders accept the result.
        """
        return {
            "features": [
                {
                    "column": f.column,
                    "kind": f.kind,
                    "method": f.method,
                    "score": _finite_or_none(f.score),
                    "threshold": _finite_or_none(f.threshold),
                    "drifted": f.drifted,
                }
                for f in self.features
            ],
            "drifted_share": self.drifted_share,
            "dataset_drift": self.dataset_drift,
            "drift_share": self.drift_share,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "sampled": self.sampled,
        }

    def to_markdown(self) -> str:
        """Concise summary for the Dagster UI: the headline verdict, then one row per column."""
        n_drifted = sum(f.drifted for f in self.features)
        verdict = "DETECTED" if self.dataset_drift else "not detected"
        sampled = " (sampled)" if self.sampled else ""
        lines = [
            f"**Dataset drift: {verdict}** — {n_drifted} of {len(self.features)} columns drifted "
            f"({self.drifted_share:.1%}; dataset drifts at ≥ {self.drift_share:.1%}).",
            "",
            f"Compared {self.reference_rows:,} reference rows with {self.current_rows:,} current "
            f"rows{sampled}.",
            "",
            "| column | kind | method | score | threshold | drifted |",
            "|---|---|---|---:|---:|:---:|",
        ]
        lines += [
            f"| {f.column} | {f.kind} | {f.method} | {f.score:.4g} | {f.threshold:.4g} | "
            f"{'**yes**' if f.drifted else 'no'} |"
            for f in self.features
        ]
        return "\n".join(lines) + "\n"


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
) -> DriftReport:
    """Compare `current` with `reference` column by column and decide whether the dataset drifted.

    Each side is sampled (seeded, without replacement) down to at most `max_rows` rows first,
    because Evidently's cost and HTML size grow with the rows. `stattest_threshold=None` keeps
    Evidently's default threshold for each test (0.05 for p-values, 0.1 for distances).
    The dataset drifts when the share of drifted columns is at least `drift_share`.

    Raises ValueError when a frame is empty, a column is missing, has the wrong type or holds
    only nulls (Evidently cannot compare an empty distribution), or an argument is out of range.
    """
    _validate_arguments(numeric, categorical, drift_share, stattest_threshold, max_rows)
    for name, frame in (("reference", reference), ("current", current)):
        if frame.height == 0:
            raise ValueError(
                f"drift report: the {name} frame is empty (0 rows); nothing to compare"
            )
        _validate_columns(name, frame, numeric, categorical)

    ref = _sample(reference, max_rows, seed)
    cur = _sample(current, max_rows, seed)
    for name, frame in (("reference", ref), ("current", cur)):
        null_only = [c for c in [*numeric, *categorical] if frame[c].null_count() == frame.height]
        if null_only:
            raise ValueError(
                f"drift report: column(s) {null_only} hold only nulls in the {name} frame "
                f"({frame.height:,} rows compared); Evidently cannot test an empty distribution"
            )

    features, html = _run_evidently(
        _to_pandas(ref, numeric, categorical),
        _to_pandas(cur, numeric, categorical),
        numeric=numeric,
        categorical=categorical,
        threshold=stattest_threshold,
    )
    drifted_share = sum(f.drifted for f in features) / len(features)
    return DriftReport(
        features=features,
        drifted_share=drifted_share,
        dataset_drift=drifted_share >= drift_share,
        drift_share=drift_share,
        reference_rows=ref.height,
        current_rows=cur.height,
        sampled=ref.height < reference.height or cur.height < current.height,
        html=html,
    )


def _validate_arguments(
    numeric: list[str],
    categorical: list[str],
    drift_share: float,
    stattest_threshold: float | None,
    max_rows: int,
) -> None:
    """Fail fast with a clear message rather than deep inside Evidently."""
    columns = [*numeric, *categorical]
    if not columns:
        raise ValueError("drift report: no columns to compare (numeric and categorical are empty)")
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise ValueError(f"drift report: column(s) {duplicated} listed more than once")
    if not 0 < drift_share <= 1:
        raise ValueError(f"drift report: drift_share must be in (0, 1], got {drift_share}")
    if stattest_threshold is not None and not stattest_threshold > 0:
        raise ValueError(
            f"drift report: stattest_threshold must be positive, got {stattest_threshold}"
        )
    if max_rows < 1:
        raise ValueError(f"drift report: max_rows must be at least 1, got {max_rows}")


def _validate_columns(
    name: str, frame: pl.DataFrame, numeric: list[str], categorical: list[str]
) -> None:
    """Check the columns exist and numeric columns are numeric, so Evidently never guesses."""
    missing = [c for c in [*numeric, *categorical] if c not in frame.columns]
    if missing:
        raise ValueError(f"drift report: column(s) {missing} missing from the {name} frame")
    not_numeric = [c for c in numeric if not frame.schema[c].is_numeric()]
    if not_numeric:
        raise ValueError(
            f"drift report: numeric column(s) {not_numeric} are not numeric in the {name} frame: "
            f"{[str(frame.schema[c]) for c in not_numeric]}"
        )


def _sample(frame: pl.DataFrame, max_rows: int, seed: int) -> pl.DataFrame:
    """Seeded sample without replacement, so a rerun on the same data gives the same report."""
    if frame.height <= max_rows:
        return frame
    return frame.sample(n=max_rows, seed=seed)


def _to_pandas(frame: pl.DataFrame, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    """Hand Evidently plain dtypes: float64 with NaN for numbers, str/None for categories.

    Nullable pandas dtypes (Int64) break Evidently's numpy code, and integer-coded categories
    are turned into strings so they are counted as labels, not as numbers.
    """
    return frame.select(
        *[pl.col(c).cast(pl.Float64) for c in numeric],
        *[pl.col(c).cast(pl.String) for c in categorical],
    ).to_pandas()


def _run_evidently(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    numeric: list[str],
    categorical: list[str],
    threshold: float | None,
) -> tuple[list[FeatureDrift], str]:
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
    by_column: dict[str, FeatureDrift] = {}
    numeric_set = set(numeric)
    for metric in result["metrics"]:
        config = metric["config"]
        if config.get("type") != _VALUE_DRIFT_TYPE:
            continue
        column = config["column"]
        status = status_by_metric.get(metric["id"])
        if status not in ("SUCCESS", "FAIL"):
            raise RuntimeError(f"Evidently gave no drift verdict for column {column!r}: {status}")
        by_column[column] = FeatureDrift(
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


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None
