"""Drift scenarios do what they claim, and nothing before their start month."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from modelops.ml.validation import validate_batch
from modelops.simulation.batch import APPLICATION_ID, MonthlyBatch
from modelops.simulation.scenarios import (
    SCENARIOS,
    AmountInflation,
    BrokenFeature,
    DefaultRateShift,
    NewSegment,
    Scenario,
    make_scenario,
)
from modelops.simulation.simulator import TrafficSimulator
from modelops.simulation.synthetic import SyntheticApplications

TARGET, AMOUNT, AGE, PURPOSE = "creditability", "credit_amount", "age_in_years", "purpose"
CHECKING = "status_of_existing_checking_account"


def labelled(batch: MonthlyBatch) -> pl.DataFrame:
    return batch.applications.join(batch.labels, on=APPLICATION_ID, how="inner")


def class_means(batch: MonthlyBatch, column: str) -> list[float]:
    """Mean of `column` per class, bad first."""
    means = labelled(batch).group_by(TARGET).agg(pl.col(column).mean()).sort(TARGET)
    return means[column].to_list()


def bad_rate(batch: MonthlyBatch) -> float:
    return (batch.labels[TARGET] == "bad").mean()


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
    name: str, sim: TrafficSimulator, baseline: dict[int, MonthlyBatch], rows: int
):
    scenario = make_scenario(name, start_month=3)
    before = sim.month(2, rows, scenario)
    assert_frame_equal(before.applications, baseline[2].applications)
    assert_frame_equal(before.labels, baseline[2].labels)
    at_start = sim.month(3, rows, scenario)
    changed = not at_start.applications.equals(baseline[3].applications)
    # Inflation compounds from its start month: the start month itself is the base.
    assert changed == (name != "amount_inflation")


def test_amount_inflation_compounds_monthly_and_touches_only_the_amount(
    sim: TrafficSimulator, baseline: dict[int, MonthlyBatch], rows: int
):
    scenario = AmountInflation(start_month=0, yearly_rate=0.10)
    for month, expected in ((0, 1.0), (6, 1.10**0.5), (12, 1.10)):
        shifted = sim.month(month, rows, scenario)
        ratio = shifted.applications[AMOUNT].mean() / baseline[month].applications[AMOUNT].mean()
        assert ratio == pytest.approx(expected, rel=1e-3), month
        assert_frame_equal(
            shifted.applications.drop(AMOUNT), baseline[month].applications.drop(AMOUNT)
        )
        assert_frame_equal(shifted.labels, baseline[month].labels)
        assert shifted.applications.schema == baseline[month].applications.schema


def test_new_segment_grows_and_touches_only_age_and_purpose(
    sim: TrafficSimulator, baseline: dict[int, MonthlyBatch], rows: int
):
    scenario = NewSegment(start_month=2, initial_share=0.05, monthly_growth=0.03)

    def vacation_share(batch: MonthlyBatch) -> float:
        return (batch.applications[PURPOSE] == "vacation").mean()

    def young_share(batch: MonthlyBatch) -> float:
        return (batch.applications[AGE] < 25).mean()

    assert vacation_share(baseline[2]) == 0  # a purpose the real data never had
    shares = {}
    for month in (2, 6, 12):
        shifted = sim.month(month, rows, scenario)
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
    column: str, sim: TrafficSimulator, baseline: dict[int, MonthlyBatch], rows: int
):
    scenario = BrokenFeature(start_month=3, column=column)
    assert sim.month(2, rows, scenario).applications[column].null_count() == 0
    for month in (3, 6):
        shifted = sim.month(month, rows, scenario)
        assert shifted.applications[column].null_count() == rows
        assert shifted.applications.schema == baseline[month].applications.schema
        assert_frame_equal(
            shifted.applications.drop(column), baseline[month].applications.drop(column)
        )
    # The platform's validation sends every row of a broken month to quarantine.
    outcome = validate_batch(labelled(sim.month(3, 2_000, scenario)), sim.spec)
    assert outcome.quarantined.height == 2_000
    name = {c.header: c.name for c in sim.spec.data_schema.columns}[column]
    assert outcome.failures["column"].to_list() == [name]


def test_default_rate_shift_moves_labels_and_features_together(
    sim: TrafficSimulator,
    generator: SyntheticApplications,
    baseline: dict[int, MonthlyBatch],
    rows: int,
):
    scenario = DefaultRateShift(start_month=3, factor=1.6)
    base_rate = float(generator.prior[generator.classes.to_list().index("bad")])
    shifted = sim.month(6, rows, scenario)
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
    # Within a class, applications look as before: only the mix of classes moved.
    assert class_means(shifted, AMOUNT) == pytest.approx(class_means(baseline[6], AMOUNT), rel=0.05)
    certain = DefaultRateShift(factor=10).generator(generator, month_offset=0)
    assert certain.prior.tolist() == [1.0, 0.0]


def test_scenarios_compose(sim: TrafficSimulator, baseline: dict[int, MonthlyBatch], rows: int):
    both = AmountInflation(start_month=0) + BrokenFeature(start_month=6, column="telephone")
    assert isinstance(both, Scenario) and both.start_month == 0
    at_3, at_6 = sim.month(3, rows, both), sim.month(6, rows, both)
    assert at_3.applications["telephone"].null_count() == 0
    assert at_6.applications["telephone"].null_count() == rows
    assert at_6.applications[AMOUNT].mean() > baseline[6].applications[AMOUNT].mean() * 1.04


def test_incident_scenarios_last_their_months_then_mend(
    sim: TrafficSimulator, baseline: dict[int, MonthlyBatch], rows: int
):
    from modelops.simulation.scenarios import RenamedCategory, UnitChange

    unit = UnitChange(start_month=2, months=1, divisor=1000)
    broken = sim.month(2, rows, unit).applications[AMOUNT]
    expected = (baseline[2].applications[AMOUNT] / 1000).round()  # an integer column
    assert broken.to_list() == expected.cast(broken.dtype).to_list()
    assert_frame_equal(sim.month(3, rows, unit).applications, baseline[3].applications)
    renamed = RenamedCategory(start_month=2, months=1)
    purposes = sim.month(2, rows, renamed).applications[PURPOSE]
    assert (purposes == renamed.new).sum() > 0 and (purposes == renamed.old).sum() == 0
    assert_frame_equal(sim.month(3, rows, renamed).applications, baseline[3].applications)


def test_a_population_shift_is_one_persistent_step(
    sim: TrafficSimulator, baseline: dict[int, MonthlyBatch], rows: int
):
    """Safer applicants go elsewhere: fewer applications, a higher bad rate, a younger mix;
    the same in every month after the start."""
    from modelops.simulation.scenarios import PopulationShift

    shift = PopulationShift(start_month=2, keep=0.1, young_share=0.3)
    months = [sim.month(m, rows, shift) for m in (2, 6, 12)]
    rates = [bad_rate(m) for m in months]
    assert min(rates) > 1.3 * bad_rate(baseline[2])
    assert max(rates) - min(rates) < 0.04  # a step, not a trend
    volumes = [m.applications.height / rows for m in months]
    assert all(0.3 < v < 0.7 for v in volumes)
    young = [(m.applications[AGE] <= 24).mean() for m in months]
    assert min(young) > 0.3 > (baseline[2].applications[AGE] <= 24).mean()
    # What an application's data says about its outcome does not change: within the
    # applicants who still apply, the bad rate is the baseline's.
    stays = pl.col(CHECKING).is_in(shift.still_applying) & ~pl.col("credit_history").is_in(
        shift.going_elsewhere
    )
    shifted_core = labelled(months[1]).filter(stays)
    baseline_core = labelled(baseline[6]).filter(stays)
    core_rates = [(t[TARGET] == "bad").mean() for t in (shifted_core, baseline_core)]
    assert core_rates[0] == pytest.approx(core_rates[1], abs=0.05)
    assert make_scenario("unit_change@3+population_shift@6").start_month == 3
    with pytest.raises(KeyError, match="<scenario>@<start month>"):
        make_scenario("unit_change@x")
