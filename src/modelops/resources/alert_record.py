"""One alert as it is kept (a JSON line of the local alert file), sent and recorded: what
happened to which use case, who must act, and the facts."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Literal

Severity = Literal["info", "warning", "critical"]


@dataclass(frozen=True, kw_only=True)
class Alert:
    use_case: str
    kind: str
    """What happened: one of `spec.alert_routes.ALERT_KINDS` (drift, freshness, ...)."""
    summary: str
    owners: tuple[str, ...]
    """Who must act: the use case's owners as the spec names them for Dagster."""
    severity: Severity = "warning"
    details: dict[str, Any] = field(default_factory=dict)
    """JSON-serialisable facts; a `champion` entry is the audit record's model version."""
    raised_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    """Ties the alert's deliveries in the outbox to its line in the alert file."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, default=str)

    def text(self) -> str:
        """One line for a chat channel or a log."""
        owners = ", ".join(self.owners)
        return f"[{self.severity.upper()}] {self.use_case} {self.kind}: {self.summary} ({owners})"

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Alert:
        """The alert as a JSON line or an outbox record keeps it."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in record.items() if k in known}
        return cls(**{**values, "owners": tuple(values.get("owners", ()))})
