"""Online serving: what production answers when the model cannot, and how long the decisions
the service makes are kept."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from modelops.spec.base import SpecModel

MIN_RETENTION_DAYS = 183
"""Banks keep credit decisions at least six months; shorter retention is refused."""


class Serving(SpecModel):
    """How the use case answers online (`modelops serve`)."""

    fallback_decision: Literal["refer"] = "refer"
    """The answer when the model gives no score (stopped, unavailable, invalid input): a
    person decides. The only value today: the model never declines on its own."""
    decision_log_retention_days: Annotated[
        int,
        Field(
            ge=MIN_RETENTION_DAYS,
            le=36_600,
            description="days every online decision is kept (at least 183: six months)",
        ),
    ] = 400
