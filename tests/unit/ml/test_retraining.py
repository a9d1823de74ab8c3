"""The retraining decision: which signals trigger, and why a burst gives one run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from modelops.ml.retraining import MonthSignal, drift_breach, retraining_decision
from modelops.spec import Drift, Retraining

NOW = datetime(2025, 8, 15, tzinfo=UTC)
POLICY = Retraining(
    drift_breaches=2,
    drift_window=3,
    min_auc=0.65,
    min_new_labelled_rows=5000,
    cooldown=timedelta(days=7),
)


def decide(months, *, labelled=0, last=None, policy=POLICY, now=NOW):
    return retraining_decision(
        use_case="uc",
        policy=policy,
        months=months,
        new_labelled_rows=labelled,
        last_retraining=last,
        now=now,
    )


def drift(*flags: bool) -> list[MonthSignal]:
    return [MonthSignal(f"2025-{i + 1:02d}", flag) for i, flag in enumerate(flags)]


def test_drift_in_k_of_the_last_n_months_triggers_with_a_month_key():
    decision = decide(drift(False, False, True, False, True))
    assert decision.due and decision.reason == "drift"
    assert decision.run_key == "retrain:uc:drift:2025-05"
    assert "2 of the last 3 months (2025-03, 2025-05)" in decision.detail


def test_a_breach_is_dataset_drift_or_a_significant_score_or_feature_shift():
    rules = Drift(psi_breach=0.25, csi_breach=0.25)

    def breach(dataset_drift=False, score_psi=0.01, max_csi=0.02):
        return drift_breach(
            dataset_drift=dataset_drift, score_psi=score_psi, max_csi=max_csi, drift=rules
        )

    assert not breach()
    assert breach(dataset_drift=True)
    assert breach(score_psi=0.25) and not breach(score_psi=0.249)
    assert breach(max_csi=0.4)  # one input moved a lot: enough on its own
    assert not breach(score_psi=None, max_csi=None)


def test_breaches_outside_the_window_do_not_count():
    decision = decide(drift(True, True, False, False, True))
    assert not decision.due
    assert "1 drift breach(es) in the last 3 months (needs 2)" in decision.detail


def test_realised_performance_below_the_floor_triggers():
    months = [MonthSignal("2025-01", False, 0.74), MonthSignal("2025-02", False, 0.61)]
    decision = decide(months)
    assert (decision.reason, decision.run_key) == ("performance", "retrain:uc:performance:2025-02")


def test_enough_new_labels_trigger():
    assert decide(drift(False), labelled=4999).reason is None
    assert decide(drift(False), labelled=5000).reason == "new_labels"


def test_cooldown_holds_every_signal_back():
    decision = decide(drift(True, True, True), last=NOW - timedelta(days=3))
    assert not decision.due and "cooldown for another 4.0 days" in decision.detail
    assert decide(drift(True, True, True), last=NOW - timedelta(days=8)).due


def test_a_burst_of_signals_in_one_month_gives_one_run_key():
    """Repeated ticks over the same drifting month ask for the same run (Dagster dedups keys)."""
    keys = {
        decide(drift(False, True, True), now=NOW + timedelta(hours=h)).run_key
        for h in range(0, 48, 4)
    }
    assert keys == {"retrain:uc:drift:2025-03"}


def test_nothing_to_decide_before_the_first_month():
    assert decide([]).detail == "no monitored month yet"
