"""Points from the logistic regression on WoE columns, scaled by points-to-double-the-odds.

score = offset + factor * ln(odds of good), factor = pdo / ln 2,
offset = base_points - factor * ln(base_odds). With log-odds of bad = b0 + sum_j b_j * WoE_j,
each bin of feature j is worth -factor * (b_j * WoE + b0 / p) points (p features), so a row's
points add up to its score exactly; the table keeps the exact value and an integer rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from modelops.ml.scorecard.woe_binning import WoEBinning


@dataclass(frozen=True)
class Scaling:
    pdo: float = 20.0
    base_points: float = 600.0
    base_odds: float = 50.0

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2)

    @property
    def offset(self) -> float:
        return self.base_points - self.factor * math.log(self.base_odds)


@dataclass(frozen=True)
class BinPoints:
    feature: str
    bin: str
    woe: float
    points: float

    @property
    def rounded(self) -> int:
        return round(self.points)


def woe_step(pipeline: Pipeline) -> WoEBinning:
    """The fitted WoE transformer of a scorecard pipeline (inside its ColumnTransformer)."""
    preprocess = pipeline[0]
    step = getattr(preprocess, "named_transformers_", {}).get("woe", preprocess)
    if not isinstance(step, WoEBinning):
        raise TypeError("not a WoE scorecard pipeline (preprocessing: woe)")
    return step


def _coefficients(pipeline: Pipeline) -> tuple[np.ndarray, float]:
    model = pipeline[-1]
    return np.asarray(model.coef_, dtype=np.float64).ravel(), float(np.ravel(model.intercept_)[0])


def points_table(pipeline: Pipeline, scaling: Scaling = Scaling()) -> list[BinPoints]:
    """Points per bin per feature (regular bins, special, missing)."""
    binning = woe_step(pipeline)
    coef, intercept = _coefficients(pipeline)
    share = intercept / len(binning.bins_)
    return [
        BinPoints(
            b["feature"],
            label,
            woe,
            scaling.offset / len(binning.bins_) - scaling.factor * (coef[j] * woe + share),
        )
        for j, b in enumerate(binning.bins_)
        for label, woe in zip(b["labels"], b["woe"], strict=True)
    ]


def wrong_sign_features(pipeline: Pipeline) -> list[str]:
    """Features whose coefficient on WoE is positive: there a bin with more goods per bad earns
    fewer points, which a validator will question (often a weak feature best left out)."""
    binning = woe_step(pipeline)
    coef, _ = _coefficients(pipeline)
    return [b["feature"] for j, b in enumerate(binning.bins_) if coef[j] > 0]


def row_points(pipeline: Pipeline, rows: pd.DataFrame, scaling: Scaling = Scaling()) -> np.ndarray:
    """Rows × features: the (exact) points of each row's bin; rows sum to the score."""
    binning = woe_step(pipeline)
    coef, intercept = _coefficients(pipeline)
    woe = binning.transform(rows[list(binning.feature_names_in_)])
    p = len(binning.bins_)
    return scaling.offset / p - scaling.factor * (woe * coef + intercept / p)


def score(pipeline: Pipeline, rows: pd.DataFrame, scaling: Scaling = Scaling()) -> np.ndarray:
    return row_points(pipeline, rows, scaling).sum(axis=1)


def best_bin_log_odds(pipeline: Pipeline) -> np.ndarray | None:
    """Per feature, its lowest term in the log-odds of bad (coefficient × WoE) over the bins
    that hold training rows: its best bin, the reference reasons are stated against (what a
    decision lost there, in points, is `factor` times its term's excess). None for a pipeline
    other than a WoE scorecard."""
    try:
        binning = woe_step(pipeline)
    except TypeError:
        return None
    coef, _ = _coefficients(pipeline)
    best = []
    for j, b in enumerate(binning.bins_):
        held = [w for w, g, d in zip(b["woe"], b["goods"], b["bads"], strict=True) if g + d > 0]
        best.append(min(coef[j] * w for w in held) if held else 0.0)
    return np.asarray(best, dtype=np.float64)


def points_lost(
    pipeline: Pipeline, rows: pd.DataFrame, scaling: Scaling = Scaling()
) -> list[dict[str, float]]:
    """Per row, each feature's points lost against its best bin (≥ 0), largest first: the value
    to state next to a reason code."""
    binning = woe_step(pipeline)
    _, intercept = _coefficients(pipeline)
    p = len(binning.bins_)
    best = scaling.offset / p - scaling.factor * (best_bin_log_odds(pipeline) + intercept / p)
    names = [b["feature"] for b in binning.bins_]
    gaps = best - row_points(pipeline, rows, scaling)
    return [
        dict(sorted(zip(names, map(float, row), strict=True), key=lambda kv: -kv[1]))
        for row in gaps
    ]
