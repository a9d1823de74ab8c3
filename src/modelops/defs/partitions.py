"""Monitoring partitions: one per calendar month (UTC) from the spec's `monitoring.start_month`."""

from __future__ import annotations

import dagster as dg

from modelops.spec import UseCaseSpec

PARTITION_TIMEZONE = "UTC"
"""One timezone everywhere: time-window partition mappings fail at run time when two assets'
timezones differ."""


def monthly_partitions(spec: UseCaseSpec) -> dg.MonthlyPartitionsDefinition:
    assert spec.monitoring is not None
    return dg.MonthlyPartitionsDefinition(
        start_date=f"{spec.monitoring.start_month}-01", timezone=PARTITION_TIMEZONE
    )


def month_of(partition_key: str) -> str:
    """'2025-06-01' (Dagster's key) -> '2025-06' (the spec's {month})."""
    return partition_key[:7]
