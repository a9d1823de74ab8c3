"""The rows of a scored month that may teach a model or form a drift reference: valid (not
quarantined) and not flagged as an outlier for a value outside anything seen in training.

Such a value (a unit slipped in one record, a typo) would spread its error into the next
model and make later months look drifted; the row is still answered, and reviewed one by one.
A row flagged only for a category the contract allows but training never saw is different:
that is a new segment, which the next model must learn, so it teaches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from modelops.names import PREDICTIONS, PRODUCTION_FEATURES, monthly
from modelops.spec import UseCaseSpec
from modelops.spec.columns import ROW_ID

if TYPE_CHECKING:
    from modelops.resources.storage import ArtifactStore


def trusted_features(store: ArtifactStore, spec: UseCaseSpec, month: str) -> pl.DataFrame:
    """The month's valid feature rows less its value outliers (all valid rows when the
    month has no stored predictions)."""
    features = store.read_table(spec.id, monthly(PRODUCTION_FEATURES, month))
    flagged = value_outlier_rows(store, spec, month)
    if flagged.is_empty():
        return features
    return features.filter(~pl.col(ROW_ID).is_in(flagged.implode()))


def value_outlier_rows(store: ArtifactStore, spec: UseCaseSpec, month: str) -> pl.Series:
    """The `row_id`s the month's predictions flagged as outliers for a numeric value (or
    flagged without saying why: answers stored before `outlier_inputs` existed)."""
    name = monthly(PREDICTIONS, month)
    if store.current_version(spec.id, name) is None:
        return pl.Series(ROW_ID, [], dtype=pl.Int64)
    answers = store.read_table(spec.id, name)
    if "outlier_flag" not in answers.columns:
        return pl.Series(ROW_ID, [], dtype=pl.Int64)
    flagged = answers.filter(pl.col("outlier_flag").fill_null(False))
    if "outlier_inputs" not in flagged.columns:
        return flagged.get_column(ROW_ID)
    numeric = list(spec.numeric_features)
    named = pl.col("outlier_inputs").fill_null("").str.split(", ")
    by_value = named.list.eval(pl.element().is_in(numeric)).list.any()
    unexplained = pl.col("outlier_inputs").is_null()
    return flagged.filter(by_value | unexplained).get_column(ROW_ID)
