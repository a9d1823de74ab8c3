"""One answer per application: repeated ids within a batch (per
`monitoring.incidents.duplicates`), ids answered in earlier months, labels repeating an id,
and realised performance counting an application answered twice once."""

from __future__ import annotations

import io

import numpy as np
import polars as pl
import pytest

from modelops.ml.batch_parsing import batch_filename
from modelops.ml.duplicate_ids import (
    RepeatedIdsError,
    earlier_ids_failures,
    latest_answers,
    require_unique_ids,
)
from modelops.ml.metrics import binary_metrics
from modelops.ml.realised_performance import measure_realised_performance
from modelops.ml.validation import validate_batch
from modelops.monitoring.labelled_production import assemble_labelled_production
from modelops.names import BATCH, LABELS, PREDICTIONS, PRODUCTION_FEATURES, monthly
from modelops.resources.storage import LocalArtifactStore
from modelops.spec import UseCaseSpec
from modelops.spec.columns import ROW_ID
from support import GERMAN_DATA

ID = "application_id"


@pytest.fixture(scope="module")
def applications() -> pl.DataFrame:
    """Six production applications (no outcome), as a CSV source reads them."""
    raw = pl.read_csv(GERMAN_DATA, infer_schema=False).head(6).drop("creditability")
    return raw.with_columns(pl.Series(ID, ["A-1", "A-2", "A-1", "A-3", "A-1", None]))


def _spec(spec_dict: dict, policy: str, *, allow_copies: bool = False) -> UseCaseSpec:
    spec_dict["monitoring"]["incidents"] = {"duplicates": policy}
    if allow_copies:
        spec_dict["schema"]["duplicates"] = "allow"
    return UseCaseSpec.model_validate(spec_dict)


def _reasons(outcome) -> dict[int, str]:
    return dict(zip(*outcome.quarantined.select("row_id", "reasons"), strict=True))


# --- within a batch ----------------------------------------------------------------------------


def test_first_answers_the_first_row_and_quarantines_later_ones(
    applications, german_spec_dict
) -> None:
    spec = _spec(german_spec_dict, "first")

    outcome = validate_batch(applications, spec, labelled=False, carry=(ID,))

    assert _reasons(outcome) == {
        3: "application_id: 'A-1' repeats the id of row 1",
        5: "application_id: 'A-1' repeats the id of row 1",
    }
    assert outcome.valid.get_column("row_id").to_list() == [1, 2, 4, 6]
    assert outcome.duplicate_ids == 2


def test_quarantine_holds_back_every_row_of_a_repeated_id(applications, german_spec_dict) -> None:
    spec = _spec(german_spec_dict, "quarantine")

    outcome = validate_batch(applications, spec, labelled=False, carry=(ID,))

    assert _reasons(outcome) == dict.fromkeys(
        [1, 3, 5], "application_id: 'A-1' appears 3 times in the batch"
    )
    assert outcome.valid.get_column(ID).to_list() == ["A-2", "A-3", None]
    assert outcome.duplicate_ids == 3


@pytest.mark.parametrize("policy", ["first", "quarantine"])
def test_an_allowed_copy_is_still_never_answered_twice(
    applications, german_spec_dict, policy
) -> None:
    spec = _spec(german_spec_dict, policy, allow_copies=True)
    batch = pl.concat([applications.slice(1, 1), applications.slice(1, 1)])  # A-2 twice, same

    outcome = validate_batch(batch, spec, labelled=False, carry=(ID,))

    assert outcome.duplicate_rows == 1
    assert outcome.valid.height == (1 if policy == "first" else 0)
    assert set(outcome.quarantined.get_column("row_id")) == ({2} if policy == "first" else {1, 2})


def test_the_training_path_ignores_the_policy(german_spec_dict) -> None:
    raw = pl.read_csv(GERMAN_DATA, infer_schema=False).head(5)
    doubled = pl.concat([raw, raw.head(2)])
    first = validate_batch(doubled, _spec(german_spec_dict, "first"))
    held = validate_batch(doubled, _spec(german_spec_dict, "quarantine"))

    assert _reasons(first) == _reasons(held) == {6: "duplicate of row 1", 7: "duplicate of row 2"}
    assert first.duplicate_ids == held.duplicate_ids == 0


# --- across months -----------------------------------------------------------------------------


def test_ids_answered_in_earlier_months_are_quarantined_naming_the_latest_month(
    applications, german_spec_dict
) -> None:
    spec = _spec(german_spec_dict, "first")
    earlier = {
        "2025-02": pl.Series(ID, ["A-3", "Z-9"]),
        "2025-03": pl.Series(ID, ["A-3", "A-2"]),
    }

    outcome = validate_batch(applications, spec, labelled=False, carry=(ID,), earlier_ids=earlier)

    reasons = _reasons(outcome)
    assert reasons[2] == "application_id: application id 'A-2' already answered in 2025-03"
    assert reasons[4] == "application_id: application id 'A-3' already answered in 2025-03"
    assert sorted(reasons) == [2, 3, 4, 5]
    assert outcome.duplicate_ids == 4
    assert outcome.valid.get_column("row_id").to_list() == [1, 6]


def test_earlier_ids_match_as_text_and_a_missing_id_matches_nothing() -> None:
    frame = pl.DataFrame({"row_id": [1, 2, 3], ID: ["17", "18", None]})

    failures = earlier_ids_failures(frame, ID, {"2025-01": pl.Series([17, None])})

    assert failures.get_column("row_id").to_list() == [1]
    assert failures.columns == ["row_id", "column", "check", "value", "reason"]
    assert earlier_ids_failures(frame, ID, {}).height == 0


# --- labels and joins --------------------------------------------------------------------------


def test_labels_repeating_an_id_are_refused_naming_the_file_column_and_ids() -> None:
    labels = pl.DataFrame({ID: ["A-1", "A-2", "A-1", "A-3", "A-3", None, None]})

    with pytest.raises(RepeatedIdsError) as refused:
        require_unique_ids(labels, ID, file="2025-03: outcomes/2025-03.parquet")

    message = str(refused.value)
    assert message.startswith("2025-03: outcomes/2025-03.parquet: monitoring.id_column:")
    assert "2 id(s) in column 'application_id'" in message
    assert "'A-1' (2 times), 'A-3' (2 times)" in message
    assert "'A-2'" not in message
    require_unique_ids(labels.unique(), ID, file="fine")  # missing ids repeat nothing


def test_latest_answers_keeps_the_last_answer_of_each_id() -> None:
    answers = pl.DataFrame({ID: ["A", "B", "A", None, None], "score": [0.1, 0.2, 0.3, 0.4, 0.5]})

    kept = latest_answers(answers, ID)

    assert kept.rows() == [("B", 0.2), ("A", 0.3), (None, 0.4), (None, 0.5)]


def test_realised_performance_counts_an_application_answered_twice_once(german_spec) -> None:
    ids = [f"A-{n}" for n in range(8)]
    outcomes = pl.DataFrame(
        {ID: ids, "creditability": ["good", "bad", "good", "bad", "good", "bad", "good", "bad"]}
    )
    batch = pl.DataFrame(
        {
            ID: ids,
            "score": [0.1, 0.8, 0.3, 0.6, 0.2, 0.9, 0.4, 0.7],
            "model_version": ["1"] * 8,
        }
    )
    # A-0 (good) answered again online, later, with a high score: only that answer counts.
    online = pl.DataFrame({ID: ["A-0"], "score": [0.95], "model_version": ["1"]})

    measured = measure_realised_performance(
        pl.concat([batch, online]), outcomes, german_spec, "2025-03"
    )

    assert measured.labelled_rows == 8
    y = [0, 1, 0, 1, 0, 1, 0, 1]
    latest = [0.95, 0.8, 0.3, 0.6, 0.2, 0.9, 0.4, 0.7]
    assert measured.auc == pytest.approx(binary_metrics(np.array(y), np.array(latest)).auc)
    assert measured.auc < 1.0  # the batch's answer alone would rank perfectly


def test_realised_performance_refuses_outcomes_repeating_an_id(german_spec) -> None:
    scored = pl.DataFrame({ID: ["A", "B"], "score": [0.2, 0.7], "model_version": ["1", "1"]})
    outcomes = pl.DataFrame({ID: ["A", "B", "B"], "creditability": ["good", "bad", "good"]})

    with pytest.raises(RepeatedIdsError, match=r"2025-03: the labels: .*'B' \(2 times\)"):
        measure_realised_performance(scored, outcomes, german_spec, "2025-03")


# --- labelled production -----------------------------------------------------------------------


def _stored_month(tmp_path, spec: UseCaseSpec, batch: pl.DataFrame, labels: pl.DataFrame):
    """A store holding one scored month (2025-01): its batch file, its valid rows, labels."""

    month = "2025-01"
    store = LocalArtifactStore(root=str(tmp_path / "store"))
    content = io.BytesIO()
    batch.write_parquet(content)
    source = spec.monitoring.batches.source_for(month, spec.source)
    store.store_files(spec.id, monthly(BATCH, month), {batch_filename(source): content.getvalue()})
    outcome = validate_batch(batch, spec, labelled=False, carry=(ID,))
    store.store_table(spec.id, monthly(PRODUCTION_FEATURES, month), outcome.valid)
    store.store_table(spec.id, monthly(LABELS, month), labels)
    return store


def test_labelled_production_takes_each_scored_application_once(
    tmp_path, applications, german_spec_dict
) -> None:
    spec = _spec(german_spec_dict, "first")
    labels = pl.DataFrame({ID: ["A-1", "A-2", "A-3"], "creditability": ["good", "bad", "good"]})
    store = _stored_month(tmp_path, spec, applications, labels)

    labelled = assemble_labelled_production(store, spec)

    # Rows 3 and 5 repeat A-1 and were quarantined: they never teach, although labelled.
    expected = applications.slice(0, 2).vstack(applications.slice(3, 1))
    assert (
        labelled.table.get_column("duration_in_month").to_list()
        == expected.get_column("duration_in_month").to_list()
    )
    assert labelled.table.get_column("creditability").to_list() == ["good", "bad", "good"]
    assert labelled.rows_left_out == 2


def test_labelled_production_refuses_stored_labels_repeating_an_id(
    tmp_path, applications, german_spec_dict
) -> None:
    spec = _spec(german_spec_dict, "first")
    labels = pl.DataFrame({ID: ["A-2", "A-2"], "creditability": ["good", "bad"]})
    store = _stored_month(tmp_path, spec, applications, labels)

    with pytest.raises(RepeatedIdsError, match=r"2025-01: the labels: .*'A-2' \(2 times\)"):
        assemble_labelled_production(store, spec)


def test_labelled_production_leaves_out_rows_flagged_as_outliers(
    tmp_path, applications, german_spec_dict
) -> None:
    """An application scored as an outlier (a value unlike anything in training) is answered
    but never taught: it could be a unit slipped in one record."""
    spec = _spec(german_spec_dict, "first")
    labels = pl.DataFrame({ID: ["A-1", "A-2", "A-3"], "creditability": ["good", "bad", "good"]})
    store = _stored_month(tmp_path, spec, applications, labels)
    valid = store.read_table(spec.id, monthly(PRODUCTION_FEATURES, "2025-01"))
    flags = valid.select(ROW_ID, pl.col(ID).eq("A-2").alias("outlier_flag"))
    store.store_table(spec.id, monthly(PREDICTIONS, "2025-01"), flags)

    labelled = assemble_labelled_production(store, spec)

    assert labelled.table.get_column("creditability").to_list() == ["good", "good"]
    assert labelled.rows_left_out == 3  # two repeats of A-1, and the outlier A-2
