"""A traffic simulator fitted on the real German credit data, and undrifted months drawn once.

Months span several chunks, so chunk boundaries are exercised everywhere. Built once per
session: the generator, the simulator and polars frames are immutable.
"""

from __future__ import annotations

import polars as pl
import pytest

from modelops.simulation.batch import MonthlyBatch
from modelops.simulation.simulator import TrafficSimulator
from modelops.simulation.synthetic import SyntheticApplications
from modelops.spec import UseCaseSpec
from support import GERMAN_DATA


@pytest.fixture(scope="session")
def rows() -> int:
    """Rows of a simulated month: three full chunks and a partial one."""
    return 20_000


@pytest.fixture(scope="session")
def generator(german_spec: UseCaseSpec) -> SyntheticApplications:
    return SyntheticApplications.fit(pl.read_csv(GERMAN_DATA), german_spec)


@pytest.fixture(scope="session")
def sim(generator: SyntheticApplications, german_spec: UseCaseSpec) -> TrafficSimulator:
    return TrafficSimulator(
        generator, german_spec, start_month="2025-01", seed=42, chunk_rows=6_000
    )


@pytest.fixture(scope="session")
def baseline(sim: TrafficSimulator, rows: int) -> dict[int, MonthlyBatch]:
    """Undrifted months, drawn once: scenarios are compared with the very same draws."""
    return {m: sim.month(m, rows) for m in (0, 2, 3, 6, 12)}
