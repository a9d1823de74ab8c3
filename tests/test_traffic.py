"""Simulated production traffic: drift scenarios do what they claim, ids join, labels arrive
late, files appear atomically, locally and in GCS."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pytest
import yaml
from polars.testing import assert_frame_equal

from conftest import GERMAN_DATA, GERMAN_SPEC
from modelops.ml import traffic
from modelops.ml.synthetic import SyntheticApplications
from modelops.ml.traffic import (
    APPLICATION_ID,
    SCENARIOS,
    AmountInflation,
    BrokenFeature,
    DefaultRateShift,
    GcsTrafficWriter,
    Layout,
    LocalTrafficWriter,
    MonthlyBatch,
    NewSegment,
    Progress,
    Scenario,
    TrafficSimulator,
    make_scenario,
    write_month,
)
from modelops.ml.validation import MissingColumnsError, validate_batch
from modelops.spec import UseCaseSpec

if TYPE_CHECKING:
    from gcs_emulator import EmulatorBucket

pytest_plugins = ["gcs_emulator"]

TARGET, AMOUNT, AGE, PURPOSE = "creditability", "credit_amount", "age_in_years", "purpose"
CHECKING = "status_of_existing_checking_account"
ROWS = 20_000
CHUNK = 6_000  # several chunks per month, so chunk boundaries are exercised everywhere


@pytest.fixture(scope="module")
def generator(german_spec: UseCaseSpec) -> SyntheticApplications:
    return SyntheticApplications.fit(pl.read_csv(GERMAN_DATA), german_spec)


@pytest.fixture(scope="module")
def sim(generator: SyntheticApplications, german_spec: UseCaseSpec) -> TrafficSimulator:
    return TrafficSimulator(
        generator, german_spec, start_month="2025-01", seed=42, chunk_rows=CHUNK
    )


@pytest.fixture(scope="module")
def baseline(sim: TrafficSimulator) -> dict[int, MonthlyBatch]:
    """Undrifted months, drawn once: scenarios are compared with the very same draws."""
    return {m: sim.month(m, ROWS) for m in (0, 2, 3, 6, 12)}


def labelled(batch: MonthlyBatch) -> pl.DataFrame:
    return batch.applications.join(batch.labels, on=APPLICATION_ID, how="inner")


def bad_rate(batch: MonthlyBatch) -> float:
    return (batch.labels[TARGET] == "bad").mean()


# The shape of a month ---------------------------------------------------------------------------


def test_applications_never_hold_the_target_and_ids_join_one_to_one(
    sim: TrafficSimulator, generator: SyntheticApplications, baseline: dict[int, MonthlyBatch]
):
    batch = baseline[0]
    headers = [h for h in generator.headers if h != TARGET]
    assert batch.applications.columns == [APPLICATION_ID, *headers]
    assert batch.labels.columns == [APPLICATION_ID, TARGET]
    assert batch.month == "2025-01" and batch.applications.height == ROWS
    assert batch.applications[APPLICATION_ID][:2].to_list() == ["2025-01-1", "2025-01-2"]
    ids = pl.concat([b.applications[APPLICATION_ID] for b in baseline.values()])
    assert ids.n_unique() == len(ids) == ROWS * len(baseline)
    joined = batch.applications.join(batch.labels, on=APPLICATION_ID, how="full")
    assert joined.height == ROWS and joined[APPLICATION_ID].null_count() == 0
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
    sim: TrafficSimulator, baseline: dict[int, MonthlyBatch]
):
    """Month 3 does not depend on which months were drawn before it, nor on the instance."""
    again = TrafficSimulator(
        sim.generator, sim.spec, start_month="2025-01", seed=42, chunk_rows=CHUNK
    )
    assert_frame_equal(again.month(3, ROWS).applications, baseline[3].applications)
    assert_frame_equal(again.month(3, ROWS).labels, baseline[3].labels)
    other_seed = TrafficSimulator(sim.generator, sim.spec, start_month="2025-01", seed=43)
    assert not other_seed.month(3, 1_000).applications.equals(sim.month(3, 1_000).applications)
    strip = pl.col(APPLICATION_ID).str.slice(8)  # the row number, without the month
    assert (
        not baseline[2]
        .applications.with_columns(strip)
        .equals(baseline[3].applications.with_columns(strip))
    )


def test_chunks_add_up_to_the_month(sim: TrafficSimulator, baseline: dict[int, MonthlyBatch]):
    chunks = list(sim.iter_month(0, ROWS))
    assert [c.applications.height for c in chunks] == [CHUNK, CHUNK, CHUNK, ROWS - 3 * CHUNK]
    assert_frame_equal(pl.concat([c.applications for c in chunks]), baseline[0].applications)
    empty = sim.month(0, 0)
    assert empty.applications.columns == baseline[0].applications.columns
    assert empty.labels.schema == baseline[0].labels.schema


# Scenarios --------------------------------------------------------------------------------------


def test_the_registry_names_the_scenarios():
    assert {"amount_inflation", "new_segment", "broken_feature", "default_rate_shift"} <= set(
        SCENARIOS
    )
    assert make_scenario("broken_feature", start_month=2, column="telephone") == BrokenFeature(
        start_month=2, column="telephone"
    )
    with pytest.raises(KeyError, match="unknown scenario"):
        make_scenario("meteor_strike")
    with pytest.raises(ValueError, match="start_month"):
        AmountInflation(start_month=-1)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_scenario_changes_nothing_before_its_start_month(
    name: str, sim: TrafficSimulator, baseline: dict[int, MonthlyBatch]
):
    scenario = make_scenario(name, start_month=3)
    before = sim.month(2, ROWS, scenario)
    assert_frame_equal(before.applications, baseline[2].applications)
    assert_frame_equal(before.labels, baseline[2].labels)
    at_start = sim.month(3, ROWS, scenario)
    changed = not at_start.applications.equals(baseline[3].applications)
    # Inflation compounds from its start month: the start month itself is the base.
    assert changed == (name != "amount_inflation")


def test_amount_inflation_compounds_monthly_and_touches_only_the_amount(
    sim: TrafficSimulator, baseline: dict[int, MonthlyBatch]
):
    scenario = AmountInflation(start_month=0, yearly_rate=0.10)
    for month, expected in ((0, 1.0), (6, 1.10**0.5), (12, 1.10)):
        shifted = sim.month(month, ROWS, scenario)
        ratio = shifted.applications[AMOUNT].mean() / baseline[month].applications[AMOUNT].mean()
        assert ratio == pytest.approx(expected, rel=1e-3), month
        assert_frame_equal(
            shifted.applications.drop(AMOUNT), baseline[month].applications.drop(AMOUNT)
        )
        assert_frame_equal(shifted.labels, baseline[month].labels)
        assert shifted.applications.schema == baseline[month].applications.schema


def test_new_segment_grows_and_touches_only_age_and_purpose(
    sim: TrafficSimulator, baseline: dict[int, MonthlyBatch]
):
    scenario = NewSegment(start_month=2, initial_share=0.05, monthly_growth=0.03)

    def vacation_share(batch: MonthlyBatch) -> float:
        return (batch.applications[PURPOSE] == "vacation").mean()

    def young_share(batch: MonthlyBatch) -> float:
        return (batch.applications[AGE] < 25).mean()

    assert vacation_share(baseline[2]) == 0  # a purpose the real data never had
    shares = {}
    for month in (2, 6, 12):
        shifted = sim.month(month, ROWS, scenario)
        shares[month] = vacation_share(shifted)
        # Half the segment borrows for a vacation: share x 0.5.
        assert shares[month] == pytest.approx(0.5 * scenario.share(month - 2), abs=0.01)
        young_gain = young_share(shifted) - young_share(baseline[month])
        assert young_gain > 0.5 * scenario.share(month - 2), month
        untouched = [AGE, PURPOSE]
        assert_frame_equal(
            shifted.applications.drop(untouched), baseline[month].applications.drop(untouched)
        )
        assert_frame_equal(shifted.labels, baseline[month].labels)
    assert shares[2] < shares[6] < shares[12]


@pytest.mark.parametrize("column", ["present_employment_since", AMOUNT])
def test_broken_feature_is_all_null_from_its_start_month(
    column: str, sim: TrafficSimulator, baseline: dict[int, MonthlyBatch]
):
    scenario = BrokenFeature(start_month=3, column=column)
    assert sim.month(2, ROWS, scenario).applications[column].null_count() == 0
    for month in (3, 6):
        shifted = sim.month(month, ROWS, scenario)
        assert shifted.applications[column].null_count() == ROWS
        assert shifted.applications.schema == baseline[month].applications.schema
        assert_frame_equal(
            shifted.applications.drop(column), baseline[month].applications.drop(column)
        )
    # The platform's validation sends every row of a broken month to quarantine.
    outcome = validate_batch(labelled(sim.month(3, 2_000, scenario)), sim.spec)
    assert outcome.quarantined.height == 2_000
    assert outcome.failures["column"].to_list() == [
        sim.spec.data_schema.columns[
            [c.header for c in sim.spec.data_schema.columns].index(column)
        ].name
    ]


def test_default_rate_shift_moves_labels_and_features_together(
    sim: TrafficSimulator, generator: SyntheticApplications, baseline: dict[int, MonthlyBatch]
):
    scenario = DefaultRateShift(start_month=3, factor=1.6)
    base_rate = float(generator.prior[generator.classes.to_list().index("bad")])
    shifted = sim.month(6, ROWS, scenario)
    new_rate = bad_rate(shifted)
    assert bad_rate(baseline[6]) == pytest.approx(base_rate, abs=0.015)
    assert new_rate == pytest.approx(1.6 * base_rate, abs=0.015)
    # Features follow the class mix: a feature's share is the mixture of its per-class shares.
    per_class = (
        labelled(baseline[6]).group_by(TARGET).agg((pl.col(CHECKING) == "... < 0 DM").mean())
    )
    share = dict(per_class.iter_rows())
    expected = new_rate * share["bad"] + (1 - new_rate) * share["good"]
    observed = (shifted.applications[CHECKING] == "... < 0 DM").mean()
    before = (baseline[6].applications[CHECKING] == "... < 0 DM").mean()
    assert observed == pytest.approx(expected, abs=0.015)
    assert observed - before > 0.04
    assert labelled(shifted).group_by(TARGET).agg(pl.col(AMOUNT).mean()).sort(TARGET)[
        AMOUNT
    ].to_list() == pytest.approx(
        labelled(baseline[6])
        .group_by(TARGET)
        .agg(pl.col(AMOUNT).mean())
        .sort(TARGET)[AMOUNT]
        .to_list(),
        rel=0.05,
    ), "within a class, applications look as before"
    certain = DefaultRateShift(factor=10).generator(generator, month_offset=0)
    assert certain.prior.tolist() == [1.0, 0.0]


def test_scenarios_compose(sim: TrafficSimulator, baseline: dict[int, MonthlyBatch]):
    both = AmountInflation(start_month=0) + BrokenFeature(start_month=6, column="telephone")
    assert isinstance(both, Scenario) and both.start_month == 0
    at_3, at_6 = sim.month(3, ROWS, both), sim.month(6, ROWS, both)
    assert at_3.applications["telephone"].null_count() == 0
    assert at_6.applications["telephone"].null_count() == ROWS
    assert at_6.applications[AMOUNT].mean() > baseline[6].applications[AMOUNT].mean() * 1.04


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


def test_unlabelled_applications_are_refused_by_todays_validation(
    sim: TrafficSimulator, german_spec: UseCaseSpec
):
    """Pins the gap: validate_batch requires the target, which production batches never
    carry. When validation gains a scoring mode, this test should flip to zero quarantined."""
    with pytest.raises(MissingColumnsError, match=TARGET):
        validate_batch(sim.month(0, 100).applications, german_spec)


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
    assert (drawn.min(), drawn.max()) == (pl.date(2026, 2, 1), pl.date(2026, 2, 28)) or (
        drawn.min() >= pl.select(pl.date(2026, 2, 1)).item()
        and drawn.max() <= pl.select(pl.date(2026, 2, 28)).item()
    )
