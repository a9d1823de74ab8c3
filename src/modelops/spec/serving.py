"""Online serving: what production answers when the model cannot, and how long the decisions
the service makes are kept."""

from __future__ import annotations

from typing import Literal

from pydantic import StrictInt, field_validator

from modelops.spec.base import SpecModel

MIN_RETENTION_DAYS = 183
"""Banks keep credit decisions at least six months; shorter retention is refused."""
MAX_RETENTION_DAYS = 36_600


class Serving(SpecModel):
    """How the use case answers online (`modelops serve`)."""

    fallback_decision: Literal["refer"] = "refer"
    """The answer when the model gives no score (stopped, unavailable, invalid input): a
    person decides. The only value today: the model never declines on its own."""
    decision_log_retention_days: StrictInt = 400
    """Days every online decision is kept in the decision log; older days are deleted by the
    daily `online_decisions` asset (after it stored them as a table)."""

    @field_validator("decision_log_retention_days")
    @classmethod
    def _at_least_six_months(cls, days: int) -> int:
        if days < MIN_RETENTION_DAYS:
            raise ValueError(
                f"must be at least {MIN_RETENTION_DAYS} days: banks keep decisions at least "
                "6 months"
            )
        if days > MAX_RETENTION_DAYS:
            raise ValueError(f"must be at most {MAX_RETENTION_DAYS} days (100 years)")
        return days
