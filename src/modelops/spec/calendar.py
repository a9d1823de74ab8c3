"""The monitoring calendar: calendar months (UTC) from a spec's `monitoring.start_month`.

The same months Dagster's monthly partitions list (a month counts once it has ended), for
code that runs without Dagster: the release gates' production sample, the histories read by
the sensors and the demo.
"""

from __future__ import annotations

from datetime import UTC, datetime


def ended_months(start_month: str, now: datetime | None = None) -> list[str]:
    """'YYYY-MM' from `start_month` to the last month that has ended at `now` (UTC)."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    year, month = (int(part) for part in start_month.split("-"))
    months = []
    while (year, month) < (moment.year, moment.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months
