"""One reference column, summarised once, and its comparison with a current column.

A numeric column keeps its sorted distinct finite values with their counts, its population
standard deviation and its PSI bins; a categorical column its label counts. `compare` turns a
current column into the column's verdict (`stattests`) and its CSI, without the reference rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from modelops.ml.drift.psi import bin_counts, psi, quantile_edges, shares_with_missing
from modelops.ml.drift.result import ColumnDrift, FeatureKind
from modelops.ml.drift.stattests import (
    ALL_NULL_METHOD,
    LOW_CARDINALITY_MAX,
    choose_method,
    count_test,
    is_drifted,
    numeric_score,
    threshold_for,
)
from modelops.ml.drift.summaries import category_counts, compress, finite_values


@dataclass(frozen=True, eq=False)
class NumericReference:
    """A numeric reference column: distinct finite values (sorted) and how often each occurs."""

    values: np.ndarray
    counts: np.ndarray | None
    """None when every value occurs once (continuous data): saves a second array."""
    n_rows: int
    std: float
    psi_edges: np.ndarray
    psi_share: np.ndarray
    """Share of all reference rows per PSI bin, the missing bin last."""

    @classmethod
    def fit(cls, series: pl.Series, psi_bins: int) -> NumericReference:
        """One sort; the std (population, as `np.std`) from the distinct values and counts."""
        values, n_rows = finite_values(series)
        values.sort()
        distinct, counts = compress(values)
        edges = quantile_edges(values, psi_bins) if len(values) else np.empty(0)
        del values
        shares = shares_with_missing(bin_counts(distinct, counts, edges), n_rows)
        if len(distinct) == 0:
            std = math.nan
        else:
            weights = np.ones(len(distinct)) if counts is None else counts
            mean = np.dot(weights, distinct) / weights.sum()
            std = float(np.sqrt(np.dot(weights, (distinct - mean) ** 2) / weights.sum()))
        return cls(distinct, counts, n_rows, std, edges, shares)

    @property
    def n(self) -> int:
        """Non-null reference values."""
        return len(self.values) if self.counts is None else int(self.counts.sum())

    @property
    def n_values(self) -> int:
        """Distinct reference values."""
        return len(self.values)

    def compare(
        self, name: str, series: pl.Series, stattest_threshold: float | None
    ) -> ColumnDrift:
        values, n_rows = finite_values(series)
        m = len(values)
        null_share = 1 - m / n_rows
        if m == 0:
            empty = np.zeros(len(self.psi_share))
            empty[-1] = 1.0
            csi = psi(self.psi_share, empty)
            return _all_null(name, "numeric", self, stattest_threshold, csi, null_share)
        values.sort()
        cur_values, cur_counts = compress(values)
        del values
        cur_share = shares_with_missing(bin_counts(cur_values, cur_counts, self.psi_edges), n_rows)
        if self.n_values > LOW_CARDINALITY_MAX or len(cur_values) > LOW_CARDINALITY_MAX:
            n_values = LOW_CARDINALITY_MAX + 1  # only "more than 5" matters for numeric columns
        else:
            n_values = len(np.union1d(self.values, cur_values))
        method = choose_method("numeric", self.n, n_values)
        score = numeric_score(
            method, (self.values, self.counts), (cur_values, cur_counts), self.std
        )
        csi = psi(self.psi_share, cur_share)
        return _tested(name, "numeric", method, score, stattest_threshold, csi, null_share)


@dataclass(frozen=True, eq=False)
class CategoricalReference:
    """A categorical reference column: category labels (as strings) and their counts."""

    table: pl.DataFrame
    """Columns `key` (String) and `ref` (Int64), one row per non-null category."""
    n_rows: int

    @classmethod
    def fit(cls, series: pl.Series) -> CategoricalReference:
        return cls(category_counts(series, known=None).rename({"count": "ref"}), series.len())

    @property
    def n(self) -> int:
        """Non-null reference values."""
        return int(self.table["ref"].sum())

    @property
    def n_values(self) -> int:
        """Distinct reference labels."""
        return self.table.height

    def compare(
        self, name: str, series: pl.Series, stattest_threshold: float | None
    ) -> ColumnDrift:
        table = category_counts(series, known=self.table["key"])
        n_rows = series.len()
        m = int(table["count"].sum())
        null_share = 1 - m / n_rows
        # sorted by label, so that sums run in the same order whatever order the counts came in
        joined = self.table.join(table, on="key", how="full", coalesce=True).fill_null(0)
        joined = joined.sort("key")
        ref_counts = joined["ref"].to_numpy().astype(np.int64)
        cur_counts = joined["count"].to_numpy().astype(np.int64)
        ref_share = np.append(ref_counts / self.n_rows, 1 - self.n / self.n_rows)
        csi = psi(ref_share, np.append(cur_counts / n_rows, null_share))
        if m == 0:
            return _all_null(name, "categorical", self, stattest_threshold, csi, null_share)
        method = choose_method("categorical", self.n, joined.height)
        score = count_test(method, ref_counts, cur_counts)
        return _tested(name, "categorical", method, score, stattest_threshold, csi, null_share)


ColumnReference = NumericReference | CategoricalReference


def _tested(
    name: str,
    kind: FeatureKind,
    method: str,
    score: float,
    stattest_threshold: float | None,
    csi: float,
    null_share: float,
) -> ColumnDrift:
    threshold = threshold_for(method, stattest_threshold)
    drifted = is_drifted(method, score, threshold)
    return ColumnDrift(name, kind, method, score, threshold, drifted, csi, null_share)


def _all_null(
    name: str,
    kind: FeatureKind,
    ref: ColumnReference,
    stattest_threshold: float | None,
    csi: float,
    null_share: float,
) -> ColumnDrift:
    """A broken feature: drifted, whatever test the reference would have used."""
    threshold = threshold_for(choose_method(kind, ref.n, ref.n_values), stattest_threshold)
    return ColumnDrift(name, kind, ALL_NULL_METHOD, math.nan, threshold, True, csi, null_share)
