"""Durations as SLA documents write them: '36h', '31d', '2w' (or ISO 8601, P31D)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d|w)\s*$")
_DURATION_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _parse_duration(value: object) -> object:
    """Accept '36h', '31d', '2w' (and plain timedeltas) so SLAs read like an SLA document."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match and value.strip().startswith("P"):
            return value.strip()  # ISO 8601 (P31D), as pydantic writes durations back out
        if not match:
            raise ValueError(f"expected a duration such as '36h', '31d' or '2w', got {value!r}")
        amount, unit = match.groups()
        return timedelta(**{_DURATION_UNITS[unit]: float(amount)})
    return value


def _positive_duration(value: timedelta) -> timedelta:
    if value < timedelta(minutes=1):
        raise ValueError("must be at least one minute (the finest an SLA or cooldown can be)")
    return value


Duration = Annotated[
    timedelta, BeforeValidator(_parse_duration), AfterValidator(_positive_duration)
]
