"""The recent production window a retrained champion's drift is judged against: the last
valid months, never an incident month, and only when the model learns from production."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from modelops.ml.incident_record import (
    INCIDENTS_FILE,
    RELEASE_FILE,
    Incident,
    MonthIncidents,
    Release,
)
from modelops.monitoring.drift_window import recent_production_reference
from modelops.monitoring.trusted_rows import trusted_features
from modelops.names import (
    DATA_INCIDENTS,
    INCIDENT_RELEASE,
    LABELLED_PRODUCTION,
    PREDICTIONS,
    PRODUCTION_FEATURES,
    monthly,
)
from modelops.spec import UseCaseSpec
from modelops.spec.columns import ROW_ID
from support.fakes import MemoryArtifactStore

UC = "german_credit"


def production_month(store: MemoryArtifactStore, spec: UseCaseSpec, month: str, rows: pl.DataFrame):
    """The month's valid rows with their application ids, as scoring stores them."""
    assert spec.monitoring is not None
    table = rows.with_columns(
        pl.Series(spec.monitoring.id_column, [f"{month}-{i}" for i in range(rows.height)])
    )
    store.store_table(UC, monthly(PRODUCTION_FEATURES, month), table)


def incident(store: MemoryArtifactStore, month: str, *, released_to_teach: bool = False) -> None:
    record = MonthIncidents(
        month=month,
        rows=300,
        incidents=(
            Incident(kind="scale_change", severity="critical", evidence="amount in thousands"),
        ),
    )
    store.store_files(
        UC, monthly(DATA_INCIDENTS, month), {INCIDENTS_FILE: record.model_dump_json().encode()}
    )
    if released_to_teach:
        release = Release(
            by="owner@bank.example",
            at=datetime(2025, 9, 1, tzinfo=UTC),
            reason="checked",
            teach=True,
        )
        store.store_files(
            UC, monthly(INCIDENT_RELEASE, month), {RELEASE_FILE: release.model_dump_json().encode()}
        )


@pytest.fixture
def store(german_spec, german_split) -> MemoryArtifactStore:
    """Four scored months of 300 rows, and labelled production the next training learns from."""
    train, _ = german_split
    store = MemoryArtifactStore()
    for index, month in enumerate(("2025-04", "2025-05", "2025-06", "2025-07")):
        production_month(store, german_spec, month, train.slice(index * 100, 300))
    store.store_table(UC, LABELLED_PRODUCTION, pl.DataFrame({"x": ["1"]}))
    return store


def test_the_last_reference_months_form_the_reference(german_spec, store):
    found = recent_production_reference(store, german_spec)
    assert found is not None
    assert found.months == ("2025-06", "2025-07")  # reference_months: 2
    expected = pl.concat(
        store.read_table(UC, monthly(PRODUCTION_FEATURES, m)).select(german_spec.model_inputs)
        for m in ("2025-06", "2025-07")
    )
    assert found.frame.equals(expected)


def test_an_incident_month_is_skipped_unless_released_to_teach(german_spec, store):
    incident(store, "2025-07")
    assert recent_production_reference(store, german_spec).months == ("2025-05", "2025-06")
    incident(store, "2025-07", released_to_teach=True)
    assert recent_production_reference(store, german_spec).months == ("2025-06", "2025-07")


def test_training_data_stays_the_reference_when_the_model_does_not_learn_from_production(
    german_spec, store
):
    store.store_table(UC, LABELLED_PRODUCTION, pl.DataFrame({"x": []}, schema={"x": pl.String}))
    assert recent_production_reference(store, german_spec) is None
    chosen = german_spec.model_copy(
        update={"drift": german_spec.drift.model_copy(update={"reference": "training"})}
    )
    assert recent_production_reference(MemoryArtifactStore(), chosen) is None


def test_too_few_rows_are_no_reference(german_spec, store):
    assert recent_production_reference(store, german_spec, min_rows=601) is None


def test_rows_flagged_as_outliers_never_form_the_reference(german_spec, store):
    """A value the champion never saw the like of (a unit slipped in one record) would make
    later months look drifted against it."""
    features = store.read_table(UC, monthly(PRODUCTION_FEATURES, "2025-07"))
    flags = [i < 10 for i in range(features.height)]
    store.store_table(
        UC,
        monthly(PREDICTIONS, "2025-07"),
        features.select(ROW_ID).with_columns(pl.Series("outlier_flag", flags)),
    )
    found = recent_production_reference(store, german_spec)
    assert found is not None and found.months == ("2025-06", "2025-07")
    assert found.frame.height == 600 - 10
    kept = trusted_features(store, german_spec, "2025-07").get_column(ROW_ID)
    assert not kept.is_in(features.get_column(ROW_ID).head(10).implode()).any()


def test_a_category_training_never_saw_is_a_segment_and_stays(german_spec, store):
    """Flagged for an allowed but unseen category (vacation loans): a new segment the next
    model must learn. Flagged for an amount outside the training range: left out."""
    features = store.read_table(UC, monthly(PRODUCTION_FEATURES, "2025-07"))
    unusual = ["purpose", "credit_amount", "purpose, credit_amount"] + [None] * (
        features.height - 3
    )
    store.store_table(
        UC,
        monthly(PREDICTIONS, "2025-07"),
        features.select(ROW_ID).with_columns(
            pl.Series("outlier_flag", [u is not None for u in unusual]),
            pl.Series("outlier_inputs", unusual, dtype=pl.String),
        ),
    )
    kept = trusted_features(store, german_spec, "2025-07").get_column(ROW_ID)
    ids = features.get_column(ROW_ID).to_list()
    assert ids[0] in kept and ids[1] not in kept and ids[2] not in kept
    assert kept.len() == features.height - 2
