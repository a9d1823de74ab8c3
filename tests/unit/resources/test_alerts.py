"""Alerts reach their sink: a local JSON-lines file, or a webhook served here on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from modelops.resources.alerts import Alert, LocalAlerts, WebhookAlerts
from modelops.resources.environment import alerts_for
from modelops.settings import Settings
from modelops.spec import UseCaseSpec

ALERT = Alert(
    use_case="german_credit",
    kind="drift",
    summary="12 of 18 features drifted in 2025-06",
    owners=("team:credit-risk-models", "anna.berg@bank.example"),
    details={"month": "2025-06", "drifted_share": 0.67},
)


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def webhook() -> Iterator[tuple[str, type[_Hook]]]:
    hook = type("Hook", (_Hook,), {"received": [], "status": 200})
    server = HTTPServer(("127.0.0.1", 0), hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", hook
    server.shutdown()


def test_local_alerts_append_one_json_line_each(tmp_path: Path) -> None:
    sink = LocalAlerts(path=str(tmp_path / "alerts.jsonl"))
    sink.send(ALERT)
    sink.send(Alert(use_case="x", kind="freshness", summary="late", owners=("a@b.c",)))
    records = sink.read()
    assert [r["kind"] for r in records] == ["drift", "freshness"]
    assert records[0]["owners"] == ["team:credit-risk-models", "anna.berg@bank.example"]
    assert records[0]["details"]["drifted_share"] == 0.67


def test_notify_alerts_the_owners_the_spec_names(tmp_path: Path, german_spec: UseCaseSpec) -> None:
    sink = LocalAlerts(path=str(tmp_path / "alerts.jsonl"))
    sink.notify(german_spec, "performance", "realised AUC 0.61 below the floor", month="2025-06")
    sink.notify(german_spec, "run_failure", "run 1 failed", severity="critical", job="x")
    performance, failure = sink.read()
    assert performance["use_case"] == german_spec.id
    assert performance["owners"] == ["team:credit-risk-models", "anna.berg@bank.example"]
    assert (performance["kind"], performance["severity"]) == ("performance", "warning")
    assert performance["details"] == {"month": "2025-06"}
    assert (failure["severity"], failure["details"]) == ("critical", {"job": "x"})


def test_webhook_receives_the_alert_with_its_owners(webhook, tmp_path: Path) -> None:
    url, hook = webhook
    assert WebhookAlerts(url=url).send(ALERT) == "webhook"
    (payload,) = hook.received
    assert payload["text"].startswith("[WARNING] german_credit drift: 12 of 18 features")
    assert "anna.berg@bank.example" in payload["text"]
    assert payload["alert"]["details"]["month"] == "2025-06"


def test_a_failing_webhook_keeps_the_alert_locally(webhook, tmp_path: Path) -> None:
    url, hook = webhook
    hook.status = 500
    fallback = tmp_path / "kept.jsonl"
    assert WebhookAlerts(url=url, fallback_path=str(fallback)).send(ALERT) == str(fallback)
    assert json.loads(fallback.read_text())["summary"] == ALERT.summary
    # Nothing listening at all: same outcome, no exception reaches the caller.
    gone = WebhookAlerts(
        url="http://127.0.0.1:9/none", timeout_seconds=2, fallback_path=str(fallback)
    )
    assert gone.send(ALERT) == str(fallback)
    assert len(fallback.read_text().splitlines()) == 2


def test_the_environment_chooses_the_sink(tmp_path: Path, monkeypatch, webhook) -> None:
    url, hook = webhook
    base = {"MODELOPS_HOME": str(tmp_path / "home")}
    local = alerts_for(Settings.from_env(base))
    assert isinstance(local, LocalAlerts)
    settings = Settings.from_env({**base, "MODELOPS_ALERT_WEBHOOK_URL": url})
    assert settings.alert_webhook and url not in settings.model_dump_json()
    monkeypatch.setenv("MODELOPS_ALERT_WEBHOOK_URL", url)
    sink = alerts_for(settings)
    assert isinstance(sink, WebhookAlerts)
    # The URL is resolved from the environment when the resource is used (as in a run).
    with sink.process_config_and_initialize_cm() as ready:  # it nests a resource slot
        assert ready.send(ALERT) == "webhook"
    assert len(hook.received) == 1


def test_every_alert_is_also_recorded_in_the_audit_log(tmp_path: Path) -> None:
    from modelops.resources.audit_sqlite import SqliteAuditLog

    log = SqliteAuditLog(path=str(tmp_path / "audit.db"))
    sink = LocalAlerts(path=str(tmp_path / "alerts.jsonl"), audit_log=log)
    sink.send(ALERT)
    sink.send(
        Alert(
            use_case="german_credit",
            kind="retraining",
            summary="retraining requested: drift in 2 of the last 3 months",
            owners=("team:credit-risk-models",),
            details={"champion": "3", "reason": "drift"},
        )
    )
    alert, trigger = log.records(use_case="german_credit")
    assert (alert.event, alert.reason) == ("alert", ALERT.summary)
    assert alert.details["kind"] == ALERT.kind and alert.details["owners"] == list(ALERT.owners)
    assert (trigger.event, trigger.model_version) == ("retraining_trigger", "3")
    assert trigger.details["reason"] == "drift"
    assert log.verify().ok
