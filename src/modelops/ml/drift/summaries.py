"""A column reduced to what every drift test needs: its distinct values and their counts.

A numeric column becomes its sorted distinct finite values with their counts (one numpy sort),
a categorical one a table of label counts (polars, or hashes for few string labels). Every
test, PSI included, is computed from these summaries, never from the rows again. NaN and ±inf
count as missing, as in Evidently.
"""

from __future__ import annotations

import numpy as np
import polars as pl

_HASH_MAX_LABELS = 64
"""Above this many labels a string column is counted with a polars group-by instead."""


def finite_values(series: pl.Series) -> tuple[np.ndarray, int]:
    """Finite non-null values as a fresh float64 array (safe to sort in place), and the rows."""
    n_rows = series.len()
    values = series.cast(pl.Float64).to_numpy()
    finite = np.isfinite(values)
    if not finite.all():
        return values[finite], n_rows
    # a read-only array is polars' own memory (zero-copy): copy before sorting in place
    return (values if values.flags.writeable else values.copy()), n_rows


def compress(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Distinct values of a sorted array and their counts (None when all distinct: continuous
    data then costs no second array)."""
    if len(sorted_values) == 0:
        return sorted_values, None
    starts = np.flatnonzero(sorted_values[1:] != sorted_values[:-1]) + 1
    if len(starts) == len(sorted_values) - 1:
        return sorted_values, None
    starts = np.concatenate([[0], starts])
    counts = np.diff(starts, append=len(sorted_values))
    return sorted_values[starts], counts.astype(np.int64)


def expand(values: np.ndarray, counts: np.ndarray | None) -> np.ndarray:
    """The sorted values again, each repeated as often as it occurs."""
    return values if counts is None else np.repeat(values, counts)


def align(keys: np.ndarray, values: np.ndarray, counts: np.ndarray | None) -> np.ndarray:
    """Counts of `values` placed on the sorted superset `keys` (0 where absent)."""
    out = np.zeros(len(keys), np.int64)
    out[np.searchsorted(keys, values)] = 1 if counts is None else counts
    return out


def category_counts(series: pl.Series, known: pl.Series | None) -> pl.DataFrame:
    """A (`key` String, `count` Int64) table of the column's non-null values.

    Labels are cast to strings after counting, so an integer-coded category costs no string
    cast per row. Float NaN/inf count as missing. Enum columns are counted on their codes,
    string columns through `_string_counts` when they have few labels; `known` are the
    reference's labels, used to name the hashes.
    """
    dtype = series.dtype
    if dtype.is_float():
        series = pl.select(pl.when(series.is_finite()).then(series)).to_series()
    if series.null_count():
        series = series.drop_nulls()
    if isinstance(dtype, pl.Enum):
        counts = np.bincount(series.to_physical().to_numpy(), minlength=len(dtype.categories))
        present = np.flatnonzero(counts)
        return pl.DataFrame(
            {"key": dtype.categories.gather(present), "count": counts[present]},
            schema={"key": pl.String, "count": pl.Int64},
        )
    if dtype == pl.String:
        table = _string_counts(series, known)
        if table is not None:
            return table
    return (
        series.alias("key")
        .to_frame()
        .group_by("key")
        .agg(pl.len().cast(pl.Int64).alias("count"))
        .with_columns(pl.col("key").cast(pl.String))
    )


def _string_counts(series: pl.Series, known: pl.Series | None) -> pl.DataFrame | None:
    """Count a low-cardinality string column by the 64-bit hash of each label.

    Hashing and sorting the hashes (numpy's SIMD sort) is about twice as fast as a polars
    group-by on strings. Each hash is named by a known (reference) label with that hash, or by
    the first row holding it. Returns None (use a group-by) above `_HASH_MAX_LABELS` labels or
    when two known labels share a hash. Two distinct labels sharing a 64-bit hash, one of them
    new, would be counted together: odds about 1e-17 per pair of labels.
    """
    hashes = series.hash().to_numpy()
    distinct, counts = np.unique(hashes, return_counts=True)
    if len(distinct) > _HASH_MAX_LABELS:
        return None
    labels: dict[int, str] = {}
    if known is not None:
        known_hashes = known.hash().to_list()
        if len(set(known_hashes)) != len(known_hashes):
            return None
        labels = dict(zip(known_hashes, known.to_list(), strict=True))
    keys = []
    for h in distinct.tolist():
        if h not in labels:
            labels[h] = series[int(np.argmax(hashes == h))]
        keys.append(labels[h])
    return pl.DataFrame(
        {"key": keys, "count": counts.astype(np.int64)},
        schema={"key": pl.String, "count": pl.Int64},
    )
