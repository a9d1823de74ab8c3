"""Alerts that reach the people a spec names as owners, per environment.

Locally an alert is a JSON line in the platform home (and a line in the Dagster log of the
run or sensor that raised it); in production it is posted to a webhook (Slack, Teams or an
incident tool) whose URL is a secret read from the environment. Sending an alert never fails
the run that raised it: a webhook that cannot be reached is logged, and the alert is kept in
the local file so it is not lost.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import dagster as dg

from modelops.governance.audit_records import AuditEvent
from modelops.resources.audit_log import AuditLog
from modelops.settings import redact
from modelops.spec import UseCaseSpec

Severity = Literal["info", "warning", "critical"]
_log = logging.getLogger("modelops.alerts")


@dataclass(frozen=True, kw_only=True)
class Alert:
    use_case: str
    kind: str
    """What happened: drift, freshness, run_failure, performance, retraining, validation."""
    summary: str
    owners: tuple[str, ...]
    """Who must act: the use case's owners as the spec names them for Dagster."""
    severity: Severity = "warning"
    details: dict[str, Any] = field(default_factory=dict)
    """JSON-serialisable facts; a `champion` entry is the audit record's model version."""
    raised_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, default=str)

    def text(self) -> str:
        """One line for a chat channel or a log."""
        owners = ", ".join(self.owners)
        return f"[{self.severity.upper()}] {self.use_case} {self.kind}: {self.summary} ({owners})"


class AlertSink(dg.ConfigurableResource):
    """Where alerts go. `send` returns where the alert was delivered.

    With an `audit_log`, every alert is also recorded there (alerts and retraining
    triggers belong to the audit trail); a retraining alert is recorded as a
    `retraining_trigger`.
    """

    audit_log: AuditLog | None = None

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
        a problem upstream of the model)."""
        owners = spec.owners.dataset_owners if to_data_owner else spec.owners.dagster_owners
        return self.send(
            Alert(
                use_case=spec.id,
                kind=kind,
                summary=summary,
                owners=tuple(owners),
                severity=severity,
                details=details,
            )
        )

    def send(self, alert: Alert) -> str:
        delivered = self._deliver(alert)
        if self.audit_log is not None:
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
                        "delivered_to": "webhook" if delivered == "webhook" else "local",
                        **{k: v for k, v in alert.details.items() if k != "champion"},
                    },
                )
            )
        return delivered

    def _deliver(self, alert: Alert) -> str:
        raise NotImplementedError


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


class LocalAlerts(AlertSink):
    """Appends alerts to a JSON-lines file (one `write` per alert, so lines never interleave)."""

    path: str

    def _deliver(self, alert: Alert) -> str:
        target = Path(self.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        line = (alert.to_json() + "\n").encode()
        handle = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(handle, line)
        finally:
            os.close(handle)
        _log.warning(alert.text())
        return str(target)

    def read(self) -> list[dict[str, Any]]:
        target = Path(self.path)
        if not target.exists():
            return []
        return [json.loads(line) for line in target.read_text().splitlines() if line.strip()]


class WebhookAlerts(AlertSink):
    """Posts `{"text": ..., "alert": {...}}` to a webhook (Slack-compatible `text`)."""

    url: str
    timeout_seconds: float = 10.0
    fallback_path: str | None = None
    """A local JSON-lines file that keeps alerts the webhook did not accept."""

    def _deliver(self, alert: Alert) -> str:
        body = json.dumps({"text": alert.text(), "alert": json.loads(alert.to_json())}).encode()
        try:
            request = urllib.request.Request(
                self.url, data=body, method="POST", headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                if 200 <= response.status < 300:
                    return "webhook"
                problem = f"HTTP {response.status}"
        except (urllib.error.URLError, OSError, ValueError) as exc:  # ValueError: not a URL
            problem = str(getattr(exc, "reason", exc))
        # The URL is a secret (it authorises posting): never log it, nor any part of it a
        # library's error quotes.
        problem = redact(problem, secrets=[self.url])
        _log.error("alert webhook failed (%s); alert kept locally: %s", problem, alert.text())
        if self.fallback_path:
            return LocalAlerts(path=self.fallback_path)._deliver(alert)
        return "log"
