"""A fitted `ColumnTransformer` read input by input: which output columns each input feature
owns, and the numbers that compute them (fill value, centre, scale, band edges, category
table). The compiled preprocessing evaluates these blocks; the reason codes use the ownership
to sum a banded or one-hot feature's columns back into that feature."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    KBinsDiscretizer,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
)

from modelops.ml.scoring.errors import UnsupportedPreprocessing
from modelops.ml.training import MISSING_CATEGORY
from modelops.spec.model import UseCaseSpec

Encoded = tuple[Literal["value", "index"], np.ndarray]
"""A block's rows: the value of its single column, or the index of its one-hot column (-1 for
none)."""


@dataclass(frozen=True, eq=False)
class NumericBlock:
    """One numeric input: impute, then scale or band, as the fitted steps do."""

    feature: str
    offset: int
    width: int
    fill: float | None = None
    center: float | None = None
    scale: float | None = None
    edges: np.ndarray | None = None
    onehot: bool = False

    def encode(self, part: pl.DataFrame) -> Encoded:
        x = part.get_column(self.feature).cast(pl.Float64).to_numpy()
        if self.fill is not None:
            x = np.where(np.isnan(x), self.fill, x)
        if self.center is not None:
            x = x - self.center
        if self.scale is not None:
            x = x / self.scale
        if self.edges is None:
            return "value", x
        bins = np.searchsorted(self.edges, x, side="right")
        return ("index", bins) if self.onehot else ("value", bins.astype(np.float64))


@dataclass(frozen=True, eq=False)
class CategoricalBlock:
    """One categorical input: a category's output column (one-hot) or its code (ordinal)."""

    feature: str
    offset: int
    width: int
    table: dict[str, float]
    unknown: float
    onehot: bool

    def encode(self, part: pl.DataFrame) -> Encoded:
        column = part.get_column(self.feature)
        if self.onehot:
            return "index", category_lookup(column, self.table, self.unknown, integer=True)
        return "value", category_lookup(column, self.table, self.unknown)


Block = NumericBlock | CategoricalBlock


def category_lookup(
    series: pl.Series, table: dict[str, float], default: float, *, integer: bool = False
) -> np.ndarray:
    """Each row's value in `table`, the category read as `model_input_frame` reads it (a
    missing value is `MISSING_CATEGORY`); `default` for categories not in the table. Float64,
    or int64 with `integer` (table values that are column indexes)."""
    dtype = np.int64 if integer else np.float64
    if isinstance(series.dtype, pl.Enum):
        # An Enum's physical codes index its fixed category list: one gather, no strings.
        categories = series.dtype.categories.to_list()
        lut = np.array(
            [table.get(c, default) for c in categories] + [table.get(MISSING_CATEGORY, default)],
            dtype=dtype,
        )
        codes = series.to_physical().cast(pl.Int64).fill_null(len(categories))
        return lut[codes.to_numpy()]
    text = series.cast(pl.String).fill_null(MISSING_CATEGORY)
    mapped = text.replace_strict(
        list(table),
        list(table.values()),
        default=default,
        return_dtype=pl.Int64 if integer else pl.Float64,
    )
    return mapped.to_numpy().astype(dtype, copy=False)


def preprocess_step(pipeline: Pipeline) -> ColumnTransformer:
    """The pipeline's `ColumnTransformer`: the first of its two steps."""
    if not isinstance(pipeline, Pipeline) or not isinstance(pipeline[0], ColumnTransformer):
        raise UnsupportedPreprocessing("expected a Pipeline of a ColumnTransformer and a model")
    return pipeline[0]


def blocks_for(
    transformer: object, columns: list[str], offset: int, spec: UseCaseSpec
) -> list[Block]:
    """The blocks one ColumnTransformer entry produces, or UnsupportedPreprocessing."""
    if isinstance(transformer, Pipeline):
        steps = [s for _, s in transformer.steps if not _is_identity(s)]
    else:
        steps = [] if _is_identity(transformer) else [transformer]
    if len(steps) == 1 and isinstance(steps[0], OneHotEncoder | OrdinalEncoder):
        return _categorical_blocks(steps[0], columns, offset)
    numeric = set(spec.numeric_features)
    if not all(c in numeric for c in columns):
        raise UnsupportedPreprocessing(f"numeric steps {steps} on non-numeric columns {columns}")
    imputer = steps.pop(0) if steps and isinstance(steps[0], SimpleImputer) else None
    scaler = steps.pop(0) if steps and isinstance(steps[0], StandardScaler) else None
    binner = steps.pop(0) if steps and isinstance(steps[0], KBinsDiscretizer) else None
    if steps:
        raise UnsupportedPreprocessing(f"unsupported step(s) {steps}")
    if imputer is not None and (
        imputer.add_indicator or not np.all(np.isfinite(imputer.statistics_))
    ):
        raise UnsupportedPreprocessing("imputer with indicators or dropped empty columns")
    if binner is not None and (imputer is None or binner.dtype not in (None, np.float64)):
        raise UnsupportedPreprocessing("binning needs imputation first and float64 output")
    blocks: list[Block] = []
    for j, column in enumerate(columns):
        width = 1
        edges = None
        onehot = False
        if binner is not None:
            edges = np.asarray(binner.bin_edges_[j][1:-1], dtype=np.float64)
            onehot = binner.encode != "ordinal"
            width = int(binner.n_bins_[j]) if onehot else 1
        blocks.append(
            NumericBlock(
                feature=column,
                offset=offset,
                width=width,
                fill=float(imputer.statistics_[j]) if imputer is not None else None,
                center=float(scaler.mean_[j]) if scaler is not None and scaler.with_mean else None,
                scale=float(scaler.scale_[j]) if scaler is not None and scaler.with_std else None,
                edges=edges,
                onehot=onehot,
            )
        )
        offset += width
    return blocks


def _is_identity(step: object) -> bool:
    """'passthrough', which a fitted ColumnTransformer holds as a FunctionTransformer."""
    if step is None or (isinstance(step, str) and step == "passthrough"):
        return True
    return isinstance(step, FunctionTransformer) and step.func is None


def _categorical_blocks(
    encoder: OneHotEncoder | OrdinalEncoder, columns: list[str], offset: int
) -> list[Block]:
    if np.dtype(encoder.dtype) != np.float64:
        raise UnsupportedPreprocessing(f"encoder dtype {encoder.dtype}")
    if any(not all(isinstance(c, str) for c in cats) for cats in encoder.categories_):
        raise UnsupportedPreprocessing("categories that are not text")
    infrequent_enabled = encoder.min_frequency is not None or encoder.max_categories is not None
    blocks: list[Block] = []
    for j, column in enumerate(columns):
        categories = [str(c) for c in encoder.categories_[j]]
        if isinstance(encoder, OrdinalEncoder):
            if infrequent_enabled or encoder.handle_unknown != "use_encoded_value":
                raise UnsupportedPreprocessing("ordinal encoder without use_encoded_value")
            table = {c: float(i) for i, c in enumerate(categories)}
            blocks.append(
                CategoricalBlock(
                    column, offset, 1, table, float(encoder.unknown_value), onehot=False
                )
            )
            offset += 1
            continue
        if encoder.drop_idx_ is not None or encoder.handle_unknown not in (
            "ignore",
            "infrequent_if_exist",
        ):
            raise UnsupportedPreprocessing("one-hot encoder with drop or handle_unknown='error'")
        infrequent = encoder.infrequent_categories_[j] if infrequent_enabled else None
        rare = {str(c) for c in infrequent} if infrequent is not None else set()
        frequent = [c for c in categories if c not in rare]
        table = {c: float(i) for i, c in enumerate(frequent)}
        table.update({c: float(len(frequent)) for c in rare})
        unknown = -1.0
        if rare and encoder.handle_unknown == "infrequent_if_exist":
            unknown = float(len(frequent))
        width = len(frequent) + (1 if rare else 0)
        blocks.append(CategoricalBlock(column, offset, width, table, unknown, onehot=True))
        offset += width
    return blocks


def output_features(pipeline: Pipeline, spec: UseCaseSpec) -> list[str]:
    """The input feature each column of the encoded matrix comes from."""
    preprocess = preprocess_step(pipeline)
    owners: list[str] = []
    for name, transformer, columns in preprocess.transformers_:
        if isinstance(transformer, str) and transformer == "drop":
            continue
        out = preprocess.output_indices_[name]
        width = out.stop - out.start
        try:
            blocks = blocks_for(transformer, list(columns), out.start, spec)
            if sum(b.width for b in blocks) == width:
                owners.extend(b.feature for b in blocks for _ in range(b.width))
                continue
        except UnsupportedPreprocessing:
            pass
        # Any other step is attributable only if it maps each input to one output column.
        if width != len(columns):
            raise UnsupportedPreprocessing(
                f"cannot tell which input feature each of the {width} outputs "
                f"of transformer '{name}' ({transformer}) comes from"
            )
        owners.extend(columns)
    return owners
