"""Performance before the labels arrive, from the model's own probabilities: confidence-based
performance estimation, as NannyML's CBPE does.

If the scores are calibrated probabilities of the bad outcome, each application is bad with
its own probability; drawing the outcomes that way many times gives the distribution of the
AUC and of the bad rate the month will show, without a single label. The assumptions travel
with every estimate (`PerformanceEstimate.assumptions`) because the estimate is only as good
as they are: a change in the relation between inputs and outcome (concept shift) or scores
that stopped being calibrated only show when the labels arrive (realised performance,
calibration drift).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy.stats import norm, rankdata

ASSUMPTIONS = (
    "the scores are calibrated probabilities of the bad outcome",
    "no concept shift: the relation between inputs and outcome (P(bad | inputs)) is unchanged; "
    "who applies may change",
)
_CELLS_PER_CHUNK = 4_000_000
"""Simulated outcomes held in memory at once (draws x rows), about 32 MB as float64."""


class Interval(BaseModel):
    """A figure with its interval at the estimate's level."""

    model_config = ConfigDict(frozen=True)

    value: float
    low: float
    high: float

    def contains(self, figure: float) -> bool:
        return self.low <= figure <= self.high

    def text(self, *, percent: bool = False) -> str:
        form = "{:.1%}" if percent else "{:.3f}"
        return f"{form.format(self.value)} [{form.format(self.low)}, {form.format(self.high)}]"


class PerformanceEstimate(BaseModel):
    """A month's expected AUC and bad rate with intervals at `level`, and what they assume.
    `auc` is None when fewer than two rows were scored or no draw had both outcomes."""

    model_config = ConfigDict(frozen=True)

    rows: int
    level: float
    draws: int
    auc: Interval | None
    bad_rate: Interval | None
    assumptions: tuple[str, ...] = ASSUMPTIONS

    def line(self) -> str:
        if self.auc is None or self.bad_rate is None:
            return f"no estimate ({self.rows:,} scored rows)"
        return (
            f"estimated AUC {self.auc.text()}, bad rate {self.bad_rate.text(percent=True)} "
            f"({self.level:.0%} intervals, {self.rows:,} rows)"
        )


def poisson_binomial_sd(probabilities: np.ndarray) -> float:
    """Standard deviation of the bad rate of independent applications each bad with its own
    probability: sqrt(sum p(1 - p)) / n."""
    p = np.asarray(probabilities, dtype=np.float64)
    return float(np.sqrt(np.sum(p * (1.0 - p))) / p.size) if p.size else 0.0


def normal_interval(value: float, sd: float, level: float) -> Interval:
    """`value` plus or minus the normal quantile of `level` times `sd`, kept within [0, 1]."""
    half = float(norm.ppf(0.5 + level / 2)) * sd
    return Interval(value=value, low=max(0.0, value - half), high=min(1.0, value + half))


def predicted_bad_rate(probabilities: np.ndarray, level: float) -> Interval:
    """The bad rate calibrated probabilities predict (their mean), with its interval."""
    p = np.asarray(probabilities, dtype=np.float64)
    return normal_interval(float(p.mean()), poisson_binomial_sd(p), level)


def simulated_aucs(probabilities: np.ndarray, *, draws: int, seed: int) -> np.ndarray:
    """The AUC of each of `draws` outcome vectors y ~ Bernoulli(p) against the scores p.

    AUC by ranks (Mann-Whitney): the scores are ranked once (ties share their average rank),
    then per draw AUC = (sum of the bads' ranks - n1(n1 + 1)/2) / (n1 n0), a matrix product
    for a chunk of draws at once. Draws with a single class have no AUC and are dropped."""
    p = np.asarray(probabilities, dtype=np.float64)
    n = p.size
    ranks = rankdata(p)
    threshold = p.astype(np.float32)
    rng = np.random.default_rng(seed)
    chunk = max(1, _CELLS_PER_CHUNK // max(n, 1))
    found = []
    for start in range(0, draws, chunk):
        size = min(chunk, draws - start)
        bad = (rng.random((size, n), dtype=np.float32) < threshold).astype(np.float64)
        n1 = bad.sum(axis=1)
        n0 = n - n1
        both = (n1 > 0) & (n0 > 0)
        rank_sum = bad[both] @ ranks
        found.append((rank_sum - n1[both] * (n1[both] + 1) / 2) / (n1[both] * n0[both]))
    return np.concatenate(found) if found else np.empty(0)


def estimate_performance(
    scores: np.ndarray, *, draws: int = 400, level: float = 0.95, seed: int = 0
) -> PerformanceEstimate:
    """Expected AUC (mean of the simulated AUCs, interval from their quantiles) and expected
    bad rate (mean score, Poisson-binomial interval) of applications scored `scores`.
    Missing scores are left out; scores are clipped to [0, 1]."""
    p = np.asarray(scores, dtype=np.float64)
    p = np.clip(p[np.isfinite(p)], 0.0, 1.0)
    if p.size < 2:
        return PerformanceEstimate(rows=p.size, level=level, draws=0, auc=None, bad_rate=None)
    aucs = simulated_aucs(p, draws=draws, seed=seed)
    tail = (1 - level) / 2
    auc = None
    if aucs.size:
        low, high = np.quantile(aucs, [tail, 1 - tail])
        auc = Interval(value=float(aucs.mean()), low=float(low), high=float(high))
    return PerformanceEstimate(
        rows=p.size,
        level=level,
        draws=int(aucs.size),
        auc=auc,
        bad_rate=predicted_bad_rate(p, level),
    )
