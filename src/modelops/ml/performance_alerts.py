"""When a model's performance is judged to decay: relative to the AUC it was released with,
before the labels (estimated) and after (realised), and when its probabilities stop matching
the bad rate they predict (calibration drift). An absolute AUC floor alone sees decay late, and
never sees a model that ranks well while it under-predicts the bad rate.

Also the backtest of estimates against what was realised, which says whether the estimates
can be trusted."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from modelops.formatting import table
from modelops.ml.estimated_performance import (
    Interval,
    PerformanceEstimate,
    estimate_performance,
    normal_interval,
)
from modelops.spec.incidents import PerformanceAlerts

ESTIMATE_FILE = "estimate.json"
Basis = Literal["estimated", "realised"]


class DecayAlert(BaseModel):
    """A decay rule that fired, with the figures it judged."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["relative_decay", "calibration_drift"]
    basis: Basis
    figure: float
    """The month's AUC (relative decay) or observed bad rate (calibration drift)."""
    expected: float
    """The release AUC, or the predicted bad rate."""
    low: float
    """The lowest figure that would not have alerted..."""
    high: float
    """...and the highest."""
    summary: str


def relative_decay(
    auc: float | None, release_auc: float | None, rules: PerformanceAlerts, *, basis: Basis
) -> DecayAlert | None:
    """The month's AUC (estimated or realised) below the release's by more than
    `relative_auc_drop`; None when either figure is unknown."""
    if auc is None or release_auc is None or np.isnan(auc) or np.isnan(release_auc):
        return None
    floor = release_auc - rules.relative_auc_drop
    if auc >= floor:
        return None
    return DecayAlert(
        kind="relative_decay",
        basis=basis,
        figure=auc,
        expected=release_auc,
        low=floor,
        high=1.0,
        summary=f"{basis} AUC {auc:.3f} is {release_auc - auc:.3f} below the AUC at release "
        f"{release_auc:.3f} (alert beyond {rules.relative_auc_drop:g})",
    )


def calibration_drift(
    predicted: Interval, observed_bad_rate: float, rules: PerformanceAlerts
) -> DecayAlert | None:
    """The observed bad rate of a labelled month outside the interval its scores predicted
    (`predicted`, at `calibration_level`; see `estimated_performance.predicted_bad_rate`)."""
    if predicted.contains(observed_bad_rate):
        return None
    direction = "under" if observed_bad_rate > predicted.high else "over"
    return DecayAlert(
        kind="calibration_drift",
        basis="realised",
        figure=observed_bad_rate,
        expected=predicted.value,
        low=predicted.low,
        high=predicted.high,
        summary=f"observed bad rate {observed_bad_rate:.1%} outside the predicted "
        f"{predicted.text(percent=True)} ({rules.calibration_level:.0%}): the model "
        f"{direction}-predicts the bad rate",
    )


def realised_decay(
    *,
    auc: float,
    release_auc: float | None,
    predicted_bad_rate: float | None,
    predicted_bad_rate_sd: float | None,
    observed_bad_rate: float,
    rules: PerformanceAlerts,
) -> list[DecayAlert]:
    """The decay rules judged once a month's labels arrived: relative decay of the realised
    AUC, and calibration drift of the observed bad rate against the predicted one (the mean
    score of the labelled rows, with its Poisson-binomial standard deviation)."""
    found = [relative_decay(auc, release_auc, rules, basis="realised")]
    if predicted_bad_rate is not None and predicted_bad_rate_sd is not None:
        predicted = normal_interval(
            predicted_bad_rate, predicted_bad_rate_sd, rules.calibration_level
        )
        found.append(calibration_drift(predicted, observed_bad_rate, rules))
    return [alert for alert in found if alert is not None]


class EstimateCheck(BaseModel):
    """Whether what was realised lies within the estimate's intervals (None: not known)."""

    model_config = ConfigDict(frozen=True)

    auc_inside: bool | None
    bad_rate_inside: bool | None


def estimate_vs_realised(
    estimate: PerformanceEstimate, realised_auc: float | None, observed_bad_rate: float | None
) -> EstimateCheck:
    def inside(interval: Interval | None, figure: float | None) -> bool | None:
        if interval is None or figure is None or np.isnan(figure):
            return None
        return interval.contains(figure)

    return EstimateCheck(
        auc_inside=inside(estimate.auc, realised_auc),
        bad_rate_inside=inside(estimate.bad_rate, observed_bad_rate),
    )


class BacktestRow(BaseModel):
    """A month's estimate beside what its labels showed (None: not labelled yet)."""

    model_config = ConfigDict(frozen=True)

    month: str
    estimate: PerformanceEstimate
    realised_auc: float | None
    observed_bad_rate: float | None

    @property
    def check(self) -> EstimateCheck:
        return estimate_vs_realised(self.estimate, self.realised_auc, self.observed_bad_rate)


def backtest_lines(rows: list[BacktestRow]) -> list[str]:
    """Estimated against realised, month by month (a markdown table)."""

    def figure(value: float | None, form: str) -> str:
        return "–" if value is None else form.format(value)

    def interval(value: Interval | None, *, percent: bool = False) -> str:
        return "–" if value is None else value.text(percent=percent)

    def verdict(inside: bool | None) -> str:
        return {None: "–", True: "yes", False: "no"}[inside]

    body = [
        [
            r.month,
            interval(r.estimate.auc),
            figure(r.realised_auc, "{:.3f}"),
            verdict(r.check.auc_inside),
            interval(r.estimate.bad_rate, percent=True),
            figure(r.observed_bad_rate, "{:.1%}"),
            verdict(r.check.bad_rate_inside),
        ]
        for r in rows
    ]
    header = [
        "month",
        "estimated AUC [interval]",
        "realised AUC",
        "inside?",
        "predicted bad rate [interval]",
        "observed",
        "inside?",
    ]
    return table(header, body, align="lrrlrrl")


class MonthEstimate(BaseModel):
    """What `estimated_performance` stores for a month (`estimate.json`)."""

    model_config = ConfigDict(frozen=True)

    month: str
    model_version: str
    estimate: PerformanceEstimate
    release_auc: float | None
    """The version's holdout AUC at release (None: not recorded)."""
    alert: DecayAlert | None


def month_seed(month: str) -> int:
    """The same month draws the same outcomes every time (an estimate is reproducible)."""
    return int(month.replace("-", ""))


def estimate_month(
    month: str,
    model_version: str,
    scores: np.ndarray,
    release_auc: float | None,
    rules: PerformanceAlerts,
) -> MonthEstimate:
    """A month's estimate, judged for relative decay against the AUC at release."""
    estimate = estimate_performance(
        scores, draws=rules.estimate_draws, level=rules.calibration_level, seed=month_seed(month)
    )
    expected = estimate.auc.value if estimate.auc is not None else None
    return MonthEstimate(
        month=month,
        model_version=model_version,
        estimate=estimate,
        release_auc=release_auc,
        alert=relative_decay(expected, release_auc, rules, basis="estimated"),
    )
