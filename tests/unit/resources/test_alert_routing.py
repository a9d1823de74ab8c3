"""Alert deliveries per route: which channels and recipients, retries with backoff, the
outbox that records what was not delivered, and a retry that delivers it later. A webhook
receiver runs on loopback here; real SMTP is in tests/integration/test_alert_delivery.py."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from modelops.resources.alert_channels import AlertChannels, SmtpServer
from modelops.resources.alert_outbox import OUTBOX_FILE, AlertOutbox, Delivery
from modelops.resources.alerts import Alert, LocalAlerts, WebhookAlerts
from modelops.spec.alert_routes import CHANNELS, OWNERS, ResolvedRoute
from support.alert_receivers import SECRET, WebhookReceiver, free_port

ALERT = Alert(
    use_case="german_credit",
    kind="drift",
    summary="2025-06: drift breach",
    owners=("team:credit-risk-models", "anna.berg@bank.example"),
)
DEFAULT = ResolvedRoute("drift", (OWNERS,), CHANNELS, written=False)


@pytest.fixture
def receiver() -> Iterator[Callable[[list[int]], WebhookReceiver]]:
    made: list[WebhookReceiver] = []

    def make(statuses: list[int]) -> WebhookReceiver:
        made.append(WebhookReceiver(statuses))
        return made[-1]

    yield make
    for one in made:
        one.stop()


def test_the_default_route_uses_only_the_channels_the_platform_configures() -> None:
    smtp = SmtpServer(host="127.0.0.1", port=25, from_address="modelops@bank.example")
    assert AlertChannels().targets(ALERT, DEFAULT) == [("log", "log")]
    assert AlertChannels(smtp=smtp, webhook_url="http://x").targets(ALERT, DEFAULT) == [
        ("log", "log"),
        ("email", "anna.berg@bank.example"),
        ("webhook", "webhook"),
    ]


def test_a_written_route_is_kept_even_where_a_channel_is_missing_and_recorded_undelivered(
    tmp_path: Path,
) -> None:
    route = ResolvedRoute("drift", (OWNERS, "risk@bank.example"), ("email",), written=True)
    sink = LocalAlerts(path=str(tmp_path / "alerts.jsonl"), backoff_seconds=0)
    assert sink.send(ALERT, route) == str(tmp_path / "alerts.jsonl")
    undelivered = sink.outbox().undelivered()  # type: ignore[union-attr]
    assert [(d.recipient, d.attempts) for d in undelivered] == [
        ("anna.berg@bank.example", 1),  # nothing to retry: no server is configured
        ("risk@bank.example", 1),
    ]
    assert undelivered[0].last_error == "no SMTP server configured (set MODELOPS_SMTP_HOST)"
    assert [a["id"] for a in sink.read()] == [ALERT.id]  # kept all the same


def test_a_webhook_that_blinks_is_retried_with_growing_waits(receiver) -> None:
    hook = receiver([500, 503, 200])
    waits: list[float] = []
    channels = AlertChannels(
        webhook_url=hook.url, attempts=4, backoff_seconds=0.2, sleep=waits.append
    )
    outcome = channels.deliver(ALERT, "webhook", "webhook", ("anna.berg@bank.example",))
    assert (outcome.delivered, outcome.attempts) == (True, 3)
    assert waits == [0.2, 0.4]
    assert len(hook.posts) == 3 and hook.posts[-1]["to"] == ["anna.berg@bank.example"]
    assert hook.posts[-1]["text"].startswith("[WARNING] german_credit drift: 2025-06")


def test_an_undeliverable_webhook_is_recorded_then_delivered_by_a_retry(
    receiver, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hook = receiver([500])
    sink = WebhookAlerts(
        url=hook.url, fallback_path=str(tmp_path / "alerts.jsonl"), attempts=3, backoff_seconds=0
    )
    assert sink.send(ALERT) == str(tmp_path / "alerts.jsonl")  # never raises
    assert len(hook.posts) == 3
    (pending,) = sink.outbox().undelivered()  # type: ignore[union-attr]
    assert (pending.channel, pending.recipient, pending.attempts) == ("webhook", "webhook", 3)
    assert pending.last_error == "HTTP 500" and pending.alert["id"] == ALERT.id
    assert "alert webhook failed after 3 attempt(s)" in caplog.text
    everything = caplog.text + (tmp_path / OUTBOX_FILE).read_text()
    assert SECRET not in everything

    hook.statuses[:] = [200]
    after = sink.redeliver(pending)
    assert (after.status, after.attempts, after.last_error) == ("delivered", 4, None)
    assert hook.posts[-1]["alert"]["id"] == ALERT.id
    assert sink.outbox().undelivered() == []  # type: ignore[union-attr]


def test_an_unreachable_smtp_server_never_fails_the_caller_nor_shows_its_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELOPS_SMTP_PASSWORD", SECRET)
    smtp = SmtpServer(
        host="127.0.0.1", port=free_port(), from_address="m@bank.example", username="m"
    )
    sink = LocalAlerts(path=str(tmp_path / "alerts.jsonl"), smtp=smtp, backoff_seconds=0)
    sink.send(ALERT)
    (pending,) = sink.outbox().undelivered()  # type: ignore[union-attr]
    assert (pending.channel, pending.recipient) == ("email", "anna.berg@bank.example")
    assert pending.attempts == 3 and "ConnectionRefusedError" in (pending.last_error or "")
    assert SECRET not in (tmp_path / OUTBOX_FILE).read_text()


def test_the_outbox_keeps_the_newest_state_of_each_delivery_and_survives_a_cut_line(
    tmp_path: Path,
) -> None:
    outbox = AlertOutbox(tmp_path / OUTBOX_FILE)
    alert = json.loads(ALERT.to_json())
    first = Delivery(
        alert=alert,
        channel="webhook",
        recipient="webhook",
        status="undelivered",
        attempts=3,
        last_error="HTTP 500",
    )
    other = Delivery(
        alert={**alert, "use_case": "other"},
        channel="email",
        recipient="a@b.cc",
        status="undelivered",
        attempts=3,
    )
    outbox.record(first)
    outbox.record(other)
    with (tmp_path / OUTBOX_FILE).open("a") as handle:
        handle.write('{"alert": {"id": "cut')  # a write a crash cut short
    assert [d.use_case for d in outbox.undelivered()] == ["german_credit", "other"]
    outbox.record(first.model_copy(update={"status": "delivered", "attempts": 4}))
    assert [d.use_case for d in outbox.undelivered()] == ["other"]
    assert outbox.deliveries("german_credit")[0].attempts == 4


def test_alerts_raised_before_routing_still_read(tmp_path: Path) -> None:
    """Alert lines written before alerts had an id are read and re-created as they were."""
    line = {k: v for k, v in json.loads(ALERT.to_json()).items() if k != "id"}
    (tmp_path / "alerts.jsonl").write_text(json.dumps(line) + "\n")
    (read,) = LocalAlerts(path=str(tmp_path / "alerts.jsonl")).read()
    again = Alert.from_record(read)
    assert (again.summary, again.owners, again.raised_at) == (
        ALERT.summary,
        ALERT.owners,
        ALERT.raised_at,
    )


def test_the_smtp_server_and_retries_come_from_settings_without_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelops.resources.environment import alerts_for
    from modelops.settings import Settings, SettingsError

    base = {"MODELOPS_HOME": str(tmp_path / "home")}
    env = {
        **base,
        "MODELOPS_SMTP_HOST": "smtp.bank.internal",
        "MODELOPS_SMTP_PORT": "587",
        "MODELOPS_SMTP_FROM": "modelops@bank.example",
        "MODELOPS_SMTP_STARTTLS": "1",
        "MODELOPS_SMTP_PASSWORD": SECRET,
        "MODELOPS_ALERT_ATTEMPTS": "5",
    }
    settings = Settings.from_env(env)
    assert SECRET not in settings.model_dump_json()
    sink = alerts_for(settings)
    assert sink.smtp is not None and (sink.smtp.port, sink.smtp.starttls) == (587, True)
    assert sink.attempts == 5 and sink.backoff_seconds == 0.5
    assert alerts_for(Settings.from_env(base)).smtp is None
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({**env, "MODELOPS_SMTP_PORT": "smtp", "MODELOPS_SMTP_FROM": ""})
    assert "MODELOPS_SMTP_PORT: must be a port number" in str(caught.value)
    assert "MODELOPS_SMTP_FROM: is required with MODELOPS_SMTP_HOST" in str(caught.value)
