"""SLAs and ages as people read them: a sub-day SLA in hours and minutes, never '0.1 days'."""

from __future__ import annotations

from datetime import timedelta

import pytest

from modelops.formatting import duration


@pytest.mark.parametrize(
    ("delta", "shown"),
    [
        (timedelta(seconds=20), "0 min"),
        (timedelta(minutes=45), "45 min"),
        (timedelta(minutes=59, seconds=40), "1 h"),
        (timedelta(hours=2), "2 h"),
        (timedelta(hours=2, minutes=30), "2 h 30 min"),
        (timedelta(hours=3, seconds=5), "3 h"),
        (timedelta(hours=23, minutes=59), "23 h 59 min"),
        (timedelta(days=1), "1 day"),
        (timedelta(hours=36), "1.5 days"),
        (timedelta(days=31), "31 days"),
        (timedelta(days=90, minutes=10), "90 days"),
    ],
)
def test_durations_read_in_the_unit_that_fits(delta: timedelta, shown: str) -> None:
    assert duration(delta) == shown
