"""How unusual an application is compared with the training data, in robust standard
deviations: a score per input and per row, and a flag at the spec's threshold."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.special import ndtri

from modelops.ml.scoring.blocks import category_lookup
from modelops.ml.scoring.errors import ScoringError
from modelops.ml.scoring.payload import Header, pack, unpack
from modelops.ml.training import MISSING_CATEGORY
from modelops.spec.columns import ROW_ID
from modelops.spec.model import UseCaseSpec

DEFAULT_OUTLIER_THRESHOLD = 6.0
"""Robust standard deviations from the training median beyond which a row is flagged, when the
spec has no `monitoring.outlier_threshold`."""

_FORMAT = "modelops.outlier_model"
_FORMAT_VERSION = 1


@dataclass(frozen=True)
class _NumericProfile:
    """A numeric input's training median, its robust SD below and above it, the score of a
    missing value, and its training range with the same measures on the log scale (NaN where
    training held a value <= 0, or for a model saved before ranges were kept)."""

    feature: str
    median: float
    lower_scale: float
    upper_scale: float
    missing_score: float
    minimum: float = math.nan
    maximum: float = math.nan
    log_median: float = math.nan
    log_lower_scale: float = math.nan
    log_upper_scale: float = math.nan


@dataclass(frozen=True)
class _CategoricalProfile:
    """A categorical input's score per training category, and the score of a missing value."""

    feature: str
    scores: dict[str, float]
    missing_score: float


_NUMERIC_FIELDS = ("median", "lower_scale", "upper_scale", "missing_score")
"""`_NumericProfile`'s numbers every payload holds, in its field order."""
_RANGE_FIELDS = ("minimum", "maximum", "log_median", "log_lower_scale", "log_upper_scale")
"""The numbers after them, absent from payloads saved before ranges were kept."""


class _Header(Header):
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    categories: tuple[tuple[str, ...], ...]
    threshold: float
    cap: float
    rare_frequency: float


_NORMAL_QUARTILE = 0.6744897501960817
"""The upper quartile of a standard normal: a half-IQR of this many units is one SD."""


@dataclass(frozen=True, eq=False)
class OutlierModel:
    """How far each row lies from the training data, in robust standard deviations.

    Per numeric input: the distance from the training median divided by a robust SD, taken
    from the half of the interquartile range on the row's side of the median (so a skewed
    amount is measured against its own long tail). A value outside the training range, on
    either side, of an input that was positive throughout training is also measured on the
    log scale, and scores the larger of the two: an amount delivered in thousands lies a few
    robust SDs below the median but many below it in ratio, and a value <= 0 where training
    had none scores `cap`. Inside the training range the score is unchanged.

    Per categorical input: the normal quantile of the category's training frequency (frequent
    categories score near 0). A category never seen in training, or seen less often than
    `rare_frequency`, and a missing value where training had (almost) none, score `cap`. The
    row's score is the maximum over its inputs, clipped at `cap`; a row is flagged at
    `threshold` or above.
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
            if column.drop_nulls().is_empty():  # no value in training: every value is unusual
                numeric.append(_NumericProfile(name, 0.0, 1e-12, 1e-12, rarity(1.0)))
                continue
            median, lower, upper = _robust_spread(column)
            missing = rarity(column.null_count() / n_rows) if column.null_count() else cap
            low, high = float(column.min()), float(column.max())
            logs = _robust_spread(column.log()) if low > 0 else (math.nan,) * 3
            numeric.append(_NumericProfile(name, median, lower, upper, missing, low, high, *logs))

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
            z = np.maximum(z, _beyond_range_score(x, p))
            z = np.clip(np.nan_to_num(z, nan=self.cap), 0, self.cap)
            if column.null_count():
                z[column.is_null().to_numpy()] = p.missing_score
            arrays.append(z)
        for c in self.categorical:
            table = {**c.scores, MISSING_CATEGORY: c.missing_score}
            arrays.append(category_lookup(features.get_column(c.feature), table, self.cap))
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

    def score_and_inputs(self, features: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
        """Each row's score (as `score`) and the inputs scoring at or above the threshold,
        comma-separated in the spec's order (null when none): what a reviewer looks at, and
        what tells a value out of range (a numeric input) from a category training never
        saw."""
        names = [p.feature for p in self.numeric] + [c.feature for c in self.categorical]
        arrays = self._feature_arrays(features)
        score = self._row_score(arrays, features.height)
        if not arrays:
            return score, pl.Series("outlier_inputs", [None] * features.height, dtype=pl.String)
        per_input = pl.DataFrame([pl.Series(n, a) for n, a in zip(names, arrays, strict=True)])
        listed = pl.concat_str(
            [pl.when(pl.col(n) >= self.threshold).then(pl.lit(n)) for n in names],
            separator=", ",
            ignore_nulls=True,
        )
        inputs = per_input.select(pl.when(listed != "").then(listed).alias("outlier_inputs"))
        return score, inputs.to_series()

    def score(self, features: pl.DataFrame) -> pl.Series:
        """Each row's outlier score (Float64): the maximum over its inputs."""
        return self._row_score(self._feature_arrays(features), features.height)

    @staticmethod
    def _row_score(arrays: list[np.ndarray], n_rows: int) -> pl.Series:
        values = np.maximum.reduce(arrays) if arrays else np.zeros(n_rows)
        return pl.Series("outlier_score", values, dtype=pl.Float64)

    def to_bytes(self) -> bytes:
        """Pickle-free bytes (numpy .npz with a JSON header): written once at training time,
        loaded by any process that scores."""
        header = _Header(
            numeric=tuple(p.feature for p in self.numeric),
            categorical=tuple(c.feature for c in self.categorical),
            categories=tuple(tuple(c.scores) for c in self.categorical),
            threshold=self.threshold,
            cap=self.cap,
            rare_frequency=self.rare_frequency,
        )
        arrays = {
            f"numeric_{name}": np.array([getattr(p, name) for p in self.numeric], dtype=np.float64)
            for name in (*_NUMERIC_FIELDS, *_RANGE_FIELDS)
        }
        arrays["categorical_missing_score"] = np.array(
            [c.missing_score for c in self.categorical], dtype=np.float64
        )
        for i, c in enumerate(self.categorical):
            arrays[f"categorical_{i}_scores"] = np.array(list(c.scores.values()), dtype=np.float64)
        return pack(_FORMAT, _FORMAT_VERSION, header, arrays)

    @classmethod
    def from_bytes(cls, data: bytes) -> OutlierModel:
        """Inverse of `to_bytes`; never unpickles. ValueError for anything else."""
        payload = unpack(data, _FORMAT, _FORMAT_VERSION, _Header, "an outlier model payload")
        header = payload.header
        columns = {name: payload.array(f"numeric_{name}") for name in _NUMERIC_FIELDS}
        without_ranges = np.full(len(header.numeric), math.nan)
        columns |= {
            name: payload.arrays.get(f"numeric_{name}", without_ranges) for name in _RANGE_FIELDS
        }
        missing = payload.array("categorical_missing_score")
        scores = [payload.array(f"categorical_{i}_scores") for i in range(len(header.categorical))]
        if (
            any(a.shape != (len(header.numeric),) for a in columns.values())
            or missing.shape != (len(header.categorical),)
            or len(header.categories) != len(header.categorical)
            or any(a.shape != (len(k),) for a, k in zip(scores, header.categories, strict=True))
        ):
            raise payload.invalid("its arrays do not fit together")
        numeric = tuple(
            _NumericProfile(
                name, *(float(columns[f][i]) for f in (*_NUMERIC_FIELDS, *_RANGE_FIELDS))
            )
            for i, name in enumerate(header.numeric)
        )
        categorical = tuple(
            _CategoricalProfile(name, dict(zip(keys, map(float, values), strict=True)), float(m))
            for name, keys, values, m in zip(
                header.categorical, header.categories, scores, missing, strict=True
            )
        )
        return cls(numeric, categorical, header.threshold, header.cap, header.rare_frequency)


def _robust_spread(column: pl.Series) -> tuple[float, float, float]:
    """The median and the robust SDs below and above it (half-IQRs; the IQR or the SD where a
    half is empty, so a column piled on one value still has a scale)."""
    q1, q2, q3 = (float(column.quantile(q, "linear")) for q in (0.25, 0.5, 0.75))
    spread = [(q3 - q1) / (2 * _NORMAL_QUARTILE), column.std() or 0.0, 1e-12]
    fallback = next(s for s in spread if s > 0)
    lower = (q2 - q1) / _NORMAL_QUARTILE or fallback
    upper = (q3 - q2) / _NORMAL_QUARTILE or fallback
    return q2, lower, upper


def _beyond_range_score(x: np.ndarray, p: _NumericProfile) -> np.ndarray:
    """The log-scale score of values outside the training range (0 inside it, and for an
    input without a log profile); a value <= 0 of a positive input scores infinity (capped)."""
    if math.isnan(p.log_median):
        return np.zeros_like(x)
    outside = (x < p.minimum) | (x > p.maximum)
    with np.errstate(invalid="ignore", divide="ignore"):
        deviation = np.log(np.where(x > 0, x, np.nan)) - p.log_median
        z = np.where(deviation >= 0, deviation / p.log_upper_scale, -deviation / p.log_lower_scale)
    z = np.where(x <= 0, np.inf, z)
    return np.where(outside, np.nan_to_num(z, nan=0.0, posinf=np.inf), 0.0)
