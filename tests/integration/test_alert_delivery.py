"""Alerts reach the people the spec names, over real channels: a month of production data
breaching the spec's drift limits is e-mailed to the owner through a real SMTP server on
loopback (aiosmtpd) and posted to a chat webhook on loopback; with the webhook down the alert
is retried, recorded as undelivered, listed by `modelops alerts list --undelivered` and
delivered by `modelops alerts retry` once the webhook is back. Review-overdue and stop-switch
alerts are raised where they happen."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
import yaml

from modelops.definitions import build_definitions
from modelops.defs.review_sensor import review_overdue_alerts
from modelops.instance import local_instance
from modelops.resources.alert_outbox import OUTBOX_FILE, AlertOutbox
from modelops.settings import WEBHOOK_VARIABLE, Settings, SmtpSettings
from modelops.spec import load_specs
from modelops.spec.risk import load_risk_policy
from support import GERMAN_SPEC, make_settings, write_spec
from support.alert_receivers import SECRET, Mailbox, WebhookReceiver
from support.monthly_platform import MONTH, UC, score_month, trained_platform
from support.platform_cli import cli

OWNER = "anna.berg@bank.example"
SENDER = "modelops@bank.example"
ATTEMPTS = 3


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Version 1 the champion; the spec's drift limits so tight that any month breaches,
    drift routed to the owners by e-mail, webhook and log, everything else to the log."""
    root = tmp_path_factory.mktemp("alerts")
    spec = yaml.safe_load(GERMAN_SPEC.read_text())
    spec["drift"] = {**spec["drift"], "csi_breach": 0.0001, "reference": "training"}
    spec["alerts"] = {
        "default": {"channels": ["log"]},
        "drift": {"to": ["owners"], "channels": ["email", "webhook", "log"]},
    }
    return trained_platform(root, write_spec(root / "written", spec))


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    yield box
    box.stop()


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver([200])
    yield receiver
    receiver.stop()


def _delivering(
    platform: Settings, mailbox: Mailbox, webhook: WebhookReceiver, monkeypatch
) -> tuple[Settings, dict[str, str]]:
    """The platform with its SMTP server and webhook configured (settings and, for the CLI,
    the environment); retries fast."""
    env = {
        "MODELOPS_SMTP_HOST": "127.0.0.1",
        "MODELOPS_SMTP_PORT": str(mailbox.port),
        "MODELOPS_SMTP_FROM": SENDER,
        WEBHOOK_VARIABLE: webhook.url,
        "MODELOPS_ALERT_ATTEMPTS": str(ATTEMPTS),
        "MODELOPS_ALERT_BACKOFF_SECONDS": "0.05",
    }
    monkeypatch.setenv(WEBHOOK_VARIABLE, webhook.url)  # the run resolves the secret from here
    settings = platform.model_copy(
        update={
            "smtp": SmtpSettings(host="127.0.0.1", port=mailbox.port, from_address=SENDER),
            "alert_webhook": True,
            "alert_attempts": ATTEMPTS,
            "alert_backoff_seconds": 0.05,
        }
    )
    return settings, env


def _alerts(settings: Settings, kind: str) -> list[dict]:
    path = settings.home_dir / "alerts.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [a for a in map(json.loads, lines) if a["kind"] == kind]


def _drift_alert(settings: Settings, before: int) -> dict:
    result = score_month(settings)
    assert any(
        e.is_step_success and e.step_key.endswith("monthly_drift") for e in result.all_events
    ), [e.message for e in result.all_events if e.is_failure]
    drift = _alerts(settings, "drift")
    assert len(drift) == before + 1, drift
    assert drift[-1]["details"]["month"] == MONTH and "drift breach" in drift[-1]["summary"]
    return drift[-1]


def test_a_drift_breach_reaches_the_owner_by_email_and_by_webhook(
    platform: Settings, mailbox: Mailbox, webhook: WebhookReceiver, monkeypatch
) -> None:
    settings, _ = _delivering(platform, mailbox, webhook, monkeypatch)
    alert = _drift_alert(settings, before=len(_alerts(settings, "drift")))

    (mail,) = [m for m in mailbox.mails if alert["summary"][:40] in m.subject]
    assert (mail.sender, mail.recipients) == (SENDER, (OWNER,))
    assert mail.message["To"] == OWNER and mail.message["From"] == SENDER
    assert mail.subject.startswith(f"[WARNING] {UC} drift: {MONTH}: drift breach")
    assert alert["summary"] in mail.body and f"modelops alerts list -u {UC}" in mail.body
    assert SECRET not in mail.body
    # The other kinds (routed to the log only) sent no e-mail.
    assert all("drift" in m.subject for m in mailbox.mails), [m.subject for m in mailbox.mails]

    (post,) = webhook.posts_of(alert["id"])
    assert post["to"] == [OWNER] and post["alert"]["summary"] == alert["summary"]
    assert {p["alert"]["kind"] for p in webhook.posts} == {"drift"}

    outbox = AlertOutbox(settings.home_dir / OUTBOX_FILE)
    delivered = {
        (d.channel, d.recipient): (d.status, d.attempts)
        for d in outbox.deliveries(UC)
        if d.alert["id"] == alert["id"]
    }
    assert delivered == {
        ("email", OWNER): ("delivered", 1),
        ("webhook", "webhook"): ("delivered", 1),
    }


def test_with_the_webhook_down_the_alert_is_retried_recorded_and_delivered_later(
    platform: Settings, mailbox: Mailbox, webhook: WebhookReceiver, monkeypatch
) -> None:
    settings, env = _delivering(platform, mailbox, webhook, monkeypatch)
    webhook.statuses[:] = [500]  # down: every post refused
    alert = _drift_alert(settings, before=len(_alerts(settings, "drift")))

    assert len(webhook.posts_of(alert["id"])) == ATTEMPTS  # retried, then given up
    assert any(alert["summary"][:40] in m.subject for m in mailbox.mails)  # e-mail still went
    (pending,) = AlertOutbox(settings.home_dir / OUTBOX_FILE).undelivered(UC)
    assert pending.alert["id"] == alert["id"]
    assert (pending.channel, pending.attempts, pending.last_error) == ("webhook", 3, "HTTP 500")

    listed = cli(settings, "alerts", "list", "-u", UC, "--undelivered", env=env)
    assert listed.code == 0, listed.printed
    assert alert["summary"] in listed.out
    assert "webhook: UNDELIVERED after 3 attempt(s): 'HTTP 500'" in listed.out
    assert f"email {OWNER}" not in listed.out  # delivered: not listed as undelivered
    assert SECRET not in listed.printed

    still_down = cli(settings, "alerts", "retry", env=env)
    assert still_down.code == 1 and "0 of 1 delivered; 1 still not" in still_down.out
    assert len(webhook.posts_of(alert["id"])) == 2 * ATTEMPTS

    webhook.statuses[:] = [200]  # back up
    retried = cli(settings, "alerts", "retry", env=env)
    assert retried.code == 0, retried.printed
    assert "webhook: delivered (7 attempt(s))" in retried.out and "1 of 1 delivered" in retried.out
    assert webhook.posts_of(alert["id"])[-1]["alert"]["summary"] == alert["summary"]
    after = cli(settings, "alerts", "list", "--undelivered", env=env)
    assert after.out.strip() == "no undelivered alert"
    everything = cli(settings, "alerts", "list", "-u", UC, env=env)
    assert "webhook: delivered (7 attempt(s))" in everything.out


def test_an_overdue_review_alerts_the_owners_once(platform: Settings) -> None:
    defs = build_definitions(platform)
    instance = local_instance(platform.dagster_home)
    specs = load_specs(platform.specs_dir, platform.spec_allowances)
    policy = load_risk_policy(platform.risk_policy_file)
    later = datetime.now(UTC) + timedelta(days=3 * 365)

    def tick(sensor: dg.SensorDefinition, cursor: str | None = None):
        with dg.build_sensor_context(
            instance=instance, cursor=cursor, definitions=defs, resources=defs.resources
        ) as context:
            return sensor.evaluate_tick(context)

    today = tick(defs.resolve_sensor_def("review_overdue_alerts"))
    assert "no review overdue" in (today.skip_message or "")
    assert _alerts(platform, "review_overdue") == []

    sensor = review_overdue_alerts(specs, policy, clock=lambda: later)
    first = tick(sensor)
    (alert,) = _alerts(platform, "review_overdue")
    assert OWNER in alert["owners"] and alert["details"]["champion"] == "1"
    due = alert["details"]["next_review"]
    assert f"was due for review on {due}" in alert["summary"] and due < later.date().isoformat()
    again = tick(sensor, first.cursor)
    assert "already alerted" in (again.skip_message or "")
    assert len(_alerts(platform, "review_overdue")) == 1


def test_the_stop_switch_alerts_the_owners(platform: Settings, tmp_path: Path) -> None:
    stopped = cli(platform, "stop", "-u", UC, "--by", "ops@bank.example", "--reason", "VR-9")
    assert stopped.code == 0, stopped.printed
    resumed = cli(platform, "resume", "-u", UC, "--by", "ops@bank.example", "--reason", "ok")
    assert resumed.code == 0, resumed.printed
    stop, resume = _alerts(platform, "stop_switch")
    assert (stop["severity"], resume["severity"]) == ("critical", "info")
    assert stop["summary"] == "stopped by 'ops@bank.example': every door answers 'refer' ('VR-9')"
    assert OWNER in stop["owners"] and resume["details"]["action"] == "resume"


def test_a_release_blocked_by_its_gates_alerts_the_owners(tmp_path: Path) -> None:
    spec = yaml.safe_load(GERMAN_SPEC.read_text())
    spec["evaluation"] = {**spec["evaluation"], "min_auc": 0.99}  # no model reaches it
    spec["alerts"] = {
        "gate_blocked": {"to": ["owners", "model-risk@bank.example"], "channels": ["log", "email"]}
    }
    write_spec(tmp_path / "specs", spec)
    settings = make_settings(tmp_path, tmp_path / "specs")
    run = cli(settings, "run", "-u", UC)
    assert "blocked" in run.printed, run.printed
    (alert,) = _alerts(settings, "gate_blocked")
    assert alert["summary"].startswith("version 1 blocked by gate(s) ")
    assert "minimum_performance" in alert["details"]["blocking_gates"]
    # The route asks for e-mail and this platform has no SMTP server: recorded, not lost.
    undelivered = AlertOutbox(settings.home_dir / OUTBOX_FILE).undelivered(UC)
    assert {d.recipient for d in undelivered} == {OWNER, "model-risk@bank.example"}
    listed = cli(settings, "alerts", "list", "--undelivered")
    assert "no SMTP server configured (set MODELOPS_SMTP_HOST)" in listed.out
