"""Alerts that reach the people a spec names, over the channels its `alerts` section routes
each kind to (docs/alerts.md).

Every alert is first kept as a JSON line in the platform home, so it is never lost; then it
is delivered per its route: an e-mail per recipient over SMTP, a post to the chat webhook
(Slack, Teams or an incident tool; the URL is a secret read from the environment), a line in
the log. Each delivery is retried with backoff and its outcome recorded in the outbox beside
the alert file; one still undelivered is shown by `modelops alerts list --undelivered` and
sent again by `modelops alerts retry`. Sending an alert never fails the run that raised it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import dagster as dg

from modelops.governance.audit_records import AuditEvent
from modelops.resources.alert_channels import AlertChannels, Outcome, SmtpServer
from modelops.resources.alert_outbox import OUTBOX_FILE, AlertOutbox, Delivery, append_line
from modelops.resources.alert_record import Alert, Severity
from modelops.resources.audit_log import AuditLog
from modelops.spec import UseCaseSpec
from modelops.spec.alert_routes import DEFAULT_ROUTE, Channel, ResolvedRoute

ALERTS_FILE = "alerts.jsonl"
_log = logging.getLogger("modelops.alerts")
RECORDED_BY_THE_ACTION = frozenset({"stop_switch"})
"""Kinds not recorded again as `alert`: the signed stop/resume record is their audit entry."""


class AlertSink(dg.ConfigurableResource):
    """Where alerts go. `send` returns where the alert was delivered: `webhook` when the
    webhook took it, else the local alert file (or `log` without one).

    With an `audit_log`, every alert is also recorded there (alerts and retraining
    triggers belong to the audit trail); a retraining alert is recorded as a
    `retraining_trigger`.
    """

    audit_log: AuditLog | None = None
    smtp: SmtpServer | None = None
    """The SMTP server of the e-mail channel; None: no e-mail (a route that asks for it
    records the e-mail as undelivered)."""
    attempts: int = 3
    backoff_seconds: float = 0.5
    timeout_seconds: float = 10.0

    def notify(
        self,
        spec: UseCaseSpec,
        kind: str,
        summary: str,
        *,
        severity: Severity = "warning",
        to_data_owner: bool = False,
        **details: Any,
    ) -> str:
        """Alert the owners of `spec`'s use case (`to_data_owner`: the owners of its data, for
        a problem upstream of the model) and whoever the spec routes `kind` to."""
        owners = spec.owners.dataset_owners if to_data_owner else spec.owners.dagster_owners
        alert = Alert(
            use_case=spec.id,
            kind=kind,
            summary=summary,
            owners=tuple(owners),
            severity=severity,
            details=details,
        )
        return self.send(alert, spec.alerts.route_for(kind))

    def send(self, alert: Alert, route: ResolvedRoute | None = None) -> str:
        """Keep, deliver per `route` (the platform's default without one), audit."""
        kept = self._keep(alert)
        route = route or ResolvedRoute(alert.kind, DEFAULT_ROUTE.to, DEFAULT_ROUTE.channels, False)
        outcomes = self._dispatch(alert, route)
        webhook = any(c == "webhook" and o.delivered for (c, _), o in outcomes.items())
        delivered = "webhook" if webhook else kept or "log"
        if self.audit_log is not None and alert.kind not in RECORDED_BY_THE_ACTION:
            self.audit_log.append(
                AuditEvent(
                    event="retraining_trigger" if alert.kind == "retraining" else "alert",
                    actor="dagster:alerts",
                    use_case=alert.use_case,
                    reason=alert.summary,
                    model_version=_text_or_none(alert.details.get("champion")),
                    details={
                        "kind": alert.kind,
                        "severity": alert.severity,
                        "owners": list(alert.owners),
                        "delivered_to": "webhook" if webhook else "local",
                        "deliveries": [
                            f"{c} {r}: " + ("delivered" if o.delivered else "undelivered")
                            for (c, r), o in outcomes.items()
                        ],
                        **{k: v for k, v in alert.details.items() if k != "champion"},
                    },
                )
            )
        return delivered

    def redeliver(self, delivery: Delivery) -> Delivery:
        """Try an undelivered delivery again; its new state is recorded and returned."""
        alert = Alert.from_record(delivery.alert)
        outcome = self.channels().deliver(
            alert, delivery.channel, delivery.recipient, delivery.people
        )
        return self._record(
            alert,
            delivery.channel,
            delivery.recipient,
            delivery.people,
            outcome,
            earlier=delivery.attempts,
        )

    def channels(self) -> AlertChannels:
        return AlertChannels(
            smtp=self.smtp,
            webhook_url=self._webhook_url(),
            attempts=self.attempts,
            backoff_seconds=self.backoff_seconds,
            timeout_seconds=self.timeout_seconds,
        )

    def read(self) -> list[dict[str, Any]]:
        """Every alert kept in the local alert file, oldest first (a line a crash cut short
        is skipped)."""
        local = self._local_path()
        target = Path(local) if local else None
        if target is None or not target.exists():
            return []
        kept = []
        for line in target.read_text().splitlines():
            try:
                kept.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return kept

    def outbox(self) -> AlertOutbox | None:
        """Delivery records beside the local alert file (none without one)."""
        local = self._local_path()
        return AlertOutbox(Path(local).with_name(OUTBOX_FILE)) if local else None

    def _dispatch(self, alert: Alert, route: ResolvedRoute) -> dict[tuple[Channel, str], Outcome]:
        channels = self.channels()
        people = route.people(alert.owners)
        outcomes: dict[tuple[Channel, str], Outcome] = {}
        for channel, recipient in channels.targets(alert, route):
            outcome = channels.deliver(alert, channel, recipient, people)
            outcomes[(channel, recipient)] = outcome
            if channel != "log" or not outcome.delivered:  # a log line needs no record
                self._record(alert, channel, recipient, people, outcome)
            if not outcome.delivered:
                _log.error(
                    "alert %s failed after %d attempt(s) (%s); recorded as undelivered: %s",
                    channel if channel != "email" else f"e-mail to {recipient}",
                    outcome.attempts,
                    outcome.error,
                    alert.text(),
                )
        return outcomes

    def _record(
        self,
        alert: Alert,
        channel: Channel,
        recipient: str,
        people: tuple[str, ...],
        outcome: Outcome,
        earlier: int = 0,
    ) -> Delivery:
        delivery = Delivery(
            alert=json.loads(alert.to_json()),
            channel=channel,
            recipient=recipient,
            people=people,
            status="delivered" if outcome.delivered else "undelivered",
            attempts=earlier + outcome.attempts,
            last_error=outcome.error,
        )
        outbox = self.outbox()
        if outbox is not None:
            try:
                outbox.record(delivery)
            except OSError as exc:  # the alert file still has the alert
                _log.error("could not record an alert delivery: %s", exc)
        return delivery

    def _keep(self, alert: Alert) -> str | None:
        """The alert as a JSON line in the local alert file; its path, or None."""
        local = self._local_path()
        if not local:
            return None
        target = Path(local)
        try:
            append_line(target, alert.to_json())
        except OSError as exc:
            _log.error("could not keep the alert in %s: %s; %s", target, exc, alert.text())
            return None
        return str(target)

    def _local_path(self) -> str | None:
        return None

    def _webhook_url(self) -> str | None:
        return None


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


class LocalAlerts(AlertSink):
    """Keeps alerts in a JSON-lines file (one `write` per alert, so lines never interleave);
    delivered by the log, and by e-mail where an SMTP server is configured."""

    path: str

    def _local_path(self) -> str | None:
        return self.path


class WebhookAlerts(AlertSink):
    """Also posts `{"text": ..., "alert": {...}, "to": [...]}` to a webhook (Slack-compatible
    `text`); `fallback_path` is the local JSON-lines file every alert is kept in."""

    url: str
    fallback_path: str | None = None

    def _local_path(self) -> str | None:
        return self.fallback_path

    def _webhook_url(self) -> str | None:
        return self.url
