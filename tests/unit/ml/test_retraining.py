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


def decide(months, *, labelled=0, last=None, policy=POLICY, now=NOW, **calendar):
    return retraining_decision(
        use_case="uc",
        policy=policy,
        months=months,
        new_labelled_rows=labelled,
        last_retraining=last,
        now=now,
        **calendar,
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


def test_incident_months_never_count_as_drift():
    months = drift(False, True, True)
    months[1] = MonthSignal("2025-02", True, incident=True)
    decision = decide(months)
    assert not decision.due and "1 drift breach(es)" in decision.detail
    kept = Retraining(drift_only_from_population=False, cooldown=timedelta(hours=1))
    assert decide(months, policy=kept).due


def test_an_incident_month_does_not_push_a_population_breach_out_of_the_window():
    months = drift(True, False, True)
    months[1] = MonthSignal("2025-02", False, incident=True)
    months.append(MonthSignal("2025-04", True, incident=True))
    decision = decide(months)
    assert decision.due and "(2025-01, 2025-03)" in decision.detail


def test_the_cooldown_counts_scored_months_not_wall_clock_time():
    """A replayed year (ticks seconds apart) and a real year (a month apart) decide alike."""
    policy = Retraining(cooldown_months=3, cooldown=timedelta(hours=1))
    breaches = drift(True, True, True, True, True, True)
    replay, real = NOW + timedelta(seconds=30), NOW + timedelta(days=31)
    for last_month, due in (("2025-05", False), ("2025-04", False), ("2025-03", True)):
        wall = decide(breaches, policy=policy, last=NOW, now=replay, **_since(last_month))
        calendar = decide(breaches, policy=policy, last=NOW, now=real, **_since(last_month))
        assert wall.due == calendar.due == due, last_month
    held = decide(breaches, policy=policy, last=NOW, now=real, **_since("2025-05"))
    assert "1 of 3 scored months since the retraining of 2025-05" in held.detail


def test_the_wall_clock_only_stops_a_storm_before_the_next_month():
    policy = Retraining(cooldown_months=0, cooldown=timedelta(hours=1))
    breaches = drift(True, True, True)
    soon = NOW + timedelta(minutes=5)
    same_month = decide(breaches, policy=policy, last=NOW, now=soon, **_since("2025-03"))
    assert not same_month.due and "cooldown for another" in same_month.detail
    next_month = decide(breaches, policy=policy, last=NOW, now=soon, **_since("2025-02"))
    assert next_month.due


def test_persisting_drift_after_a_retraining_for_drift_escalates_instead_of_looping():
    policy = Retraining(cooldown_months=0, cooldown=timedelta(hours=1))
    persisting = drift(True, True, True)
    escalated = decide(persisting, policy=policy, trained_for_drift=True)
    assert not escalated.due and escalated.run_key is None
    assert escalated.escalation and "a person must look" in escalated.escalation
    assert decide(persisting, policy=policy).due  # the same months against a first champion
    quiet = decide(drift(True, False, False), policy=policy, trained_for_drift=True)
    assert quiet.escalation is None and not quiet.due


def test_performance_still_triggers_a_champion_trained_for_drift():
    months = [MonthSignal("2025-01", False, 0.74), MonthSignal("2025-02", False, 0.61)]
    assert decide(months, trained_for_drift=True).reason == "performance"


def test_a_persistent_shift_gives_one_retraining_then_quiet_months():
    """Month by month: the shift breaches the old champion, one retraining, and the new
    champion (its reference the shifted population) does not breach again; no escalation."""
    policy = Retraining(cooldown_months=3, cooldown=timedelta(hours=1))
    outcomes = _play_year(policy, breaches_after_retraining=False)
    assert [m for m, o in outcomes if o == "retrain"] == ["2025-08"]
    assert all(o == "quiet" for m, o in outcomes if m > "2025-08")


def test_a_shift_that_persists_after_the_retraining_escalates_once():
    """If the new champion still breaches, one escalation, never a second retraining."""
    policy = Retraining(cooldown_months=3, cooldown=timedelta(hours=1))
    outcomes = _play_year(policy, breaches_after_retraining=True)
    assert [m for m, o in outcomes if o == "retrain"] == ["2025-08"]
    # 09-11 are the calendar cooldown; from 2025-11 on the decision is an escalation, which
    # the sensor sends once per champion.
    assert [m for m, o in outcomes if o == "escalate"] == ["2025-11", "2025-12"]


def _play_year(policy: Retraining, *, breaches_after_retraining: bool) -> list[tuple[str, str]]:
    """A shift from July on, one decision per month, the champion replaced on retraining."""
    champion_months: list[MonthSignal] = []
    last_month: str | None = None
    outcomes = []
    for index in range(12):
        month = f"2025-{index + 1:02d}"
        retrained = last_month is not None
        breach = index >= 6 and (breaches_after_retraining or not retrained)
        champion_months.append(MonthSignal(month, breach))
        decision = retraining_decision(
            use_case="uc", policy=policy, months=champion_months, new_labelled_rows=0,
            last_retraining=NOW if retrained else None, now=NOW + timedelta(seconds=index),
            last_retraining_month=last_month, trained_for_drift=retrained,
        )  # fmt: skip
        if decision.due:
            outcomes.append((month, "retrain"))
            last_month, champion_months = month, []
        else:
            outcomes.append((month, "escalate" if decision.escalation else "quiet"))
    return outcomes


def _since(month: str) -> dict[str, str]:
    return {"last_retraining_month": month}
