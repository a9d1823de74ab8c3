"""Production scoring: per application the model version, the score, the decision, the reasons
behind the score (M16), how unusual the application is (M15) and a fallback answer (M19).

The score is the model's probability of the positive class (for credit: the loan turns bad).
Decisions follow the spec's intended use, "support, not replace, a credit officer's
decision": a score at or above the operating threshold is `refer` (a person reviews the
application), anything else is `accept`. The model never declines on its own, and every
answer that is not a model score (no model, input that failed validation) is `refer` too.

Reason codes are per-feature contributions to the score in log-odds, relative to the average
training application, summed back to the spec's feature names (a banded or one-hot feature's
columns add up to that feature). For a linear model on the encoded inputs they are exact:
`coef_j * (x_j - mean_j)`, one matrix product per slice. For other models (gradient boosting)
they come from an additive surrogate whose fidelity to the model is measured and reported.
The top reasons are the features pushing the score most towards the positive class.

Scoring a batch encodes each slice of rows once and uses that matrix for both the score and the
contributions. The fitted scikit-learn preprocessing is also re-expressed as numpy lookups
(`CompiledPreprocess`), checked against scikit-learn on every call: it builds the same matrix
several times faster than `ColumnTransformer.transform` on pandas, which is what pays for the
reasons and outlier scores (benchmarks/scoring_throughput.py).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal

import numpy as np
import polars as pl
from scipy import sparse
from scipy.special import expit, logit, ndtri
from scipy.stats import spearmanr
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

from modelops.ml import training
from modelops.ml.training import MISSING_CATEGORY, model_input_frame
from modelops.spec.columns import ROW_ID
from modelops.spec.model import UseCaseSpec

ACCEPT = "accept"
"""The score is below the operating threshold."""
REFER = "refer"
"""A credit officer reviews the application: the score is at or above the threshold, or there
is no model score (fallback)."""

DEFAULT_OUTLIER_THRESHOLD = 6.0
"""Robust standard deviations from the training median beyond which a row is flagged, when the
spec has no `monitoring.outlier_threshold`."""

Matrix = np.ndarray | sparse.csr_matrix


class ScoringError(ValueError):
    """Scoring cannot proceed as asked (reason codes fitted on another model, bad arguments)."""


class UnsupportedPreprocessing(TypeError):
    """The pipeline's preprocessing has a step this module cannot re-express or attribute."""


class ScoringWarning(UserWarning):
    """Scoring took a slower but still correct path."""


def prediction_schema(top_k: int = 3) -> pl.Schema:
    """The columns every answer has, model score or fallback alike."""
    return pl.Schema(
        {
            ROW_ID: pl.Int64,
            "model_version": pl.String,
            "score": pl.Float64,
            "decision": pl.String,
            **{f"reason_{i}": pl.String for i in range(1, top_k + 1)},
            "outlier_score": pl.Float64,
            "outlier_flag": pl.Boolean,
            "scored_at": pl.Datetime("us", "UTC"),
        }
    )


# Compiled preprocessing ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _NumericBlock:
    """One numeric input: impute, then scale or band, as the fitted steps do."""

    feature: str
    offset: int
    width: int
    fill: float | None = None
    center: float | None = None
    scale: float | None = None
    edges: np.ndarray | None = None
    onehot: bool = False

    def encode(self, part: pl.DataFrame) -> tuple[Literal["value", "index"], np.ndarray]:
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
class _CategoricalBlock:
    """One categorical input: a category's output column (one-hot) or its code (ordinal)."""

    feature: str
    offset: int
    width: int
    table: dict[str, float]
    unknown: float
    onehot: bool

    def encode(self, part: pl.DataFrame) -> tuple[Literal["value", "index"], np.ndarray]:
        column = part.get_column(self.feature)
        if self.onehot:
            return "index", _category_lookup(column, self.table, self.unknown, integer=True)
        return "value", _category_lookup(column, self.table, self.unknown)


def _category_lookup(
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


Block = _NumericBlock | _CategoricalBlock


@dataclass(frozen=True, eq=False)
class CompiledPreprocess:
    """A fitted `ColumnTransformer` re-expressed as numpy lookups on the polars feature table.

    Supported: numeric chains of `SimpleImputer` → `StandardScaler` and/or `KBinsDiscretizer`
    (or passthrough), `OneHotEncoder` (ignore unknown, infrequent categories) and
    `OrdinalEncoder` — the three preprocessing families of `ml.training`. The matrix is the
    same, value for value and in the same sparse/dense format, as scikit-learn's; `matches`
    checks that on real and edge-case rows before it is used.
    """

    blocks: tuple[Block, ...]
    width: int
    sparse_output: bool

    @classmethod
    def from_pipeline(cls, pipeline: Pipeline, spec: UseCaseSpec) -> CompiledPreprocess:
        preprocess = _preprocess_step(pipeline)
        if preprocess.transformer_weights:
            raise UnsupportedPreprocessing("transformer_weights are not supported")
        blocks: list[Block] = []
        for name, transformer, columns in preprocess.transformers_:
            if isinstance(transformer, str) and transformer == "drop":
                continue
            out = preprocess.output_indices_[name]
            if out.stop == out.start:
                continue
            made = _blocks_for(transformer, list(columns), out.start, spec)
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
        reference = _preprocess_step(pipeline).transform(model_input_frame(frame, spec))
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


def _preprocess_step(pipeline: Pipeline) -> ColumnTransformer:
    if not isinstance(pipeline, Pipeline) or not isinstance(pipeline[0], ColumnTransformer):
        raise UnsupportedPreprocessing("expected a Pipeline of a ColumnTransformer and a model")
    return pipeline[0]


def _blocks_for(
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
            _NumericBlock(
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
                _CategoricalBlock(
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
        blocks.append(_CategoricalBlock(column, offset, width, table, unknown, onehot=True))
        offset += width
    return blocks


def _output_features(pipeline: Pipeline, spec: UseCaseSpec) -> list[str]:
    """The input feature each column of the encoded matrix comes from."""
    preprocess = _preprocess_step(pipeline)
    owners: list[str] = []
    for name, transformer, columns in preprocess.transformers_:
        if isinstance(transformer, str) and transformer == "drop":
            continue
        out = preprocess.output_indices_[name]
        width = out.stop - out.start
        try:
            blocks = _blocks_for(transformer, list(columns), out.start, spec)
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


def _encode(
    pipeline: Pipeline, part: pl.DataFrame, spec: UseCaseSpec, compiled: CompiledPreprocess | None
) -> Matrix:
    if compiled is not None:
        return compiled.transform(part)
    matrix = _preprocess_step(pipeline).transform(model_input_frame(part, spec))
    return matrix.tocsr() if sparse.issparse(matrix) else np.asarray(matrix)


# Reason codes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fidelity:
    """How well the contributions (plus the baseline) reproduce the model's log-odds on the
    training set: 1.0 and 1.0 for an exact linear decomposition."""

    r2: float
    spearman: float


@dataclass(frozen=True, eq=False)
class _BinnedColumn:
    """One encoded column of the surrogate: a value per bin, and one for a missing value."""

    column: int
    edges: np.ndarray
    table: np.ndarray

    def bins(self, x: np.ndarray) -> np.ndarray:
        bins = np.searchsorted(self.edges, x, side="right")
        bins[np.isnan(x)] = len(self.edges) + 1
        return bins


PROBE_ROWS = 32


@dataclass(frozen=True, eq=False)
class ReasonCodes:
    """Per-feature contributions to the score (log-odds), and the top reasons per row."""

    features: tuple[str, ...]
    """The spec's feature names, in the order of the contribution columns."""
    method: Literal["linear", "surrogate"]
    """`linear`: exact, from the model's coefficients. `surrogate`: an additive model fitted to
    the model's training log-odds; see `fidelity`."""
    baseline: float
    """Log-odds of a row whose contributions are all zero: the intercept plus each feature's
    training-mean term."""
    fidelity: Fidelity
    owner: np.ndarray = field(repr=False)
    """Index into `features` of each encoded column."""
    weights: np.ndarray | None = field(repr=False)
    """Linear: encoded columns × features, coefficient j in its feature's column."""
    offsets: np.ndarray = field(repr=False)
    """Linear: each feature's training-mean term, subtracted from `matrix @ weights`."""
    binned: tuple[_BinnedColumn, ...] = field(repr=False)
    """Surrogate: per encoded column, the centred log-odds of each bin."""
    probe: pl.DataFrame = field(repr=False)
    """A few training rows and the model's scores on them: the model these codes explain."""
    probe_scores: np.ndarray = field(repr=False)

    @classmethod
    def fit(
        cls,
        pipeline: Pipeline,
        train_features: pl.DataFrame,
        spec: UseCaseSpec,
        *,
        surrogate_bins: int = 16,
        surrogate_alpha: float = 1.0,
        max_rows: int = 200_000,
        seed: int = 0,
    ) -> ReasonCodes:
        """Exact for a linear model with a logistic link; otherwise fit the surrogate.

        The surrogate is a ridge regression of the model's log-odds on one-hot bins of each
        encoded column (quantile bins for many distinct values, one bin per value otherwise,
        one for missing), i.e. a sum of per-feature step functions: cheap to evaluate (a
        lookup per column) and interpretable like a scorecard.

        The training means (linear) and the surrogate come from at most `max_rows` training
        rows, a seeded sample of larger sets. A few training rows and the model's scores on
        them are kept (`probe`), so that scoring can refuse another model.
        """
        owners = _output_features(pipeline, spec)
        features = tuple(dict.fromkeys(owners))
        owner = np.array([features.index(o) for o in owners], dtype=np.int64)
        model = pipeline[-1]
        frame = train_features
        if frame.height > max_rows:
            frame = frame.sample(max_rows, seed=seed)
        matrix = _encode(pipeline, frame, spec, None)
        proba = model.predict_proba(matrix)[:, 1]
        target = logit(np.clip(proba, 1e-12, 1 - 1e-12))
        probe = frame.head(PROBE_ROWS).select(ROW_ID, *spec.model_inputs)
        probe_scores = proba[: probe.height].copy()

        coef = getattr(model, "coef_", None)
        intercept = getattr(model, "intercept_", None)
        if coef is not None and intercept is not None and np.shape(coef) == (1, len(owner)):
            coef = np.asarray(coef, dtype=np.float64).ravel()
            decision = np.asarray(matrix @ coef).ravel() + float(np.ravel(intercept)[0])
            # Exact only if the model's probability is the logistic of its linear score.
            if np.allclose(expit(decision), proba, rtol=1e-9, atol=1e-12):
                weights = np.zeros((len(owner), len(features)))
                weights[np.arange(len(owner)), owner] = coef
                means = np.asarray(matrix.mean(axis=0)).ravel()
                offsets = weights.T @ means
                baseline = float(np.ravel(intercept)[0]) + float(offsets.sum())
                codes = cls(
                    features,
                    "linear",
                    baseline,
                    Fidelity(1.0, 1.0),
                    owner,
                    weights,
                    offsets,
                    (),
                    probe,
                    probe_scores,
                )
                return codes.with_fidelity(matrix, target)

        binned, baseline = _fit_surrogate(matrix, target, surrogate_bins, surrogate_alpha)
        codes = cls(
            features,
            "surrogate",
            baseline,
            Fidelity(0.0, 0.0),
            owner,
            None,
            np.zeros(len(features)),
            binned,
            probe,
            probe_scores,
        )
        return codes.with_fidelity(matrix, target)

    def with_fidelity(self, matrix: Matrix, target: np.ndarray) -> ReasonCodes:
        """A copy with `fidelity` measured against the model's log-odds `target`."""
        approx = self.baseline + self.contributions(matrix).sum(axis=1)
        total = float(np.sum((target - target.mean()) ** 2))
        r2 = 1 - float(np.sum((target - approx) ** 2)) / total if total > 0 else 1.0
        rho = float(spearmanr(approx, target).statistic) if len(target) > 2 else 1.0
        return replace(self, fidelity=Fidelity(r2, rho))

    def check(self, pipeline: Pipeline, spec: UseCaseSpec) -> None:
        """Refuse a pipeline other than the one these codes were fitted on."""
        scores = pipeline.predict_proba(model_input_frame(self.probe, spec))[:, 1]
        if not np.allclose(scores, self.probe_scores, rtol=0, atol=1e-9):
            raise ScoringError(
                "the reason codes were fitted on another model: refit them with this pipeline"
            )

    def contributions(self, matrix: Matrix) -> np.ndarray:
        """Rows × features: each feature's push on the log-odds, relative to training."""
        if self.weights is not None:
            return np.asarray(matrix @ self.weights) - self.offsets
        # Feature-major, so that every column read and every sum is contiguous.
        dense = matrix.toarray() if sparse.issparse(matrix) else np.asarray(matrix)
        columns = np.ascontiguousarray(dense.T)
        out = np.zeros((len(self.features), matrix.shape[0]))
        for binned in self.binned:
            out[self.owner[binned.column]] += binned.table[binned.bins(columns[binned.column])]
        return out.T

    def explain(
        self, features: pl.DataFrame, *, pipeline: Pipeline, spec: UseCaseSpec
    ) -> pl.DataFrame:
        """`row_id`, `baseline` and one contribution column per feature, for analysis."""
        matrix = _encode(pipeline, features, spec, None)
        values = self.contributions(matrix)
        return pl.DataFrame(
            [
                features.get_column(ROW_ID),
                pl.Series("baseline", np.full(features.height, self.baseline)),
                *[pl.Series(name, values[:, j]) for j, name in enumerate(self.features)],
            ]
        )

    def top_reasons(self, contributions: np.ndarray, top_k: int) -> list[pl.Series]:
        """`top_k` columns of feature names, largest positive contribution first; null where
        fewer features push towards the positive class. Ties go to the earlier feature."""
        n_rows, n_features = contributions.shape
        names = pl.Series([*self.features, None], dtype=pl.String)
        remaining = np.array(contributions, dtype=np.float64, order="C")  # a copy
        flat = remaining.ravel()  # a view
        row_starts = np.arange(n_rows) * n_features
        columns = []
        for i in range(top_k):
            if i >= n_features or n_rows == 0:
                index = np.full(n_rows, n_features)
            else:
                # k passes of argmax: cheaper than sorting all features, first index on ties.
                index = remaining.argmax(axis=1)
                chosen = row_starts + index
                pushes = flat[chosen] > 0
                flat[chosen] = -np.inf
                index = np.where(pushes, index, n_features)
            columns.append(names.gather(pl.Series(index, dtype=pl.UInt32)).alias(f"reason_{i + 1}"))
        return columns


def _fit_surrogate(
    matrix: Matrix, target: np.ndarray, n_bins: int, alpha: float
) -> tuple[tuple[_BinnedColumn, ...], float]:
    """Ridge regression of `target` on one-hot bins of every encoded column, centred."""
    from sklearn.linear_model import Ridge

    dense = matrix.toarray() if sparse.issparse(matrix) else np.asarray(matrix, dtype=np.float64)
    n_rows = dense.shape[0]
    shells = []
    all_bins = []
    offset = 0
    for j in range(dense.shape[1]):
        x = dense[:, j]
        finite = x[~np.isnan(x)]
        distinct = np.unique(finite)
        if len(distinct) <= n_bins:
            edges = (distinct[1:] + distinct[:-1]) / 2
        else:
            edges = np.unique(np.quantile(finite, np.linspace(0, 1, n_bins + 1)[1:-1]))
        shell = _BinnedColumn(j, edges, np.zeros(len(edges) + 2))
        shells.append(shell)
        all_bins.append(shell.bins(x) + offset)
        offset += len(edges) + 2
    columns = np.column_stack(all_bins)
    design = sparse.csr_matrix(
        (np.ones(columns.size), columns.ravel(), np.arange(0, columns.size + 1, dense.shape[1])),
        shape=(n_rows, offset),
    )
    ridge = Ridge(alpha=alpha).fit(design, target)
    counts = np.asarray(design.sum(axis=0)).ravel()
    binned = []
    baseline = float(ridge.intercept_)
    start = 0
    for shell, bins in zip(shells, all_bins, strict=True):
        size = len(shell.edges) + 2
        table = ridge.coef_[start : start + size].copy()
        seen = counts[start : start + size] > 0
        # Centred on the training mean; a bin no training row fell in carries no information.
        mean = float(table[bins - start].mean())
        table = np.where(seen, table - mean, 0.0)
        baseline += mean
        binned.append(_BinnedColumn(shell.column, shell.edges, table))
        start += size
    return tuple(binned), baseline


# Outliers --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _NumericProfile:
    feature: str
    median: float
    lower_scale: float
    upper_scale: float
    missing_score: float


@dataclass(frozen=True)
class _CategoricalProfile:
    feature: str
    scores: dict[str, float]
    missing_score: float


_NORMAL_QUARTILE = 0.6744897501960817
"""The upper quartile of a standard normal: a half-IQR of this many units is one SD."""


@dataclass(frozen=True, eq=False)
class OutlierModel:
    """How far each row lies from the training data, in robust standard deviations.

    Per numeric input: the distance from the training median divided by a robust SD, taken
    from the half of the interquartile range on the row's side of the median (so a skewed
    amount is measured against its own long tail). Per categorical input: the normal quantile
    of the category's training frequency (frequent categories score near 0). A category never
    seen in training, or seen less often than `rare_frequency`, and a missing value where
    training had (almost) none, score `cap`. The row's score is the maximum over its inputs,
    clipped at `cap`; a row is flagged at `threshold` or above.
    """

    numeric: tuple[_NumericProfile, ...]
    categorical: tuple[_CategoricalProfile, ...]
    threshold: float
    cap: float
    rare_frequency: float

    @classmethod
    def fit(
        cls,
        train_features: pl.DataFrame,
        spec: UseCaseSpec,
        *,
        threshold: float | None = None,
        rare_frequency: float = 0.001,
        cap: float = 50.0,
    ) -> OutlierModel:
        """Learn medians, spreads and category frequencies; the threshold defaults to the
        spec's `monitoring.outlier_threshold`, else `DEFAULT_OUTLIER_THRESHOLD`."""
        if threshold is None:
            monitoring = spec.monitoring
            threshold = monitoring.outlier_threshold if monitoring else DEFAULT_OUTLIER_THRESHOLD
        n_rows = train_features.height
        if n_rows == 0:
            raise ScoringError("cannot fit an outlier model on an empty training set")

        def rarity(frequency: float) -> float:
            if frequency < rare_frequency:
                return cap
            return float(ndtri(1 - frequency / 2))

        numeric = []
        for name in spec.numeric_features:
            column = train_features.get_column(name).cast(pl.Float64).fill_nan(None)
            q1, q2, q3 = (column.quantile(q, "linear") for q in (0.25, 0.5, 0.75))
            if q2 is None:  # no value at all in training: every value is unusual
                numeric.append(_NumericProfile(name, 0.0, 1e-12, 1e-12, rarity(1.0)))
                continue
            spread = [(q3 - q1) / (2 * _NORMAL_QUARTILE), column.std() or 0.0, 1e-12]
            fallback = next(s for s in spread if s > 0)
            lower = (q2 - q1) / _NORMAL_QUARTILE or fallback
            upper = (q3 - q2) / _NORMAL_QUARTILE or fallback
            missing = rarity(column.null_count() / n_rows) if column.null_count() else cap
            numeric.append(_NumericProfile(name, q2, lower, upper, missing))

        categorical = []
        for name in spec.categorical_features:
            counts = (
                train_features.get_column(name)
                .cast(pl.String)
                .fill_null(MISSING_CATEGORY)
                .value_counts()
            )
            scores = {str(value): rarity(count / n_rows) for value, count in counts.iter_rows()}
            missing = scores.pop(MISSING_CATEGORY, cap)
            categorical.append(_CategoricalProfile(name, scores, missing))
        return cls(tuple(numeric), tuple(categorical), float(threshold), cap, rare_frequency)

    def _feature_arrays(self, features: pl.DataFrame) -> list[np.ndarray]:
        """Each input's score per row, in numpy (no per-row Python, one pass per column)."""
        arrays = []
        for p in self.numeric:
            column = features.get_column(p.feature).cast(pl.Float64)
            x = column.to_numpy()
            deviation = x - p.median
            with np.errstate(invalid="ignore"):
                z = np.where(deviation >= 0, deviation / p.upper_scale, -deviation / p.lower_scale)
            z = np.clip(np.nan_to_num(z, nan=self.cap), 0, self.cap)
            if column.null_count():
                z[column.is_null().to_numpy()] = p.missing_score
            arrays.append(z)
        for c in self.categorical:
            table = {**c.scores, MISSING_CATEGORY: c.missing_score}
            arrays.append(_category_lookup(features.get_column(c.feature), table, self.cap))
        return arrays

    def feature_scores(self, features: pl.DataFrame) -> pl.DataFrame:
        """`row_id` and each input's score: which feature makes a flagged row unusual."""
        names = [p.feature for p in self.numeric] + [c.feature for c in self.categorical]
        arrays = self._feature_arrays(features)
        return pl.DataFrame(
            [
                features.get_column(ROW_ID),
                *[pl.Series(n, a) for n, a in zip(names, arrays, strict=True)],
            ]
        )

    def score(self, features: pl.DataFrame) -> pl.Series:
        """Each row's outlier score (Float64): the maximum over its inputs."""
        arrays = self._feature_arrays(features)
        values = np.maximum.reduce(arrays) if arrays else np.zeros(features.height)
        return pl.Series("outlier_score", values, dtype=pl.Float64)


# Scoring ---------------------------------------------------------------------------------------


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


def score_batch(
    features: pl.DataFrame,
    *,
    pipeline: Pipeline,
    reasons: ReasonCodes,
    outliers: OutlierModel,
    spec: UseCaseSpec,
    model_version: str,
    threshold: float,
    top_k: int = 3,
    scored_at: datetime,
    fast_transform: bool = True,
) -> pl.DataFrame:
    """One answer per row of a feature table (`build_features(..., with_label=False)`), in
    its order: see `prediction_schema`.

    `decision` is `refer` when the score is at or above `threshold` (or missing), `accept`
    otherwise; `outlier_flag` is `outlier_score >= outliers.threshold` and does not change the
    decision (the caller may route flagged rows to review too).

    Rows are scored in slices of `training.SCORING_BATCH_ROWS`; each slice is encoded once and
    that matrix gives both the score (`predict_proba` of the pipeline's model, the same number
    `predict_scores` gives) and the contributions. Each call first checks that `reasons` were
    fitted on this pipeline and that `CompiledPreprocess` reproduces scikit-learn on this
    batch (about 0.1 s, whatever the batch size); `fast_transform=False` encodes with
    scikit-learn instead (slower; for comparison).
    """
    if not 0 < threshold < 1:
        raise ScoringError(f"threshold must be between 0 and 1, got {threshold}")
    if top_k < 1:
        raise ScoringError(f"top_k must be at least 1, got {top_k}")
    stamp = _utc(scored_at)
    reasons.check(pipeline, spec)
    # Checked on this batch's own rows too: an Enum column takes another path than text.
    compiled = None
    if fast_transform:
        compiled = compiled_preprocess(pipeline, spec, features, reasons.probe)
    model = pipeline[-1]
    parts = []
    for part in features.iter_slices(training.SCORING_BATCH_ROWS):
        matrix = _encode(pipeline, part, spec, compiled)
        scores = model.predict_proba(matrix)[:, 1]
        top = reasons.top_reasons(reasons.contributions(matrix), top_k)
        parts.append(
            pl.DataFrame(
                [
                    part.get_column(ROW_ID).cast(pl.Int64),
                    pl.Series("score", scores, dtype=pl.Float64),
                    *top,
                    outliers.score(part).alias("outlier_score"),
                ]
            )
        )
    if not parts:
        return pl.DataFrame(schema=prediction_schema(top_k))
    scored = pl.concat(parts, how="vertical")
    return scored.select(
        ROW_ID,
        pl.lit(model_version, dtype=pl.String).alias("model_version"),
        "score",
        # NaN and null compare as not below the threshold: no score is never an accept.
        pl.when(pl.col("score") < threshold)
        .then(pl.lit(ACCEPT))
        .otherwise(pl.lit(REFER))
        .alias("decision"),
        *[f"reason_{i}" for i in range(1, top_k + 1)],
        "outlier_score",
        (pl.col("outlier_score") >= outliers.threshold).alias("outlier_flag"),
        pl.lit(stamp, dtype=pl.Datetime("us", "UTC")).alias("scored_at"),
    )


def fallback_predictions(
    row_ids: Sequence[int] | pl.Series | np.ndarray,
    *,
    reason: str | Sequence[str] | pl.Series,
    model_version: str | None,
    scored_at: datetime,
    top_k: int = 3,
) -> pl.DataFrame:
    """The answer when the model cannot give one: `refer` with no score, the reason in
    `reason_1` (one for all rows, or one per row, e.g. each row's quarantine reasons).

    Production always answers (M19): rows that fail validation and batches the model cannot
    score still get a decision, a person's.
    """
    ids = pl.Series(ROW_ID, row_ids, dtype=pl.Int64)
    if isinstance(reason, str):
        reasons = pl.Series("reason_1", [reason] * len(ids), dtype=pl.String)
    else:
        reasons = pl.Series("reason_1", reason, dtype=pl.String)
        if len(reasons) != len(ids):
            raise ScoringError(f"{len(reasons)} reasons for {len(ids)} rows")
    schema = prediction_schema(top_k)
    return (
        pl.DataFrame([ids, reasons])
        .select(
            ROW_ID,
            pl.lit(model_version, dtype=pl.String).alias("model_version"),
            pl.lit(None, dtype=pl.Float64).alias("score"),
            pl.lit(REFER).alias("decision"),
            "reason_1",
            *[pl.lit(None, dtype=pl.String).alias(f"reason_{i}") for i in range(2, top_k + 1)],
            pl.lit(None, dtype=pl.Float64).alias("outlier_score"),
            pl.lit(None, dtype=pl.Boolean).alias("outlier_flag"),
            pl.lit(_utc(scored_at), dtype=pl.Datetime("us", "UTC")).alias("scored_at"),
        )
        .cast(dict(schema))
    )


def _utc(moment: datetime) -> datetime:
    """Audit timestamps are UTC; a naive datetime is ambiguous, so it is refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ScoringError("scored_at must be timezone-aware (e.g. datetime.now(UTC))")
    return moment.astimezone(UTC)
