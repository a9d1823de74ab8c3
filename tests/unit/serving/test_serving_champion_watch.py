"""The champion watch when the audit log cannot be read: one failed read keeps the last
state, two make every answer the fallback (never a version the log does not name), and a
poll never raises."""

from __future__ import annotations

from modelops.serving.champion_watch import STARTING, ChampionWatch, ServingState


class UnreadableLog:
    appended = 0

    def records(self, **_: object) -> list:
        raise OSError("disk gone")

    def append(self, event: object) -> None:
        self.appended += 1
        raise OSError("disk gone")


class RecordingAlerts:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def notify(self, spec, kind, summary, **_: object) -> str:
        self.sent.append((kind, summary))
        return "test"


def _watch(german_spec, alerts=None) -> ChampionWatch:
    return ChampionWatch(
        german_spec,
        store=None,  # type: ignore[arg-type]
        audit_log=UnreadableLog(),  # type: ignore[arg-type]
        alerts=alerts,  # type: ignore[arg-type]
    )


def test_an_unreadable_log_at_start_is_a_fallback_at_once(german_spec) -> None:
    alerts = RecordingAlerts()
    watch = _watch(german_spec, alerts)
    assert watch.state is STARTING and not watch.ready
    state = watch.poll()
    assert watch.ready and state.label == "fallback"
    assert state.fallback_reason == "model unavailable: audit log unreadable (OSError)"
    assert alerts.sent and alerts.sent[0][0] == "serving"
    assert watch.audit_log.appended == 1  # tried to record it, and lived on


def test_one_failed_read_keeps_the_last_state_two_fall_back(german_spec) -> None:
    watch = _watch(german_spec)
    scoring = ServingState("3", object())  # type: ignore[arg-type]
    watch.state = scoring
    assert watch.poll() is scoring
    after = watch.poll()
    assert after.scorer is None and after.champion == "3"
    assert after.fallback_reason.startswith("model unavailable: audit log unreadable")
    assert watch.poll().fallback_reason == after.fallback_reason
    assert watch.audit_log.appended == 1  # once per change of state, not per poll
