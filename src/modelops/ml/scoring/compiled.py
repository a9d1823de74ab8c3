"""The fitted scikit-learn preprocessing re-expressed as numpy lookups on the polars feature
table, and checked against scikit-learn before it is trusted.

It builds the same matrix, value for value and in the same sparse/dense format, several times
faster than `ColumnTransformer.transform` on pandas: that is what pays for the reason codes and
outlier scores at scoring time (benchmarks/scoring_throughput.py). When the preprocessing has a
step it cannot re-express, or the check fails, scoring uses scikit-learn's own transform.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import sparse
from sklearn.pipeline import Pipeline

from modelops.ml.scoring.blocks import Block, blocks_for, preprocess_step
from modelops.ml.scoring.errors import ScoringWarning, UnsupportedPreprocessing
from modelops.ml.training import model_input_frame
from modelops.spec.model import UseCaseSpec

Matrix = np.ndarray | sparse.csr_matrix
"""The model's input: what the pipeline's preprocessing gives."""


@dataclass(frozen=True, eq=False)
class CompiledPreprocess:
    """A fitted `ColumnTransformer` re-expressed as numpy lookups on the polars feature table.

    Supported: numeric chains of `SimpleImputer` → `StandardScaler` and/or `KBinsDiscretizer`
    (or passthrough), `OneHotEncoder` (ignore unknown, infrequent categories) and
    `OrdinalEncoder` — the three preprocessing families of `ml.training`. `matches` checks
    the matrix against scikit-learn's on real and edge-case rows before it is used.
    """

    blocks: tuple[Block, ...]
    width: int
    sparse_output: bool

    @classmethod
    def from_pipeline(cls, pipeline: Pipeline, spec: UseCaseSpec) -> CompiledPreprocess:
        preprocess = preprocess_step(pipeline)
        if preprocess.transformer_weights:
            raise UnsupportedPreprocessing("transformer_weights are not supported")
        blocks: list[Block] = []
        for name, transformer, columns in preprocess.transformers_:
            if isinstance(transformer, str) and transformer == "drop":
                continue
            out = preprocess.output_indices_[name]
            if out.stop == out.start:
                continue
            made = blocks_for(transformer, list(columns), out.start, spec)
            if sum(b.width for b in made) != out.stop - out.start:
                raise UnsupportedPreprocessing(
                    f"transformer '{name}' gives {out.stop - out.start} columns; "
                    f"expected {sum(b.width for b in made)}"
                )
            blocks.extend(made)
        blocks.sort(key=lambda b: b.offset)
        width = sum(b.width for b in blocks)
        model = pipeline[-1]
        if getattr(model, "n_features_in_", width) != width:
            raise UnsupportedPreprocessing(
                f"the model takes {model.n_features_in_} columns, the preprocessing gives {width}"
            )
        return cls(tuple(blocks), width, bool(preprocess.sparse_output_))

    def transform(self, part: pl.DataFrame) -> Matrix:
        """The model's input matrix for a slice of the feature table."""
        n = part.height
        encoded = [(b, *b.encode(part)) for b in self.blocks]
        if not self.sparse_output:
            out = np.zeros((n, self.width))
            for block, kind, values in encoded:
                if kind == "value":
                    out[:, block.offset] = values
                else:
                    rows = np.flatnonzero(values >= 0)
                    out[rows, block.offset + values[rows]] = 1.0
            return out
        # CSR built directly: one candidate entry per (row, block), in column order per row.
        # Filled block-major (contiguous writes), then laid out row-major in one copy each.
        columns = np.empty((len(encoded), n), dtype=np.int32)
        data = np.ones((len(encoded), n))
        keep = np.empty((len(encoded), n), dtype=bool)
        for j, (block, kind, values) in enumerate(encoded):
            if kind == "value":
                columns[j] = block.offset
                data[j] = values
                np.not_equal(values, 0, out=keep[j])
            else:
                np.add(values, block.offset, out=columns[j], casting="unsafe")
                np.greater_equal(values, 0, out=keep[j])
        columns, data, keep = (np.ascontiguousarray(a.T) for a in (columns, data, keep))
        if keep.all():  # the usual case: every block has an entry in every row
            indptr = np.arange(0, n * len(encoded) + 1, len(encoded), dtype=np.int32)
            return sparse.csr_matrix((data.ravel(), columns.ravel(), indptr), shape=(n, self.width))
        indptr = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(keep.sum(axis=1), out=indptr[1:])
        return sparse.csr_matrix((data[keep], columns[keep], indptr), shape=(n, self.width))

    def matches(self, pipeline: Pipeline, frame: pl.DataFrame, spec: UseCaseSpec) -> bool:
        """Whether this gives scikit-learn's matrix on `frame`: the same format, and the same
        stored values in the same order, so the model computes the same scores bit for bit."""
        reference = preprocess_step(pipeline).transform(model_input_frame(frame, spec))
        mine = self.transform(frame)
        if sparse.issparse(reference) != sparse.issparse(mine) or reference.shape != mine.shape:
            return False
        if not sparse.issparse(reference):
            return np.array_equal(np.asarray(reference), mine, equal_nan=True)
        reference = reference.tocsr()
        return (
            np.array_equal(reference.indptr, mine.indptr)
            and np.array_equal(reference.indices, mine.indices)
            and np.array_equal(reference.data, mine.data, equal_nan=True)
        )


VERIFY_ROWS = 64


def compiled_preprocess(
    pipeline: Pipeline, spec: UseCaseSpec, *references: pl.DataFrame
) -> CompiledPreprocess | None:
    """The compiled preprocessing if the pipeline's is supported and reproduces scikit-learn
    exactly on the first rows of each `references` frame and on edge cases (a missing value in
    each input, an unseen category in each categorical); None otherwise: use scikit-learn."""
    try:
        compiled = CompiledPreprocess.from_pipeline(pipeline, spec)
    except UnsupportedPreprocessing:
        return None
    frames = [r.head(VERIFY_ROWS) for r in references if r.height]
    if not frames:
        return None  # nothing to verify on
    first = (
        frames[0].head(1).with_columns(pl.col(c).cast(pl.String) for c in spec.categorical_features)
    )
    edges = [
        first.with_columns(pl.lit(None, dtype=pl.Float64).alias(c)) for c in spec.numeric_features
    ]
    for c in spec.categorical_features:
        edges.append(first.with_columns(pl.lit(None, dtype=pl.String).alias(c)))
        edges.append(first.with_columns(pl.lit("\u2400 unseen category").alias(c)))
    frames.append(pl.concat(edges, how="vertical"))
    try:
        if all(compiled.matches(pipeline, frame, spec) for frame in frames):
            return compiled
    except Exception as exc:  # scikit-learn refuses the edge rows: stay on its own path
        warnings.warn(f"compiled preprocessing not verified: {exc}", ScoringWarning, stacklevel=2)
        return None
    warnings.warn(
        "compiled preprocessing differs from scikit-learn's; scoring with scikit-learn",
        ScoringWarning,
        stacklevel=2,
    )
    return None


def encode(
    pipeline: Pipeline, part: pl.DataFrame, spec: UseCaseSpec, compiled: CompiledPreprocess | None
) -> Matrix:
    """The model's input matrix for a slice: compiled when given, else scikit-learn's."""
    if compiled is not None:
        return compiled.transform(part)
    matrix = preprocess_step(pipeline).transform(model_input_frame(part, spec))
    return matrix.tocsr() if sparse.issparse(matrix) else np.asarray(matrix)
