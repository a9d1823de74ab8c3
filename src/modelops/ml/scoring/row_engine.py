"""Scoring a few applications at a time in plain Python and small numpy arrays.

A monthly batch is scored column by column (`answers.score_batch`): polars and numpy pay off
over thousands of rows. One online application would spend milliseconds in that machinery's
fixed costs, so here the same fitted numbers (the compiled preprocessing's blocks, the
model's coefficients, the reason codes, the outlier profiles) are applied row by row. The
scorer checks this engine against `score_batch` on the bundle's probe rows before trusting
it (`ApplicationScorer`), as the compiled preprocessing is checked against scikit-learn.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from modelops.ml.scoring.blocks import CategoricalBlock, NumericBlock
from modelops.ml.scoring.compiled import CompiledPreprocess, compiled_preprocess, encode
from modelops.ml.scoring.outliers import OutlierModel
from modelops.ml.scoring.reasons import ReasonCodes
from modelops.ml.scoring.row_expressions import (
    RowExpression,
    feature_value,
    verified_row_expression,
)
from modelops.ml.training import MISSING_CATEGORY
from modelops.spec import UseCaseSpec
from modelops.spec.columns import ROW_ID

Row = dict[str, object]
"""One application's values keyed by column name (model inputs after feature engineering)."""


@dataclass(frozen=True)
class RowScores:
    """What the model says about a few rows: scores, per-feature contributions, outliers."""

    scores: np.ndarray
    contributions: np.ndarray
    """Rows × `ReasonCodes.features`: each feature's push on the log-odds."""
    outlier_scores: list[float]


class RowEngine:
    """The fitted pipeline, reason codes and outlier model, applied to rows of Python values."""

    def __init__(
        self,
        spec: UseCaseSpec,
        pipeline: object,
        reasons: ReasonCodes,
        outliers: OutlierModel,
        compiled: CompiledPreprocess | None,
    ) -> None:
        self.spec = spec
        self.pipeline = pipeline
        self.reasons = reasons
        self.outliers = outliers
        self.compiled = compiled
        self.model = pipeline[-1]  # type: ignore[index]
        self._encoders = (
            [_block_encoder(b) for b in compiled.blocks] if compiled is not None else None
        )
        self._linear = _linear_parts(self.model, compiled)
        self._engineered = [
            (f.name, f.kind, pl.sql_expr(f.expression).alias(f.name))
            for f in spec.features.engineered
        ]
        self._row_expressions: tuple[object, list[RowExpression] | None] = (None, None)

    @classmethod
    def build(
        cls,
        spec: UseCaseSpec,
        *,
        pipeline: object,
        reasons: ReasonCodes,
        outliers: OutlierModel,
    ) -> RowEngine:
        """The engine on the compiled preprocessing when it is verified, else on
        scikit-learn's transform (slower, the same numbers)."""
        compiled = compiled_preprocess(pipeline, spec, reasons.probe)  # type: ignore[arg-type]
        return cls(spec, pipeline, reasons, outliers, compiled)

    # Features ----------------------------------------------------------------------------

    def with_engineered(self, rows: Sequence[Row], dtypes: dict[str, pl.DataType]) -> list[Row]:
        """Each row with the spec's engineered features added, computed by the same polars
        expressions as the batch features (one small frame for all rows)."""
        if not self._engineered or not rows:
            return [dict(r) for r in rows]
        fast = self._compiled_expressions(dtypes)
        if fast is not None:
            try:
                return [self._with_compiled(row, fast) for row in rows]
            except Exception:  # an unexpected value: polars decides, as for the batch
                pass
        frame = pl.DataFrame(
            {name: [r.get(name) for r in rows] for name in dtypes},
            schema=dtypes,
        )
        computed = frame.select([expr for _, _, expr in self._engineered])
        out = []
        for row, extra in zip(rows, computed.iter_rows(named=True), strict=True):
            merged = dict(row)
            for name, kind, _ in self._engineered:
                value = extra[name]
                if kind == "numeric":
                    value = float(value) if value is not None and math.isfinite(value) else None
                elif value is not None:
                    value = str(value)
                merged[name] = value
            out.append(merged)
        return out

    def _compiled_expressions(self, dtypes: dict[str, pl.DataType]) -> list[RowExpression] | None:
        """Every engineered expression as a verified Python closure (`row_expressions`), or
        None when any is outside the compiled subset; built once per `dtypes` mapping."""
        known, compiled = self._row_expressions
        if known is not dtypes:
            samples = {c.name: c.allowed for c in self.spec.data_schema.columns if c.allowed}
            found = [
                verified_row_expression(f.expression, f.kind, dtypes, samples)
                for f in self.spec.features.engineered
            ]
            compiled = None if any(f is None for f in found) else found  # type: ignore[assignment]
            self._row_expressions = (dtypes, compiled)
        return compiled

    def _with_compiled(self, row: Row, expressions: list[RowExpression]) -> Row:
        merged = dict(row)
        for (name, kind, _), expression in zip(self._engineered, expressions, strict=True):
            merged[name] = feature_value(expression(row), kind)
        return merged

    # Scoring -----------------------------------------------------------------------------

    def score(self, rows: Sequence[Row]) -> RowScores:
        matrix = self._matrix(rows)
        if self._linear is not None:
            weights, intercept = self._linear
            margin = np.asarray(matrix @ weights).ravel() + intercept
            scores = 1.0 / (1.0 + np.exp(-margin))
        else:  # the model sees the format it was fitted on
            fitted_on = (
                sparse.csr_matrix(matrix)
                if self.compiled is not None and self.compiled.sparse_output
                else matrix
            )
            scores = np.asarray(self.model.predict_proba(fitted_on)[:, 1], dtype=np.float64)
        return RowScores(
            scores=scores,
            contributions=np.atleast_2d(self.reasons.contributions(matrix, self.model)),
            outlier_scores=[self._outlier_score(row) for row in rows],
        )

    def _matrix(self, rows: Sequence[Row]) -> np.ndarray | sparse.csr_matrix:
        if self._encoders is None or self.compiled is None:
            frame = feature_frame(rows, self.spec)
            return encode(self.pipeline, frame, self.spec, None)  # type: ignore[arg-type]
        out = np.zeros((len(rows), self.compiled.width))
        for i, row in enumerate(rows):
            line = out[i]
            for write in self._encoders:
                write(row, line)
        return out  # dense: a dot product needs no sparse structure for a few rows

    def _outlier_score(self, row: Row) -> float:
        model = self.outliers
        cap = model.cap
        best = 0.0
        for p in model.numeric:
            value = row.get(p.feature)
            if value is None:
                z = p.missing_score
            else:
                x = float(value)  # type: ignore[arg-type]
                if math.isnan(x):
                    z = p.missing_score
                else:
                    deviation = x - p.median
                    z = deviation / p.upper_scale if deviation >= 0 else -deviation / p.lower_scale
                    z = cap if math.isnan(z) else min(max(z, 0.0), cap)
            best = max(best, z)
        for c in model.categorical:
            value = row.get(c.feature)
            z = c.missing_score if value is None else c.scores.get(str(value), cap)
            best = max(best, z)
        return float(best)


def top_reasons(contributions: Sequence[float], features: Sequence[str], top_k: int) -> list[int]:
    """Indexes of the `top_k` features pushing the score up most, as `ReasonCodes.top_reasons`
    orders them (largest first, the earlier feature on ties, only positive pushes)."""
    order = sorted(range(len(contributions)), key=lambda j: (-contributions[j], j))
    return [j for j in order[:top_k] if contributions[j] > 0]


def _block_encoder(block: NumericBlock | CategoricalBlock) -> Callable[[Row, np.ndarray], None]:
    """A function writing one block's columns of one row into the row's output line."""
    feature, offset = block.feature, block.offset
    if isinstance(block, CategoricalBlock):
        table, unknown, onehot = block.table, block.unknown, block.onehot

        def categorical(row: Row, line: np.ndarray) -> None:
            value = row.get(feature)
            key = MISSING_CATEGORY if value is None else str(value)
            code = table.get(key, unknown)
            if onehot:
                if code >= 0:
                    line[offset + int(code)] = 1.0
            else:
                line[offset] = code

        return categorical
    fill, center, scale = block.fill, block.center, block.scale
    edges = None if block.edges is None else [float(e) for e in block.edges]
    onehot = block.onehot

    def numeric(row: Row, line: np.ndarray) -> None:
        value = row.get(feature)
        x = math.nan if value is None else float(value)  # type: ignore[arg-type]
        if fill is not None and math.isnan(x):
            x = fill
        if center is not None:
            x = x - center
        if scale is not None:
            x = x / scale
        if edges is None:
            line[offset] = x
            return
        band = bisect_right(edges, x) if not math.isnan(x) else len(edges)
        if onehot:
            line[offset + band] = 1.0
        else:
            line[offset] = float(band)

    return numeric


def _linear_parts(
    model: object, compiled: CompiledPreprocess | None
) -> tuple[np.ndarray, float] | None:
    """A binary logistic regression's coefficients and intercept: the score is one dot product
    (what `predict_proba` computes, without its input checks)."""
    if compiled is None or type(model) is not LogisticRegression:
        return None
    coef = np.asarray(model.coef_, dtype=np.float64)
    if coef.shape != (1, compiled.width) or len(model.classes_) != 2:
        return None
    return np.ascontiguousarray(coef[0]), float(np.asarray(model.intercept_)[0])


def feature_frame(rows: Sequence[Row], spec: UseCaseSpec) -> pl.DataFrame:
    """Rows of model inputs as the feature table scikit-learn's transform reads."""
    columns: dict[str, pl.Series] = {
        ROW_ID: pl.Series(ROW_ID, list(range(len(rows))), dtype=pl.Int64)
    }
    for name in spec.numeric_features:
        columns[name] = pl.Series(name, [row.get(name) for row in rows], dtype=pl.Float64)
    for name in spec.categorical_features:
        values = [None if row.get(name) is None else str(row.get(name)) for row in rows]
        columns[name] = pl.Series(name, values, dtype=pl.String)
    return pl.DataFrame(list(columns.values()))
