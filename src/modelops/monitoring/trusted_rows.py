"""The rows of a scored month that may teach a model or form a drift reference: valid (not
quarantined) and not flagged as an outlier when the month was scored. An outlier is a value
the champion had never seen the like of (a unit slipped in one record, a typo); learning from
it, or comparing later months with it, would spread the error. Outliers are still answered,
and reviewed one by one."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from modelops.names import PREDICTIONS, PRODUCTION_FEATURES, monthly
from modelops.spec import UseCaseSpec
from modelops.spec.columns import ROW_ID

if TYPE_CHECKING:
    from modelops.resources.storage import ArtifactStore


def trusted_features(store: ArtifactStore, spec: UseCaseSpec, month: str) -> pl.DataFrame:
    """The month's valid feature rows less those its predictions flagged as outliers (all
    valid rows when the month has no stored predictions)."""
    features = store.read_table(spec.id, monthly(PRODUCTION_FEATURES, month))
    flagged = outlier_rows(store, spec, month)
    if flagged.is_empty():
        return features
    return features.filter(~pl.col(ROW_ID).is_in(flagged.implode()))


def outlier_rows(store: ArtifactStore, spec: UseCaseSpec, month: str) -> pl.Series:
    """The `row_id`s the month's predictions flagged as outliers."""
    name = monthly(PREDICTIONS, month)
    if store.current_version(spec.id, name) is None:
        return pl.Series(ROW_ID, [], dtype=pl.Int64)
    answers = store.read_table(spec.id, name)
    if "outlier_flag" not in answers.columns:
        return pl.Series(ROW_ID, [], dtype=pl.Int64)
    return answers.filter(pl.col("outlier_flag").fill_null(False)).get_column(ROW_ID)
