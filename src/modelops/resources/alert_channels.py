"""How one alert reaches one recipient on one channel: an e-mail over SMTP (standard library
`smtplib`), a post to the chat webhook, or a line in the log; each tried a few times with
exponential backoff, so a receiver that blinks does not lose the alert.

Nothing secret leaves here: the webhook URL (it authorises posting) and the SMTP password
are redacted from every error a library quotes, and never part of a message or a record.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage

import dagster as dg

from modelops.resources.alert_record import Alert
from modelops.settings import SMTP_PASSWORD_VARIABLE, redact
from modelops.spec.alert_routes import Channel, ResolvedRoute

_log = logging.getLogger("modelops.alerts")
WEBHOOK = "webhook"
LOG = "log"
"""The recipient a webhook post or a log line is recorded under (the people it names are
in the record's `people`)."""


class SmtpServer(dg.Config):
    """Where e-mails are sent from: host, port, sender, STARTTLS and the login name (the
    password is read from MODELOPS_SMTP_PASSWORD when logging in)."""

    host: str
    port: int = 25
    from_address: str
    starttls: bool = False
    username: str | None = None


class NotConfigured(Exception):
    """The route names a channel the platform does not provide: retrying cannot help."""


@dataclass(frozen=True)
class Outcome:
    """What trying one delivery came to: `error` is None when it was delivered."""

    attempts: int
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class AlertChannels:
    """The channels the platform provides, and how hard each is tried."""

    smtp: SmtpServer | None = None
    webhook_url: str | None = None
    attempts: int = 3
    backoff_seconds: float = 0.5
    """The wait before the second try; doubled before each further one."""
    timeout_seconds: float = 10.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def targets(self, alert: Alert, route: ResolvedRoute) -> list[tuple[Channel, str]]:
        """(channel, recipient) of every delivery `route` asks for. The platform's default
        route skips e-mail and the webhook where they are not configured; a written route
        keeps them (and they are recorded as undelivered, so the gap is seen)."""
        wanted: list[tuple[Channel, str]] = []
        for channel in route.channels:
            if channel == "email" and (self.smtp is not None or route.written):
                wanted += [("email", person) for person in route.people(alert.owners)]
            elif channel == "webhook" and (self.webhook_url or route.written):
                wanted.append(("webhook", WEBHOOK))
            elif channel == "log":
                wanted.append(("log", LOG))
        return wanted

    def deliver(
        self, alert: Alert, channel: Channel, recipient: str, people: tuple[str, ...]
    ) -> Outcome:
        """Try one delivery up to `attempts` times; never raises."""
        send: Callable[[], None] = {
            "email": lambda: self._email(alert, recipient),
            "webhook": lambda: self._webhook(alert, people),
            "log": lambda: _log.warning(alert.text()),
        }[channel]
        error = "not tried"
        for attempt in range(1, max(self.attempts, 1) + 1):
            try:
                send()
                return Outcome(attempt)
            except NotConfigured as exc:
                return Outcome(attempt, str(exc))
            except Exception as exc:  # every failure is retried, then recorded
                error = self._redacted(_reason(exc))
            if attempt < self.attempts:
                self.sleep(self.backoff_seconds * 2 ** (attempt - 1))
        return Outcome(max(self.attempts, 1), error)

    def _email(self, alert: Alert, recipient: str) -> None:
        if self.smtp is None:
            raise NotConfigured("no SMTP server configured (set MODELOPS_SMTP_HOST)")
        message = EmailMessage()
        message["From"] = self.smtp.from_address
        message["To"] = recipient
        message["Subject"] = " ".join(alert.text().split())[:180]
        message.set_content(email_body(alert))
        with smtplib.SMTP(self.smtp.host, self.smtp.port, timeout=self.timeout_seconds) as smtp:
            if self.smtp.starttls:
                smtp.starttls()
            if self.smtp.username:
                smtp.login(self.smtp.username, os.environ.get(SMTP_PASSWORD_VARIABLE, ""))
            smtp.send_message(message, to_addrs=[recipient])

    def _webhook(self, alert: Alert, people: tuple[str, ...]) -> None:
        url = _resolved(self.webhook_url)
        if not url:
            raise NotConfigured("no webhook configured (set MODELOPS_ALERT_WEBHOOK_URL)")
        body = {"text": alert.text(), "alert": json.loads(alert.to_json()), "to": list(people)}
        request = urllib.request.Request(
            url,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
            if not 200 <= response.status < 300:
                raise OSError(f"HTTP {response.status}")

    def _redacted(self, text: str) -> str:
        secrets = [_resolved(self.webhook_url) or "", os.environ.get(SMTP_PASSWORD_VARIABLE, "")]
        return redact(text, secrets=secrets)


def email_body(alert: Alert) -> str:
    """The alert in plain text: what happened, who must act, the facts, where it is kept."""
    lines = [
        alert.summary,
        "",
        f"Use case: {alert.use_case}",
        f"Kind: {alert.kind} ({alert.severity})",
        f"Owners: {', '.join(alert.owners)}",
        f"Raised at: {alert.raised_at}",
    ]
    if alert.details:
        lines += ["", "Details:", json.dumps(alert.details, indent=2, sort_keys=True, default=str)]
    lines += ["", f"Every alert of the use case: modelops alerts list -u {alert.use_case}"]
    return "\n".join(lines)


def _resolved(url: str | None) -> str | None:
    """A URL given as `dg.EnvVar` is resolved here (outside a run nothing resolves it)."""
    if isinstance(url, dg.EnvVar):
        return url.get_value()
    return url


def _reason(exc: Exception) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    reason = getattr(exc, "reason", None)
    return f"{type(exc).__name__}: {reason if reason is not None else exc}"
