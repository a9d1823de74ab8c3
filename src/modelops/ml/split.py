"""The train/holdout split: seeded and stratified, or out-of-time on the declared date column.

Identical rows (kept when the spec's `schema.duplicates` allows them) always land on the same
side, so the holdout never scores a copy of a training row.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from modelops.spec import UseCaseSpec
from modelops.spec.columns import LABEL, ROW_ID


class SplitError(ValueError):
    """The data cannot give a usable training set and holdout (too few rows or one class)."""


def split_train_holdout(
    features: pl.DataFrame, spec: UseCaseSpec
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return (train, holdout). The same features and spec always give the same split."""
    if spec.split_strategy == "out_of_time":
        in_holdout = _out_of_time_mask(features, spec)
    else:
        in_holdout = _random_mask(features, spec)
    train, holdout = features.filter(~in_holdout), features.filter(in_holdout)
    for name, part in (("training set", train), ("holdout", holdout)):
        classes = part.get_column(LABEL).n_unique() if part.height else 0
        if classes < 2:
            raise SplitError(
                f"use case '{spec.id}': the {name} has {part.height} rows and {classes} class(es); "
                "a binary model needs both classes on each side of the split"
            )
    return train, holdout


def _random_mask(features: pl.DataFrame, spec: UseCaseSpec) -> pl.Series:
    """Draw the holdout among distinct rows, then give every copy its first row's side: the
    draw (and so the split of a file without copies) does not depend on how many copies
    there are."""
    first = _first_copy(features)
    distinct = np.unique(first)
    rng = np.random.default_rng(spec.split.seed)
    fraction = spec.split.holdout_fraction
    mask = np.zeros(len(distinct), dtype=bool)
    if spec.split.stratify:
        labels = features.get_column(LABEL).to_numpy()[distinct]
        for value in np.unique(labels):
            members = np.flatnonzero(labels == value)
            chosen = rng.permutation(members)[: round(len(members) * fraction)]
            mask[chosen] = True
    else:
        chosen = rng.permutation(len(distinct))[: round(len(distinct) * fraction)]
        mask[chosen] = True
    return pl.Series("in_holdout", mask[np.searchsorted(distinct, first)])


def _first_copy(features: pl.DataFrame) -> np.ndarray:
    """For each row, the position of the first row identical to it (itself when unique)."""
    values = [c for c in features.columns if c != ROW_ID]
    numbered = features.with_row_index("_position")
    return numbered.select(pl.col("_position").min().over(values)).to_series().to_numpy()


def _out_of_time_mask(features: pl.DataFrame, spec: UseCaseSpec) -> pl.Series:
    """The most recent `holdout_fraction` of rows by date: the model is judged on the future."""
    date_column = spec.data_schema.date_column
    assert date_column is not None  # guaranteed by the spec's cross-field rules
    dates = features.get_column(date_column)
    cutoff = dates.cast(pl.Int64).quantile(1 - spec.split.holdout_fraction, "nearest")
    # Rows without a date cannot be placed in time: they train, never judge.
    return (dates.cast(pl.Int64) >= cutoff).fill_null(False).alias("in_holdout")
