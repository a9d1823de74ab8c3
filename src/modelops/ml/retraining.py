"""When to retrain: the decision, as a pure function of what monitoring recorded.

A sensor asks this every tick. Several signals can fire in the same month (drift on each new
batch, a performance dip, new labels): they collapse into one request per month and reason
(its run key). Time is the partition calendar: nothing is requested until `cooldown_months`
months were scored since the last retraining, and the wall-clock `cooldown` only stops a storm
of requests before the next month is scored, so a replayed year and a real year decide alike.
Drift counts the population only (months with a data incident never breach), and drift that
persists against a champion trained because of drift escalates to a person instead of looping.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from modelops.spec import Drift, Retraining


@dataclass(frozen=True)
class MonthSignal:
    """What monitoring knows about one scored month."""

    month: str  # YYYY-MM
    breach: bool
    """See `drift_breach`."""
    realised_auc: float | None = None
    incident: bool = False
    """The month had a data incident: its drift says nothing about the population."""


def drift_breach(
    *, dataset_drift: bool, score_psi: float | None, max_csi: float | None, drift: Drift
) -> bool:
    """A month breaches when its inputs drifted as a dataset (Evidently's rule), the score
    distribution moved significantly (PSI), or one model input moved significantly (CSI):
    a single important feature can shift without half of all features drifting."""
    return (
        dataset_drift
        or (score_psi is not None and score_psi >= drift.psi_breach)
        or (max_csi is not None and max_csi >= drift.csi_breach)
    )


@dataclass(frozen=True)
class RetrainingDecision:
    reason: str | None
    """None when no retraining is due."""
    run_key: str | None
    detail: str
    escalation: str | None = None
    """Drift persists against a champion that was itself trained because of drift: the
    owners must look (one escalation) instead of another retraining."""

    @property
    def due(self) -> bool:
        return self.reason is not None


def retraining_decision(
    *,
    use_case: str,
    policy: Retraining,
    months: list[MonthSignal],
    new_labelled_rows: int,
    last_retraining: datetime | None,
    now: datetime,
    last_retraining_month: str | None = None,
    trained_for_drift: bool = False,
) -> RetrainingDecision:
    """Whether to retrain now, why, and the run key that deduplicates the request.

    `months` are the months scored by the current champion: once a retrained model is
    promoted, the old model's drift and performance no longer count against the new one.
    `last_retraining_month`: the latest scored month when the last retraining was requested;
    at most one retraining per `cooldown_months` months scored since (the wall-clock
    `cooldown` applies only until a new month is scored). Months with a data incident never count
    as drift. When the champion was itself trained because of drift
    (`trained_for_drift`) and drift persists, the answer is an escalation, not a loop.
    """
    latest_scored = max((m.month for m in months), default=None)
    # The wall clock only guards against a storm within the calendar's step: once a new month
    # was scored since the last request, the calendar decides (a replay runs months in seconds).
    storm = last_retraining_month is None or (
        latest_scored is None or latest_scored <= last_retraining_month
    )
    if storm and last_retraining is not None and now - last_retraining < policy.cooldown:
        left = policy.cooldown - (now - last_retraining)
        return RetrainingDecision(None, None, f"in cooldown for another {_human(left)}")
    if last_retraining_month is not None and policy.cooldown_months:
        since = [m for m in months if m.month > last_retraining_month]
        if len(since) < policy.cooldown_months:
            return RetrainingDecision(
                None,
                None,
                f"in cooldown: {len(since)} of {policy.cooldown_months} scored months since "
                f"the retraining of {last_retraining_month}",
            )
    if not months and not new_labelled_rows:
        return RetrainingDecision(None, None, "no monitored month yet")
    ordered = sorted(months, key=lambda m: m.month)
    latest = ordered[-1].month if ordered else now.strftime("%Y-%m")

    population = [m for m in ordered if not (m.incident and policy.drift_only_from_population)]
    window = population[-policy.drift_window :]
    breaches = [m.month for m in window if m.breach]
    if len(breaches) >= policy.drift_breaches and trained_for_drift:
        detail = (
            f"drift persists after a retraining for drift: breach in {len(breaches)} of the last "
            f"{len(window)} months ({', '.join(breaches)}); another retraining on the same "
            "signal would loop: a person must look (model design, features, the shift itself)"
        )
        return RetrainingDecision(None, None, detail, escalation=detail)
    if len(breaches) >= policy.drift_breaches:
        return _due(
            use_case,
            "drift",
            latest,
            f"drift breach in {len(breaches)} of the last {len(window)} months "
            f"({', '.join(breaches)})",
        )
    if policy.min_auc is not None:
        below = [
            m for m in ordered if m.realised_auc is not None and m.realised_auc < policy.min_auc
        ]
        if below:
            worst = min(below, key=lambda m: m.realised_auc or 0.0)
            return _due(
                use_case,
                "performance",
                worst.month,
                f"realised AUC {worst.realised_auc:.3f} in {worst.month} is below the "
                f"floor {policy.min_auc}",
            )
    if (
        policy.min_new_labelled_rows is not None
        and new_labelled_rows >= policy.min_new_labelled_rows
    ):
        return _due(
            use_case,
            "new_labels",
            latest,
            f"{new_labelled_rows} newly labelled rows (threshold {policy.min_new_labelled_rows})",
        )
    return RetrainingDecision(
        None,
        None,
        f"{len(breaches)} drift breach(es) in the last {len(window)} months "
        f"(needs {policy.drift_breaches}); no performance or label trigger",
    )


def _due(use_case: str, reason: str, month: str, detail: str) -> RetrainingDecision:
    return RetrainingDecision(reason, f"retrain:{use_case}:{reason}:{month}", detail)


def _human(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 24 else f"{hours:.1f} hours"
