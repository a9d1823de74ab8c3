"""Who hears about what: the spec's `alerts` section routes each kind of alert to people
(e-mail addresses, or `owners`: the owners the spec names) over named channels.

    alerts:
      default: {to: [owners], channels: [log, email]}     # every kind without a rule
      drift: {to: [owners, model-risk@bank.example], channels: [email, webhook]}
      run_failure: {to: [mlops-oncall@bank.example], channels: [email, webhook, log]}

A kind the platform does not raise is refused when the spec loads (a typo would otherwise
silence an alert). Without the section every kind goes to the owners by the log, and by
e-mail and the chat webhook when the platform configures them (docs/alerts.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field, field_validator

from modelops.spec.base import EMAIL_PATTERN, SpecModel

Channel = Literal["email", "webhook", "log"]
"""`email`: one message per recipient over SMTP; `webhook`: one post to the chat webhook
naming the recipients; `log`: a line in the platform's log."""
CHANNELS: tuple[Channel, ...] = ("log", "email", "webhook")
OWNERS = "owners"
"""Stands for the owners the alert names: the spec's `owners.person` (the data owner for a
problem upstream of the model)."""

_EMAIL = re.compile(EMAIL_PATTERN)


class AlertRoute(SpecModel):
    """Where one kind of alert goes: the people (`to`) and the channels."""

    to: Annotated[tuple[str, ...], Field(min_length=1)] = (OWNERS,)
    channels: Annotated[tuple[Channel, ...], Field(min_length=1)] = ("log", "email")

    @field_validator("to")
    @classmethod
    def _people(cls, to: tuple[str, ...]) -> tuple[str, ...]:
        for person in to:
            if person != OWNERS and not _EMAIL.match(person):
                raise ValueError(
                    f"{person!r} is not a recipient: write an e-mail address, or "
                    f"'{OWNERS}' for the owners the spec names"
                )
        return tuple(dict.fromkeys(to))

    @field_validator("channels")
    @classmethod
    def _once_each(cls, channels: tuple[Channel, ...]) -> tuple[Channel, ...]:
        repeated = sorted({c for c in channels if channels.count(c) > 1})
        if repeated:
            raise ValueError(f"channel(s) named twice: {', '.join(repeated)}")
        return channels


class _Routes(SpecModel):
    """One optional route per kind: an unknown kind is an unknown key (refused, with the
    closest known kind suggested)."""

    run_failure: AlertRoute | None = None
    gate_blocked: AlertRoute | None = None
    drift: AlertRoute | None = None
    freshness: AlertRoute | None = None
    performance: AlertRoute | None = None
    review_overdue: AlertRoute | None = None
    stop_switch: AlertRoute | None = None
    retraining: AlertRoute | None = None
    escalation: AlertRoute | None = None
    validation: AlertRoute | None = None
    data_incident: AlertRoute | None = None
    fairness: AlertRoute | None = None
    scoring: AlertRoute | None = None
    serving: AlertRoute | None = None


ALERT_KINDS: tuple[str, ...] = tuple(_Routes.model_fields)
"""Every kind of alert the platform raises (`AlertSink.notify`); each may have a route."""


@dataclass(frozen=True)
class ResolvedRoute:
    """The route an alert of one kind takes. `written`: the spec wrote it, so every channel
    is required (one the platform does not configure is recorded as undelivered); the
    platform's default only uses e-mail and the webhook where they are configured."""

    kind: str
    to: tuple[str, ...]
    channels: tuple[Channel, ...]
    written: bool

    def people(self, owners: tuple[str, ...]) -> tuple[str, ...]:
        """E-mail addresses: `owners` replaced by the alert's owners that are addresses."""
        named: list[str] = []
        for person in self.to:
            named += [o for o in owners if _EMAIL.match(o)] if person == OWNERS else [person]
        return tuple(dict.fromkeys(named))


DEFAULT_ROUTE = ResolvedRoute("*", (OWNERS,), CHANNELS, written=False)
"""Without a rule: the owners, by the log, and by e-mail and webhook where configured."""


class AlertRoutes(_Routes):
    """The `alerts` section: a `default` route and one route per kind that needs its own."""

    default: AlertRoute | None = None
    """Kinds without a route of their own; absent: the platform's default (`DEFAULT_ROUTE`)."""

    def route_for(self, kind: str) -> ResolvedRoute:
        """The route of `kind`: its own, else the written default, else the platform's."""
        own = getattr(self, kind, None) if kind in ALERT_KINDS else None
        if isinstance(own, AlertRoute):
            return ResolvedRoute(kind, own.to, own.channels, written=True)
        if self.default is not None:
            return ResolvedRoute(kind, self.default.to, self.default.channels, written=True)
        return ResolvedRoute(kind, DEFAULT_ROUTE.to, DEFAULT_ROUTE.channels, written=False)
