"""The parts of the class-conditional Gaussian copula behind `SyntheticApplications`.

Within one target class, each value column has a marginal that maps a latent N(0,1) score to
a value (`NumericMarginal`, `CategoricalMarginal`), and the columns' latent scores are drawn
with the real rows' correlation (`ClassModel.cholesky`). The `fit_*` functions learn these from
the real rows of one class and return each row's normal score, from which the correlation is
estimated. Temporal columns are outside the copula: `TemporalRange` draws them uniformly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.special import ndtr, ndtri

from modelops.spec import Column

_MIN_EIGENVALUE = 1e-6


@dataclass(frozen=True, eq=False)
class NumericMarginal:
    """A numeric column within one class: the sorted real values define its quantile function."""

    sorted_values: np.ndarray
    null_rate: float
    integer: bool
    low: float | None
    high: float | None
    allowed: np.ndarray | None

    def sample(self, z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Latent N(0,1) scores to values (float64, NaN marks a null)."""
        n_values = len(self.sorted_values)
        if n_values == 0:
            return np.full(len(z), np.nan)
        # Linear interpolation between the order statistics placed at (i + 0.5) / n, computed
        # directly on that uniform grid: the same as np.interp, without its binary search.
        position = np.clip(ndtr(z).astype(np.float64) * n_values - 0.5, 0, n_values - 1)
        index = np.minimum(position.astype(np.intp), max(n_values - 2, 0))
        values = self.sorted_values[index]
        if n_values > 1:
            values += (position - index) * np.diff(self.sorted_values)[index]
        if self.integer:
            values = np.rint(values)
        if self.low is not None or self.high is not None:
            values = np.clip(values, self.low, self.high)
        if self.allowed is not None:
            values = _snap(values, self.allowed)
        if self.null_rate > 0:
            values[rng.random(len(z)) < self.null_rate] = np.nan
        return values


@dataclass(frozen=True, eq=False)
class CategoricalMarginal:
    """A categorical column within one class: categories in decreasing frequency, cut points on
    the latent normal scale between them, and each one's index among the column's categories."""

    cut_points: np.ndarray
    codes: np.ndarray

    def sample(self, z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Latent N(0,1) scores to category codes (indices into the column's categories)."""
        return self.codes[np.searchsorted(self.cut_points, z, side="right")]


Marginal = NumericMarginal | CategoricalMarginal


@dataclass(frozen=True, eq=False)
class ClassModel:
    """The copula of one target class: Cholesky factor of the latent correlation, marginals."""

    cholesky: np.ndarray
    marginals: tuple[Marginal, ...]


@dataclass(frozen=True)
class TemporalRange:
    """A date/datetime column drawn uniformly over the real range, on its physical integers."""

    low: int
    high: int
    dtype: pl.DataType
    parse_as: pl.DataType | None = None
    fmt: str | None = None

    def sample(self, n_rows: int, rng: np.random.Generator) -> pl.Series:
        physical = rng.integers(self.low, self.high + 1, size=n_rows)
        temporal = self.parse_as or self.dtype
        series = pl.Series(physical).cast(temporal)
        if self.parse_as is not None:
            series = series.dt.to_string(self.fmt) if self.fmt else series.cast(pl.String)
        return series


def fit_numeric(values: pl.Series, column: Column | None) -> tuple[NumericMarginal, np.ndarray]:
    """The class's quantile function and each row's normal score (nulls score 0, the median)."""
    non_null = values.drop_nulls()
    n_values = len(non_null)
    scores = np.zeros(len(values))
    if n_values:
        ranks = values.rank("average").to_numpy()
        present = ~np.isnan(ranks)
        scores[present] = ndtri((ranks[present] - 0.5) / n_values)
    allowed = None
    if column is not None and column.allowed is not None:
        numbers = [float(v) for v in column.allowed if not isinstance(v, str | bool)]
        allowed = np.sort(np.array(numbers)) if numbers else None
    marginal = NumericMarginal(
        sorted_values=np.sort(non_null.cast(pl.Float64).to_numpy()),
        null_rate=1 - n_values / len(values) if len(values) else 0.0,
        integer=values.dtype.is_integer(),
        low=column.min if column is not None else None,
        high=column.max if column is not None else None,
        allowed=allowed,
    )
    return marginal, scores


def fit_categorical(
    values: pl.Series, categories: pl.Series
) -> tuple[CategoricalMarginal, np.ndarray]:
    """Frequency-ordered cumulative distribution of the class's categories, and row scores."""
    n_categories = len(categories)
    codes = _category_codes(values, categories)
    counts = np.bincount(codes, minlength=n_categories).astype(np.float64)
    # Most frequent first; ties keep the categories' sorted order, for determinism.
    order = np.argsort(-counts, kind="stable")
    order = order[counts[order] > 0]
    p = counts[order] / counts.sum()
    cumulative = np.cumsum(p)
    cumulative[-1] = 1.0
    mid_scores = ndtri(cumulative - p / 2)
    rank_of_code = np.empty(n_categories, dtype=np.int64)
    rank_of_code[order] = np.arange(len(order))
    marginal = CategoricalMarginal(
        cut_points=ndtri(cumulative[:-1]).astype(np.float32),
        codes=order.astype(np.uint32),
    )
    return marginal, mid_scores[rank_of_code[codes]]


def _category_codes(values: pl.Series, categories: pl.Series) -> np.ndarray:
    """Index of each value in `categories` (sorted, a null last if the column has nulls)."""
    non_null = categories.drop_nulls()
    codes = values.replace_strict(
        non_null, pl.int_range(len(non_null), eager=True), return_dtype=pl.Int64
    )
    return codes.fill_null(len(non_null)).to_numpy()


def latent_cholesky(scores: np.ndarray) -> np.ndarray:
    """Cholesky factor of the normal scores' correlation, made positive definite.

    A column constant within the class has no correlation (NaN): it is made independent.
    """
    n_columns = scores.shape[1]
    if scores.shape[0] < 2 or n_columns == 0:
        return np.eye(n_columns, dtype=np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(scores, rowvar=False)
    corr = np.nan_to_num(np.atleast_2d(corr), nan=0.0)
    np.fill_diagonal(corr, 1.0)
    eigenvalues, eigenvectors = np.linalg.eigh(corr)
    if eigenvalues.min() < _MIN_EIGENVALUE:
        clipped = np.clip(eigenvalues, _MIN_EIGENVALUE, None)
        corr = (eigenvectors * clipped) @ eigenvectors.T
        scale = 1 / np.sqrt(np.diag(corr))
        corr = corr * scale[:, None] * scale[None, :]
    return np.linalg.cholesky(corr).astype(np.float32)


def fit_temporal(values: pl.Series, column: Column | None) -> TemporalRange:
    """The real range of a date/datetime column, parsed first if the source holds strings."""
    dtype = values.dtype
    parse_as: pl.DataType | None = None
    fmt = column.date_format if column is not None else None
    if dtype == pl.String:
        wants_datetime = column is not None and column.type == "datetime"
        parse_as = pl.Datetime("us") if wants_datetime else pl.Date()
        values = (
            values.str.to_datetime(fmt, strict=False)
            if wants_datetime
            else values.str.to_date(fmt, strict=False)
        )
    physical = values.drop_nulls().to_physical()
    if len(physical) == 0:
        raise ValueError(f"temporal column '{values.name}' has no parseable value to fit on")
    return TemporalRange(
        low=int(physical.min()),
        high=int(physical.max()),
        dtype=dtype,
        parse_as=parse_as,
        fmt=fmt,
    )


def _snap(values: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Each value replaced by the nearest allowed value."""
    upper = np.clip(np.searchsorted(allowed, values), 1, len(allowed) - 1)
    if len(allowed) == 1:
        return np.full_like(values, allowed[0])
    lower_values, upper_values = allowed[upper - 1], allowed[upper]
    return np.where(values - lower_values <= upper_values - values, lower_values, upper_values)
