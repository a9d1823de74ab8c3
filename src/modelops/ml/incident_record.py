"""What the classification of a production month records (`incidents.json` of the month's
`data_incidents` asset): the data incidents found, the worst severity, what the spec made of
the month, and whether a person released it. Read by the scoring step (refer or hold), the
retraining sensor (incident months never count as drift) and the labelled-production step
(incident months never teach)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from modelops.spec.incidents import IncidentAction, IncidentKind, IncidentSeverity

INCIDENTS_FILE = "incidents.json"
RELEASE_FILE = "release.json"


class Incident(BaseModel):
    """One data incident: what broke, where, and the evidence in words and figures."""

    model_config = ConfigDict(frozen=True)

    kind: IncidentKind
    severity: IncidentSeverity
    column: str | None = None
    evidence: str
    """One sentence a data owner can act on ("credit_amount: median 2.3 vs 2,320 in training
    (a factor of 1,000)")."""
    share: float | None = None
    """The share of the month's rows concerned, where it applies."""


class Release(BaseModel):
    """A person's decision to let an incident month be scored and, optionally, teach."""

    model_config = ConfigDict(frozen=True)

    by: str
    at: datetime
    reason: str
    teach: bool = False
    """Whether the month may also join training data and drift references."""


class MonthIncidents(BaseModel):
    """A production month's classification."""

    model_config = ConfigDict(frozen=True)

    month: str
    rows: int
    incidents: tuple[Incident, ...] = ()
    action: IncidentAction = "score"
    """What the spec's `monitoring.incidents.actions` made of the worst severity."""
    release: Release | None = None

    @property
    def severity(self) -> IncidentSeverity | None:
        if not self.incidents:
            return None
        return "critical" if any(i.severity == "critical" for i in self.incidents) else "warning"

    @property
    def is_incident(self) -> bool:
        return bool(self.incidents)

    @property
    def held(self) -> bool:
        """Nothing is answered until a person releases the month."""
        return self.action == "hold" and self.release is None

    @property
    def teaches(self) -> bool:
        """Whether the month may join training data and drift references."""
        return not self.incidents or (self.release is not None and self.release.teach)

    def headline(self) -> str:
        if not self.incidents:
            return f"{self.month}: no data incident ({self.rows} rows)"
        kinds = ", ".join(dict.fromkeys(i.kind for i in self.incidents))
        return f"{self.month}: {self.severity} data incident ({kinds}); action {self.action}"
