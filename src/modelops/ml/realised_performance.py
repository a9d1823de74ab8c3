"""How a month's scored applications turned out, once their outcomes are known.

A vintage's realised AUC, Gini, KS and calibration, next to the AUC the model had on its
holdout at release: the gap is how much the model has decayed in production.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from pydantic import TypeAdapter

from modelops.ml.duplicate_ids import latest_answers, require_unique_ids
from modelops.ml.estimated_performance import poisson_binomial_sd
from modelops.ml.metrics import BinaryMetrics, CalibrationBin, binary_metrics, calibration_table
from modelops.spec import UseCaseSpec

PERFORMANCE_FILE = "performance.json"


class NoOutcomesError(ValueError):
    """No scored application of the month has a known outcome of both classes."""


@dataclass(frozen=True, kw_only=True)
class RealisedPerformance(BinaryMetrics):
    """What `realised_performance` stores for a month (`performance.json`, flat: the headline
    metrics beside the fields below)."""

    month: str
    model_version: str
    """The version(s) that scored the month, comma-separated."""
    labelled_rows: int
    release_auc: float | None
    """The holdout AUC of the scoring version at release (one version only)."""
    calibration: tuple[CalibrationBin, ...]
    predicted_bad_rate: float | None = None
    """The mean score of the labelled rows: the bad rate the model predicted for them..."""
    predicted_bad_rate_sd: float | None = None
    """...and its standard deviation if the scores are calibrated (Poisson-binomial)."""

    @property
    def versions(self) -> list[str]:
        return self.model_version.split(",")

    @classmethod
    def from_json(cls, content: bytes) -> RealisedPerformance:
        return TypeAdapter(cls).validate_json(content)


def measure_realised_performance(
    scored: pl.DataFrame, outcomes: pl.DataFrame, spec: UseCaseSpec, month: str
) -> RealisedPerformance:
    """Join the month's model scores with their outcomes, one to one; `release_auc` is left
    for the caller to fill in from the registry (`dataclasses.replace`).

    An application answered twice (`scored` lists answers in the order given: the batch, then
    online decisions in time order) counts once, with its latest answer; outcomes that repeat
    an id are refused (`RepeatedIdsError`)."""
    assert spec.monitoring is not None
    id_column = spec.monitoring.id_column
    require_unique_ids(outcomes, id_column, file=f"{month}: the labels")
    label, known = outcome_label(spec)
    joined = (
        latest_answers(scored.filter(pl.col("score").is_not_null()), id_column)
        .join(outcomes, on=id_column, how="inner", validate="1:1")
        .filter(known)
        .with_columns(label.alias("label"))
    )
    if joined.height == 0 or joined.get_column("label").n_unique() < 2:
        raise NoOutcomesError(
            f"{month}: no scored application with a known outcome of both "
            "classes; realised performance needs both"
        )
    y, p = joined.get_column("label").to_numpy(), joined.get_column("score").to_numpy()
    versions = sorted(map(str, joined.get_column("model_version").unique().to_list()))
    return RealisedPerformance(
        month=month,
        model_version=",".join(versions),
        labelled_rows=joined.height,
        **binary_metrics(y, p).as_dict(),
        release_auc=None,
        calibration=tuple(calibration_table(y, p, 10)),
        predicted_bad_rate=float(p.mean()),
        predicted_bad_rate_sd=poisson_binomial_sd(p),
    )


def outcome_label(spec: UseCaseSpec) -> tuple[pl.Expr, pl.Expr]:
    """The label of a delivered outcome (its source header) and which outcomes count: a plain
    target's positive class; a mapped target's bad values, good and bad only (an excluded
    or unknown status is not an outcome yet)."""
    target = spec.target
    header = pl.col(spec.data_schema.column(str(target.column)).header).cast(pl.String)
    if target.form == "column":
        return (header == str(target.positive_class)).cast(pl.Int8), header.is_not_null()
    bad = [str(v) for v in target.bad_values or []]
    good = [str(v) for v in target.good_values or []]
    return header.is_in(bad).cast(pl.Int8), header.is_in(bad + good).fill_null(False)
