"""Simulated production traffic: drift scenarios do what they claim, ids join, labels arrive
late, files appear atomically, locally and in GCS."""

from __future__ import annotations

import errno
import itertools
import os
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest
import yaml
from polars.testing import assert_frame_equal

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
from support import GERMAN_DATA, GERMAN_SPEC

if TYPE_CHECKING:
    from support.gcs_emulator import EmulatorBucket


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


def class_means(batch: MonthlyBatch, column: str) -> list[float]:
    """Mean of `column` per class, bad first."""
    means = labelled(batch).group_by(TARGET).agg(pl.col(column).mean()).sort(TARGET)
    return means[column].to_list()


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
    assert empty.applications.schema == baseline[0].applications.schema
    assert empty.labels.schema == baseline[0].labels.schema


def test_an_empty_month_still_writes_typed_files(
    sim: TrafficSimulator, baseline: dict[int, MonthlyBatch], tmp_path: Path
):
    sim.simulate(2, 0, None, tmp_path, layout=Layout(), on_progress=lambda p: None)
    written = pl.read_parquet(tmp_path / "production" / f"{sim.month_name(1)}.parquet")
    assert written.height == 0
    assert written.schema == baseline[0].applications.schema


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
    name = {c.header: c.name for c in sim.spec.data_schema.columns}[column]
    assert outcome.failures["column"].to_list() == [name]


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
    # Within a class, applications look as before: only the mix of classes moved.
    assert class_means(shifted, AMOUNT) == pytest.approx(class_means(baseline[6], AMOUNT), rel=0.05)
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


def test_write_month_streams_chunks_and_writes_both_files(sim: TrafficSimulator, tmp_path: Path):
    files = write_month(sim.iter_month(2, ROWS), tmp_path, Layout(prefix="german_credit"))
    folder = tmp_path / "german_credit"
    assert files.applications == (folder / "production" / "2025-03.parquet").resolve().as_uri()
    month = sim.month(2, ROWS)
    assert_frame_equal(read(folder / "production" / "2025-03.parquet"), month.applications)
    assert_frame_equal(read(folder / "labels" / "2025-03.parquet"), month.labels)
    mixed = [*sim.iter_month(0, 10), *sim.iter_month(1, 10)]
    with pytest.raises(ValueError, match="mixed"):
        write_month(mixed, tmp_path / "mixed")
    assert not list((tmp_path / "mixed").rglob("*.parquet"))


# The local writer is atomic and create-only ----------------------------------------------------


def test_a_crash_half_way_through_a_month_leaves_no_file(
    sim: TrafficSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    original = TrafficSimulator.iter_month

    def dies_after_one_chunk(self: TrafficSimulator, *args: object, **kwargs: object):
        chunks = original(self, *args, **kwargs)
        yield next(chunks)
        raise OSError("simulated crash while generating")

    month = sim.month_name(0)
    target = tmp_path / "production" / f"{month}.parquet"
    with monkeypatch.context() as patch, pytest.raises(OSError, match="simulated crash"):
        patch.setattr(TrafficSimulator, "iter_month", dies_after_one_chunk)
        sim.simulate(1, ROWS, None, tmp_path, on_progress=lambda p: None)
    assert not target.exists()
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == []
    sim.simulate(1, ROWS, None, tmp_path, on_progress=lambda p: None)
    assert read(target).height == ROWS


def test_the_local_writer_publishes_whole_files_once(tmp_path: Path):
    writer = LocalTrafficWriter(tmp_path)
    with writer.create("labels/2025-01.parquet") as temp:
        # While being written the content sits in a hidden temp file beside the target.
        assert temp.parent == tmp_path / "labels" and temp.name.startswith(".")
        temp.write_bytes(b"first")
        assert not writer.exists("labels/2025-01.parquet")
    with writer.create("labels/2025-01.parquet") as temp:
        temp.write_bytes(b"second")
    assert (tmp_path / "labels" / "2025-01.parquet").read_bytes() == b"first"
    with pytest.raises(RuntimeError), writer.create("labels/2025-02.parquet") as temp:
        temp.write_bytes(b"half")
        raise RuntimeError("crash")
    assert sorted(p.name for p in (tmp_path / "labels").iterdir()) == ["2025-01.parquet"]
    with pytest.raises(ValueError, match="safe"):
        writer.exists("../outside.parquet")


def test_the_local_writer_renames_where_hard_links_are_unsupported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    def no_links(src: str, dst: str) -> None:
        raise OSError(errno.EPERM, "hard links not supported")

    monkeypatch.setattr(traffic.os, "link", no_links)
    writer = LocalTrafficWriter(tmp_path)
    with writer.create("a.parquet") as temp:
        temp.write_bytes(b"content")
    assert (tmp_path / "a.parquet").read_bytes() == b"content"
    assert os.listdir(tmp_path) == ["a.parquet"]


# The GCS writer, against the emulator -----------------------------------------------------------


@pytest.mark.integration
def test_simulating_into_a_gcs_bucket(sim: TrafficSimulator, gcs_bucket: EmulatorBucket):
    bucket = gcs_bucket.client().bucket(gcs_bucket.name)
    writer = GcsTrafficWriter(bucket, prefix="traffic/german_credit")
    summary = sim.simulate(4, 1_000, None, writer, on_progress=lambda p: None)
    months = [sim.month_name(i) for i in range(4)]
    assert gcs_bucket.object_names() == sorted(
        [f"traffic/german_credit/production/{m}.parquet" for m in months]
        + ["traffic/german_credit/labels/2025-01.parquet"]
    )
    assert summary.labels == [
        f"gs://{gcs_bucket.name}/traffic/german_credit/labels/2025-01.parquet"
    ]
    stored = gcs_bucket.download(f"traffic/german_credit/production/{months[2]}.parquet")
    assert_frame_equal(pl.read_parquet(stored), sim.month(2, 1_000).applications)
    # Every object was created with a create-only precondition, once.
    uploads = [r for r in gcs_bucket.server.requests() if "POST /upload/" in r]
    uploads = [r for r in uploads if f"/b/{gcs_bucket.name}/o?" in r]
    assert len(uploads) == 5 and all("ifGenerationMatch=0" in r for r in uploads), uploads
    again = sim.simulate(4, 1_000, None, writer, on_progress=lambda p: None)
    assert again.applications == []


def test_the_gcs_writer_keeps_a_concurrent_writers_object(
    gcs_bucket: EmulatorBucket, monkeypatch: pytest.MonkeyPatch
):
    """GCS answers 412 when the object appeared meanwhile (simulated: the emulator does not
    enforce preconditions); the writer keeps that object instead of failing the month."""
    from google.api_core.exceptions import PreconditionFailed
    from google.cloud import storage

    writer = GcsTrafficWriter(gcs_bucket.client().bucket(gcs_bucket.name))
    gcs_bucket.upload("production/2025-01.parquet", b"winner")

    def refused(self: storage.Blob, filename: str, **kwargs: object) -> None:
        assert kwargs.get("if_generation_match") == 0
        raise PreconditionFailed("At least one of the pre-conditions you specified did not hold.")

    with monkeypatch.context() as patch, writer.create("production/2025-01.parquet") as temp:
        patch.setattr(storage.Blob, "upload_from_filename", refused)
        temp.write_bytes(b"loser")
    assert gcs_bucket.download("production/2025-01.parquet") == b"winner"
    with pytest.raises(RuntimeError), writer.create("production/2025-02.parquet") as temp:
        temp.write_bytes(b"half a month")
        raise RuntimeError("crash before the upload")
    assert gcs_bucket.object_names() == ["production/2025-01.parquet"]
    assert writer.uri("production/2025-01.parquet") == (
        f"gs://{gcs_bucket.name}/production/2025-01.parquet"
    )
