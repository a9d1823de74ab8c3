"""Reason codes: each feature's push on the score, in log-odds, relative to the average training
application, and per row the features pushing most towards the positive class.

Contributions are summed back to the spec's feature names (a banded or one-hot feature's
columns add up to that feature). For a linear model on the encoded inputs they are exact:
`coef_j * (x_j - mean_j)`, one matrix product per slice; for LightGBM and XGBoost too (their
TreeSHAP, `tree_contributions`). For other models (gradient boosting) they come from an
additive surrogate whose fidelity to the model is measured and reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import polars as pl
from scipy import sparse
from scipy.special import expit, logit
from scipy.stats import spearmanr
from sklearn.pipeline import Pipeline

from modelops.ml.scorecard.points import best_bin_log_odds
from modelops.ml.scoring import tree_contributions
from modelops.ml.scoring.blocks import output_features
from modelops.ml.scoring.compiled import Matrix, encode
from modelops.ml.scoring.errors import ScoringError
from modelops.ml.scoring.payload import Header, frame_to_array, pack, unpack
from modelops.ml.scoring.surrogate import BinnedColumn, fit_surrogate
from modelops.ml.training import model_input_frame
from modelops.spec.columns import ROW_ID
from modelops.spec.model import UseCaseSpec


@dataclass(frozen=True)
class Fidelity:
    """How well the contributions (plus the baseline) reproduce the model's log-odds on the
    training set: 1.0 and 1.0 for an exact linear decomposition."""

    r2: float
    spearman: float


PROBE_ROWS = 32

Reference = Literal["training_mean", "best_bin"]

_FORMAT = "modelops.reason_codes"
_FORMAT_VERSION = 1


class _Header(Header):
    features: tuple[str, ...]
    method: Literal["linear", "surrogate", "tree"]
    baseline: float
    fidelity: Fidelity
    reference: Reference = "training_mean"


@dataclass(frozen=True, eq=False)
class ReasonCodes:
    """Per-feature contributions to the score (log-odds), and the top reasons per row."""

    features: tuple[str, ...]
    """The spec's feature names, in the order of the contribution columns."""
    method: Literal["linear", "surrogate", "tree"]
    """`linear`: exact, from the model's coefficients. `tree`: exact, the booster's TreeSHAP
    (computed from the model when scoring). `surrogate`: an additive model fitted to the
    model's training log-odds; see `fidelity`."""
    baseline: float
    """Log-odds of a row whose contributions are all zero: the intercept plus each feature's
    training-mean term."""
    fidelity: Fidelity
    owner: np.ndarray = field(repr=False)
    """Index into `features` of each encoded column."""
    weights: np.ndarray | None = field(repr=False)
    """Linear: encoded columns × features, coefficient j in its feature's column."""
    offsets: np.ndarray = field(repr=False)
    """Each feature's training-mean term (linear) or SHAP value (tree), subtracted."""
    binned: tuple[BinnedColumn, ...] = field(repr=False)
    """Surrogate: per encoded column, the centred log-odds of each bin."""
    probe: pl.DataFrame = field(repr=False)
    """A few training rows and the model's scores on them: the model these codes explain."""
    probe_scores: np.ndarray = field(repr=False)
    reference: Reference = "training_mean"
    """What a contribution is measured against: the average training application, or (a WoE
    scorecard) each feature's best bin, so that a reason's value times pdo / ln 2 is the
    points the decision lost there, the convention for adverse-action reasons."""

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
        owners = output_features(pipeline, spec)
        features = tuple(dict.fromkeys(owners))
        owner = np.array([features.index(o) for o in owners], dtype=np.int64)
        model = pipeline[-1]
        frame = train_features
        if frame.height > max_rows:
            frame = frame.sample(max_rows, seed=seed)
        matrix = encode(pipeline, frame, spec, None)
        proba = model.predict_proba(matrix)[:, 1]
        target = logit(np.clip(proba, 1e-12, 1 - 1e-12))
        probe = frame.head(PROBE_ROWS).select(ROW_ID, *spec.model_inputs)
        probe_scores = proba[: probe.height].copy()

        if tree := tree_contributions.exact_fit(model, matrix, proba, owner, len(features)):
            offsets, baseline, margin = tree
            codes = cls(features, "tree", baseline, Fidelity(0, 0), owner, None, offsets, (),
                        probe, probe_scores)  # fmt: skip
            return codes.with_fidelity(matrix, margin, model)
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
                best = best_bin_log_odds(pipeline)
                reference: Reference = "training_mean" if best is None else "best_bin"
                if best is not None:
                    offsets = best  # one WoE column per feature, in the same order
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
                    reference,
                )
                return codes.with_fidelity(matrix, target)

        binned, baseline = fit_surrogate(matrix, target, surrogate_bins, surrogate_alpha)
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

    def with_fidelity(
        self, matrix: Matrix, target: np.ndarray, model: object = None
    ) -> ReasonCodes:
        """A copy with `fidelity` measured against the model's log-odds `target`, to 12 digits
        (an exact decomposition measures 1.0, not 1 - 1e-16)."""
        approx = self.baseline + self.contributions(matrix, model).sum(axis=1)
        total = float(np.sum((target - target.mean()) ** 2))
        r2 = 1 - float(np.sum((target - approx) ** 2)) / total if total > 0 else 1.0
        rho = float(spearmanr(approx, target).statistic) if len(target) > 2 else 1.0
        return replace(self, fidelity=Fidelity(round(r2, 12), round(rho, 12)))

    def check(self, pipeline: Pipeline, spec: UseCaseSpec) -> None:
        """Refuse a pipeline other than the one these codes were fitted on."""
        scores = pipeline.predict_proba(model_input_frame(self.probe, spec))[:, 1]
        if not np.allclose(scores, self.probe_scores, rtol=0, atol=1e-9):
            raise ScoringError(
                "the reason codes were fitted on another model: refit them with this pipeline"
            )

    def contributions(self, matrix: Matrix, model: object = None) -> np.ndarray:
        """Rows × features: each feature's push on the log-odds, relative to `reference`.
        `model` (the pipeline's last step) is needed by the `tree` method only."""
        if self.method == "tree":
            return tree_contributions.centred(model, matrix, self.owner, self.offsets)
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
        matrix = encode(pipeline, features, spec, None)
        values = self.contributions(matrix, pipeline[-1])
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
        return self.top_reason_columns(contributions, top_k)[0]

    def top_reason_columns(
        self, contributions: np.ndarray, top_k: int
    ) -> tuple[list[pl.Series], list[pl.Series]]:
        """The `top_reasons` columns (`reason_i`) and their contributions to the log-odds
        (`reason_i_contribution`, null where the name is)."""
        n_rows, n_features = contributions.shape
        names = pl.Series([*self.features, None], dtype=pl.String)
        remaining = np.array(contributions, dtype=np.float64, order="C")  # a copy
        flat = remaining.ravel()  # a view
        row_starts = np.arange(n_rows) * n_features
        columns, values = [], []
        for i in range(top_k):
            if i >= n_features or n_rows == 0:
                index = np.full(n_rows, n_features)
                pushed = np.full(n_rows, np.nan)
            else:
                # k passes of argmax: cheaper than sorting all features, first index on ties.
                index = remaining.argmax(axis=1)
                chosen = row_starts + index
                pushes = flat[chosen] > 0
                pushed = np.where(pushes, flat[chosen], np.nan)
                flat[chosen] = -np.inf
                index = np.where(pushes, index, n_features)
            columns.append(names.gather(pl.Series(index, dtype=pl.UInt32)).alias(f"reason_{i + 1}"))
            values.append(
                pl.Series(f"reason_{i + 1}_contribution", pushed, dtype=pl.Float64).fill_nan(None)
            )
        return columns, values

    def to_bytes(self) -> bytes:
        """Pickle-free bytes (numpy .npz with a JSON header): written once at training time,
        loaded by any process that scores."""
        arrays = {
            "owner": self.owner,
            "offsets": self.offsets,
            "probe": frame_to_array(self.probe),
            "probe_scores": self.probe_scores,
            "binned_columns": np.array([b.column for b in self.binned], dtype=np.int64),
        }
        if self.weights is not None:
            arrays["weights"] = self.weights
        for i, binned in enumerate(self.binned):
            arrays[f"binned_{i}_edges"] = binned.edges
            arrays[f"binned_{i}_table"] = binned.table
        header = _Header(
            features=self.features,
            method=self.method,
            baseline=self.baseline,
            fidelity=self.fidelity,
            reference=self.reference,
        )
        return pack(_FORMAT, _FORMAT_VERSION, header, arrays)

    @classmethod
    def from_bytes(cls, data: bytes) -> ReasonCodes:
        """Inverse of `to_bytes`; never unpickles. ValueError for anything else."""
        payload = unpack(data, _FORMAT, _FORMAT_VERSION, _Header, "a reason codes payload")
        header = payload.header
        owner = payload.array("owner")
        weights = payload.array("weights") if header.method == "linear" else None
        binned = tuple(
            BinnedColumn(
                int(column),
                payload.array(f"binned_{i}_edges"),
                payload.array(f"binned_{i}_table"),
            )
            for i, column in enumerate(payload.array("binned_columns"))
        )
        n_features = len(header.features)
        if (
            owner.ndim != 1
            or (owner.size and not 0 <= owner.min() <= owner.max() < n_features)
            or payload.array("offsets").shape != (n_features,)
            or (weights is not None and weights.shape != (owner.size, n_features))
            or any(not 0 <= b.column < owner.size for b in binned)
        ):
            raise payload.invalid("its arrays do not fit together")
        return cls(
            header.features,
            header.method,
            header.baseline,
            header.fidelity,
            owner,
            weights,
            payload.array("offsets"),
            binned,
            payload.frame("probe"),
            payload.array("probe_scores"),
            header.reference,
        )
