"""The typed record beside each model version, and the audit events about that version."""

from __future__ import annotations

from support.fakes import model_record

UC = "german_credit"
RECORD = model_record(
    version="3",
    training_set_version="train-fp",
    holdout_set_version="holdout-fp",
    code_version="abc123",
)


def test_an_audit_event_about_the_version_names_its_data_and_code() -> None:
    event = RECORD.audit_event(
        "gate_result", actor="dagster:run/1", use_case=UC, reason="ok", details={}
    )
    assert (event.event, event.actor, event.use_case) == ("gate_result", "dagster:run/1", UC)
    assert (event.model_version, event.code_version) == ("3", "abc123")
    assert event.data_versions == {"training_set": "train-fp", "holdout_set": "holdout-fp"}


def test_a_version_without_holdout_names_only_its_training_set() -> None:
    record = RECORD.model_copy(update={"holdout_set_version": None})
    assert record.data_versions == {"training_set": "train-fp"}
