"""The profile of the data a model was trained on, per input: what a production month is judged
against before it is scored (a month whose amounts are a thousand times smaller, or whose
category has a new name, is an incident upstream, not a population that moved).

Small and plain (JSON in the serving bundle): ranges, quantiles and medians of numeric inputs,
shares of categories.
"""

from __future__ import annotations

import polars as pl
from pydantic import BaseModel, ConfigDict

from modelops.ml.training import MISSING_CATEGORY
from modelops.spec import UseCaseSpec


class NumericProfile(BaseModel):
    model_config = ConfigDict(frozen=True)

    minimum: float | None
    maximum: float | None
    median: float | None
    q01: float | None
    q99: float | None
    null_share: float


class CategoricalProfile(BaseModel):
    model_config = ConfigDict(frozen=True)

    shares: dict[str, float]
    """Category -> share of the training rows (a null is `MISSING_CATEGORY`)."""


class DataProfile(BaseModel):
    model_config = ConfigDict(frozen=True)

    rows: int
    numeric: dict[str, NumericProfile]
    categorical: dict[str, CategoricalProfile]

    @classmethod
    def fit(cls, frame: pl.DataFrame, spec: UseCaseSpec) -> DataProfile:
        numeric = {}
        for name in spec.numeric_features:
            if name not in frame.columns:
                continue
            column = frame.get_column(name).cast(pl.Float64).fill_nan(None)
            values = column.drop_nulls()
            numeric[name] = NumericProfile(
                minimum=values.min() if values.len() else None,  # type: ignore[arg-type]
                maximum=values.max() if values.len() else None,  # type: ignore[arg-type]
                median=values.median() if values.len() else None,  # type: ignore[arg-type]
                q01=values.quantile(0.01, "linear") if values.len() else None,
                q99=values.quantile(0.99, "linear") if values.len() else None,
                null_share=column.null_count() / frame.height if frame.height else 0.0,
            )
        categorical = {}
        for name in spec.categorical_features:
            if name not in frame.columns:
                continue
            counts = frame.get_column(name).cast(pl.String).fill_null(MISSING_CATEGORY)
            shares = counts.value_counts(normalize=True, name="share")
            categorical[name] = CategoricalProfile(
                shares={str(v): float(s) for v, s in shares.iter_rows()}
            )
        return cls(rows=frame.height, numeric=numeric, categorical=categorical)

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, data: bytes) -> DataProfile:
        return cls.model_validate_json(data)
