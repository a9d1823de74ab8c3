"""Simulated months: ids join, months follow the calendar and are deterministic, labels arrive
late through the clock, and production batches pass the platform's validation."""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import yaml
from polars.testing import assert_frame_equal

from modelops.ml.validation import MissingColumnsError, validate_batch
from modelops.simulation.batch import APPLICATION_ID, MonthlyBatch
from modelops.simulation.scenarios import BrokenFeature, make_scenario
from modelops.simulation.simulator import Progress, TrafficSimulator
from modelops.simulation.synthetic import SyntheticApplications
from modelops.simulation.writers import Layout
from modelops.spec import UseCaseSpec
from support import GERMAN_DATA, GERMAN_SPEC

TARGET = "creditability"


def labelled(batch: MonthlyBatch) -> pl.DataFrame:
    return batch.applications.join(batch.labels, on=APPLICATION_ID, how="inner")


# The shape of a month ---------------------------------------------------------------------------


def test_applications_never_hold_the_target_and_ids_join_one_to_one(
    sim: TrafficSimulator,
    generator: SyntheticApplications,
    baseline: dict[int, MonthlyBatch],
    rows: int,
):
    batch = baseline[0]
    headers = [h for h in generator.headers if h != TARGET]
    assert batch.applications.columns == [APPLICATION_ID, *headers]
    assert batch.labels.columns == [APPLICATION_ID, TARGET]
    assert batch.month == "2025-01" and batch.applications.height == rows
    assert batch.applications[APPLICATION_ID][:2].to_list() == ["2025-01-1", "2025-01-2"]
    ids = pl.concat([b.applications[APPLICATION_ID] for b in baseline.values()])
    assert ids.n_unique() == len(ids) == rows * len(baseline)
    joined = batch.applications.join(batch.labels, on=APPLICATION_ID, how="full")
    assert joined.height == rows and joined[APPLICATION_ID].null_count() == 0
    assert joined[TARGET].null_count() == 0


def test_months_follow_the_calendar(sim: TrafficSimulator):
    later = TrafficSimulator(sim.generator, sim.spec, start_month="2025-11", seed=1)
    assert [later.month_name(i) for i in (0, 1, 2, 14)] == [
        "2025-11",
        "2025-12",
        "2026-01",
        "2027-01",
    ]
    with pytest.raises(ValueError, match="YYYY-MM"):
        TrafficSimulator(sim.generator, sim.spec, start_month="2025-13", seed=1)


def test_a_month_is_deterministic_for_seed_and_index(
    sim: TrafficSimulator, baseline: dict[int, MonthlyBatch], rows: int
):
    """Month 3 does not depend on which months were drawn before it, nor on the instance."""
    again = TrafficSimulator(
        sim.generator, sim.spec, start_month="2025-01", seed=42, chunk_rows=sim.chunk_rows
    )
    assert_frame_equal(again.month(3, rows).applications, baseline[3].applications)
    assert_frame_equal(again.month(3, rows).labels, baseline[3].labels)
    other_seed = TrafficSimulator(sim.generator, sim.spec, start_month="2025-01", seed=43)
    assert not other_seed.month(3, 1_000).applications.equals(sim.month(3, 1_000).applications)
    strip = pl.col(APPLICATION_ID).str.slice(8)  # the row number, without the month
    assert (
        not baseline[2]
        .applications.with_columns(strip)
        .equals(baseline[3].applications.with_columns(strip))
    )


def test_chunks_add_up_to_the_month(
    sim: TrafficSimulator, baseline: dict[int, MonthlyBatch], rows: int
):
    chunks = list(sim.iter_month(0, rows))
    assert [c.applications.height for c in chunks] == [
        sim.chunk_rows,
        sim.chunk_rows,
        sim.chunk_rows,
        rows - 3 * sim.chunk_rows,
    ]
    assert_frame_equal(pl.concat([c.applications for c in chunks]), baseline[0].applications)
    empty = sim.month(0, 0)
    assert empty.applications.schema == baseline[0].applications.schema
    assert empty.labels.schema == baseline[0].labels.schema


def test_an_empty_month_still_writes_typed_files(
    sim: TrafficSimulator, baseline: dict[int, MonthlyBatch], tmp_path: Path
):
    sim.simulate(2, 0, None, tmp_path, layout=Layout(), on_progress=lambda p: None)
    written = pl.read_parquet(tmp_path / "production" / f"{sim.month_name(1)}.parquet")
    assert written.height == 0
    assert written.schema == baseline[0].applications.schema


# Validation -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [None, "amount_inflation", "new_segment", "default_rate_shift"])
def test_labelled_months_pass_validation_untouched(
    name: str | None, sim: TrafficSimulator, german_spec: UseCaseSpec
):
    scenario = make_scenario(name) if name else None
    outcome = validate_batch(labelled(sim.month(12, 5_000, scenario)), german_spec)
    assert outcome.quarantined.height == 0
    assert outcome.valid.height == 5_000
    assert outcome.ignored_columns == (APPLICATION_ID,)


@pytest.mark.parametrize("name", [None, "amount_inflation", "new_segment", "default_rate_shift"])
def test_production_batches_pass_validation_as_unlabelled(
    name: str | None, sim: TrafficSimulator, german_spec: UseCaseSpec
):
    """Production applications carry no target: validated unlabelled, with the id carried."""
    scenario = make_scenario(name) if name else None
    applications = sim.month(12, 5_000, scenario).applications
    with pytest.raises(MissingColumnsError, match=TARGET):
        validate_batch(applications, german_spec)  # a training batch must have the target
    outcome = validate_batch(applications, german_spec, labelled=False, carry=(APPLICATION_ID,))
    assert outcome.quarantined.height == 0
    assert outcome.valid[APPLICATION_ID].equals(applications[APPLICATION_ID])
    assert german_spec.target.column not in outcome.valid.columns


def test_a_date_column_falls_inside_the_simulated_month(german_spec: UseCaseSpec):
    raw = yaml.safe_load(GERMAN_SPEC.read_text())
    raw["schema"]["columns"].append({"name": "application_date", "type": "date"})
    raw["schema"]["date_column"] = "application_date"
    spec = UseCaseSpec.model_validate(raw)
    dates = pl.date_range(pl.date(2020, 1, 1), pl.date(2022, 9, 26), eager=True)
    real = pl.read_csv(GERMAN_DATA).with_columns(application_date=dates)
    dated = TrafficSimulator(
        SyntheticApplications.fit(real, spec), spec, start_month="2025-12", seed=0
    )
    drawn = dated.month(2, 3_000).applications["application_date"]
    assert drawn.dtype == pl.Date
    assert (drawn.min(), drawn.max()) == (date(2026, 2, 1), date(2026, 2, 28))


# Simulating months through the clock -----------------------------------------------------------


def read(path: Path) -> pl.DataFrame:
    return pl.read_parquet(path)


def test_labels_arrive_only_after_the_delay(sim: TrafficSimulator, tmp_path: Path):
    """Six months with a three-month delay: labels of months 0..2 matured, 3..5 not yet."""
    seen: list[Progress] = []
    summary = sim.simulate(6, 1_500, None, tmp_path, on_progress=seen.append)
    months = [sim.month_name(i) for i in range(6)]
    assert sorted(p.name for p in (tmp_path / "production").iterdir()) == [
        f"{m}.parquet" for m in months
    ]
    assert sorted(p.name for p in (tmp_path / "labels").iterdir()) == [
        f"{m}.parquet" for m in months[:3]
    ]
    for index in (0, 4):
        expected = sim.month(index, 1_500)
        assert_frame_equal(
            read(tmp_path / "production" / f"{months[index]}.parquet"), expected.applications
        )
    assert_frame_equal(
        read(tmp_path / "labels" / f"{months[1]}.parquet"), sim.month(1, 1_500).labels
    )
    # The clock: at month 3 the applications of month 3 and the labels of month 0 appear.
    assert [len(p.written) for p in seen] == [1, 1, 1, 2, 2, 2]
    assert [Path(u).name for u in seen[3].written] == [
        f"{months[3]}.parquet",
        f"{months[0]}.parquet",
    ]
    assert "/labels/" in seen[3].written[1]
    assert (summary.months, summary.rows) == (6, 9_000)
    assert len(summary.applications) == 6 and len(summary.labels) == 3


def test_progress_reports_rows_months_and_eta(
    sim: TrafficSimulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    seen: list[Progress] = []
    sim.simulate(4, 500, None, tmp_path / "a", on_progress=seen.append)
    assert [(p.months_done, p.months_total, p.rows_done, p.rows_total) for p in seen] == [
        (i, 4, 500 * i, 2_000) for i in range(1, 5)
    ]
    assert [p.month for p in seen] == [sim.month_name(i) for i in range(4)]
    assert all(b.elapsed_s >= a.elapsed_s > 0 for a, b in itertools.pairwise(seen))
    assert seen[-1].eta_s == 0 and seen[0].eta_s > 0
    sim.simulate(2, 500, None, tmp_path / "b")  # default callback: one line per month
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert lines[1].startswith(f"[2/2] {sim.month_name(1)}: 1,000/1,000 rows")
    assert "ETA" in lines[1]


def test_a_later_run_writes_the_labels_that_matured_meanwhile(
    sim: TrafficSimulator, tmp_path: Path
):
    sim.simulate(6, 1_000, None, tmp_path, on_progress=lambda p: None)
    later = sim.simulate(3, 1_000, None, tmp_path, first_month=6, on_progress=lambda p: None)
    assert [Path(u).name for u in later.labels] == [
        f"{sim.month_name(i)}.parquet" for i in (3, 4, 5)
    ]
    assert_frame_equal(
        read(tmp_path / "labels" / f"{sim.month_name(4)}.parquet"), sim.month(4, 1_000).labels
    )
    # A rerun keeps every existing file and writes nothing.
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.parquet")}
    again = sim.simulate(6, 1_000, None, tmp_path, on_progress=lambda p: None)
    assert again.applications == again.labels == []
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.parquet")} == before


def test_a_scenario_reaches_the_files(sim: TrafficSimulator, tmp_path: Path):
    scenario = BrokenFeature(start_month=1, column="telephone")
    sim.simulate(2, 800, scenario, tmp_path, layout=Layout(prefix="uc"), on_progress=lambda p: None)
    production = tmp_path / "uc" / "production"
    assert read(production / f"{sim.month_name(0)}.parquet")["telephone"].null_count() == 0
    assert read(production / f"{sim.month_name(1)}.parquet")["telephone"].null_count() == 800
