"""Derived targets (value mapping, expression) and column semantics (sentinel codes, bool
spellings, coded numbers, free text, distinct-value limits), on the German credit spec."""

from __future__ import annotations

import polars as pl
import pytest

from modelops.ml.features import build_features
from modelops.ml.scoring.application_fields import ApplicationReader
from modelops.ml.target import excluded_row_count
from modelops.ml.validation import validate_batch
from modelops.spec import SpecError, UseCaseSpec, load_spec
from modelops.spec.schema import BOOL_SPELLINGS
from support import GERMAN_DATA, GERMAN_SPEC, write_spec

STATUS = ["Fully Paid", "Charged Off", "Late (31-120 days)", "Current"]
MAPPING = {
    "column": "loan_status",
    "bad_values": ["Charged Off", "Late (31-120 days)"],
    "good_values": ["Fully Paid"],
    "excluded_values": ["Current"],
}


def _load(tmp_path, d: dict) -> UseCaseSpec:
    if "monitoring" in d and d["target"].get("positive_class") is None:
        # Production outcomes follow a target column only (an expression is refused, below).
        d["monitoring"].pop("labels", None)
        d["monitoring"].pop("retraining", None)
    return load_spec(write_spec(tmp_path, d))


def _problems(tmp_path, d: dict) -> list[tuple[str, str]]:
    with pytest.raises(SpecError) as caught:
        _load(tmp_path, d)
    return caught.value.problems


def _col(d: dict, name: str) -> dict:
    return next(c for c in d["schema"]["columns"] if c["name"] == name)


def _with_status(d: dict, allowed: list[str] | None = STATUS) -> dict:
    column = {"name": "loan_status", "type": "category"}
    if allowed is not None:
        column["allowed"] = allowed
    d["schema"]["columns"].append(column)
    d["target"] = dict(MAPPING)
    return d


def test_a_mapped_target_records_its_definition(tmp_path, german_spec_dict) -> None:
    spec = _load(tmp_path, _with_status(german_spec_dict))
    assert spec.target.form == "mapping"
    assert spec.target.outcome_columns == ("loan_status",)
    text = spec.target.definition_text(1234)
    assert text == (
        "bad (1) = loan_status in {Charged Off, Late (31-120 days)}; good (0) = {Fully Paid}; "
        "excluded (indeterminate) = {Current}; 1,234 rows excluded"
    )


def test_every_allowed_value_must_be_mapped_once(tmp_path, german_spec_dict) -> None:
    d = _with_status(german_spec_dict)
    d["target"]["good_values"] = ["Fully Paid", "Charged Off"]
    problems = _problems(tmp_path, d)
    assert ("target.good_values", "'Charged Off' is also listed in bad_values") in problems

    d["target"]["good_values"] = ["Fully Paid"]
    d["target"].pop("excluded_values")
    problems = _problems(tmp_path, d)
    assert any(f == "target" and "['Current']" in r and "none of" in r for f, r in problems)


def test_a_mapped_value_outside_allowed_is_refused(tmp_path, german_spec_dict) -> None:
    d = _with_status(german_spec_dict)
    d["target"]["excluded_values"] = ["Current", "In Grace Period"]
    problems = _problems(tmp_path, d)
    assert any(f == "target.excluded_values" and "In Grace Period" in r for f, r in problems)


def test_mapping_and_positive_class_do_not_mix(tmp_path, german_spec_dict) -> None:
    d = _with_status(german_spec_dict)
    d["target"]["positive_class"] = "Charged Off"
    problems = _problems(tmp_path, d)
    assert any(f.startswith("target.") and "positive_class" in r for f, r in problems)


def test_the_outcome_column_is_never_an_input(tmp_path, german_spec_dict) -> None:
    d = _with_status(german_spec_dict)
    d["features"]["raw"].append("loan_status")
    problems = _problems(tmp_path, d)
    assert any(f.startswith("features.raw[") and "leaks the label" in r for f, r in problems)


def test_an_expression_target_and_its_leakage(tmp_path, german_spec_dict) -> None:
    d = german_spec_dict
    _col(d, "credit_risk")["allowed"] = ["good", "bad"]
    d["schema"]["columns"].append({"name": "days_late", "type": "int", "nullable": True})
    d["target"] = {"name": "bad_loan", "expression": "days_late > 90 OR credit_risk = 'bad'"}
    spec = _load(tmp_path, d)
    assert set(spec.target.outcome_columns) == {"days_late", "credit_risk"}
    assert "bad_loan := days_late > 90" in spec.target.definition_text(3)

    d["features"]["engineered"].append(
        {"name": "lateness", "expression": "days_late * 2", "kind": "numeric"}
    )
    problems = _problems(tmp_path, d)
    assert any(
        f.startswith("features.engineered[") and "outcome column" in r and "days_late" in r
        for f, r in problems
    )


def test_an_expression_target_must_yield_true_or_false(tmp_path, german_spec_dict) -> None:
    german_spec_dict["target"] = {
        "name": "bad_loan",
        "expression": "UPPER(CAST(purpose AS VARCHAR))",
    }
    problems = _problems(tmp_path, german_spec_dict)
    assert any(f == "target.expression" and "true/false" in r for f, r in problems)


def test_a_mapped_target_excludes_and_labels_rows(tmp_path, german_spec_dict) -> None:
    spec = _load(tmp_path, _with_status(german_spec_dict, allowed=None))
    raw = pl.read_csv(GERMAN_DATA, infer_schema=False).head(8)
    raw = raw.with_columns(pl.Series("loan_status", [*STATUS, *STATUS[:3], "Unknown"]))
    outcome = validate_batch(raw, spec)
    # A value in no list is quarantined (the column declares no allowed values here).
    assert outcome.quarantined.get_column("row_id").to_list() == [8]
    assert outcome.quarantined.get_column("reasons")[0].startswith("loan_status:")
    features = build_features(outcome.valid, spec)
    assert excluded_row_count(outcome.valid, spec) == 1 == outcome.valid.height - features.height
    assert features.get_column("label").to_list() == [0, 1, 1, 0, 1, 1]


def test_sentinels_read_as_missing_in_their_column_only(tmp_path, german_spec_dict) -> None:
    d = german_spec_dict
    _col(d, "credit_amount").update(missing_values=[999], nullable=True)
    _col(d, "duration_months").update(max=1000)
    spec = _load(tmp_path, d)
    raw = pl.read_csv(GERMAN_DATA, infer_schema=False).head(4)
    raw = raw.with_columns(
        pl.Series("credit_amount", ["999", "999.0", "1200", "abc"]),
        pl.Series("duration_in_month", ["999", "12", "24", "36"]),
    )
    outcome = validate_batch(raw, spec)
    assert outcome.valid.get_column("credit_amount").to_list() == [None, None, 1200]
    assert outcome.valid.get_column("duration_months").to_list() == [999, 12, 24]
    assert "'abc' is not a valid int" in outcome.quarantined.get_column("reasons")[0]
    # An application sent to the service reads the code as missing too (the doors agree).
    read = ApplicationReader(spec).read({"credit_amount": 999.0, "duration_months": 999})
    assert read.values["credit_amount"] is None and read.values["duration_months"] == 999
    assert not [p for p in read.problems if p.field == "credit_amount"]


def test_a_sentinel_in_a_non_nullable_column_is_missing(tmp_path, german_spec_dict) -> None:
    _col(german_spec_dict, "credit_amount")["missing_values"] = [999]
    spec = _load(tmp_path, german_spec_dict)
    raw = pl.read_csv(GERMAN_DATA, infer_schema=False).head(2)
    raw = raw.with_columns(pl.Series("credit_amount", ["999", "1000"]))
    outcome = validate_batch(raw, spec)
    assert outcome.quarantined.get_column("reasons").to_list() == [
        "credit_amount: value is missing"
    ]


@pytest.mark.parametrize(
    ("codes", "reason"),
    [([], "at least one"), (["n/a"], "not of type int"), ([5], "also listed in 'allowed'")],
)
def test_sentinel_codes_are_checked(tmp_path, german_spec_dict, codes, reason) -> None:
    column = _col(german_spec_dict, "installment_rate_pct")
    column.update(missing_values=codes, allowed=[1, 2, 3, 4, 5])
    column.pop("min"), column.pop("max")
    problems = _problems(tmp_path, german_spec_dict)
    assert any("installment_rate_pct" in f and reason in r for f, r in problems), problems


def test_bool_spellings_include_floats(tmp_path, german_spec_dict) -> None:
    german_spec_dict["schema"]["columns"].append({"name": "flag", "type": "bool"})
    spec = _load(tmp_path, german_spec_dict)
    spellings = [*BOOL_SPELLINGS[True], "1.0", "YES", *BOOL_SPELLINGS[False], "0.0", "No", "2"]
    raw = pl.read_csv(GERMAN_DATA, infer_schema=False).head(len(spellings))
    outcome = validate_batch(raw.with_columns(pl.Series("flag", spellings)), spec)
    truths = len(BOOL_SPELLINGS[True]) + 2
    assert outcome.valid.get_column("flag").to_list() == [True] * truths + [False] * (
        len(spellings) - truths - 1
    )
    assert outcome.quarantined.get_column("reasons").to_list() == ["flag: '2' is not a valid bool"]


def test_allowed_on_a_coded_float(tmp_path, german_spec_dict) -> None:
    german_spec_dict["schema"]["columns"].append(
        {"name": "grade", "type": "float", "allowed": [1, 1.5, 2]}
    )
    german_spec_dict["evaluation"]["segments"] = ["grade"]
    spec = _load(tmp_path, german_spec_dict)
    raw = pl.read_csv(GERMAN_DATA, infer_schema=False).head(3)
    outcome = validate_batch(raw.with_columns(pl.Series("grade", ["1.5", "2", "3"])), spec)
    assert outcome.valid.get_column("grade").to_list() == [1.5, 2.0]
    assert "'3.0' is not an allowed value" in outcome.quarantined.get_column("reasons")[0]


def test_text_is_never_a_model_input_but_may_be_transformed(tmp_path, german_spec_dict) -> None:
    d = german_spec_dict
    d["schema"]["columns"].append({"name": "employer", "type": "text", "nullable": True})
    d["features"]["raw"].append("employer")
    problems = _problems(tmp_path, d)
    assert any(f.startswith("features.raw[") and "free text" in r for f, r in problems)

    d["features"]["raw"].remove("employer")
    d["features"]["engineered"].append(
        {
            "name": "employer_is_bank",
            "expression": "CASE WHEN employer LIKE '%bank%' THEN 'yes' ELSE 'no' END",
            "kind": "categorical",
        }
    )
    spec = _load(tmp_path, d)
    raw = pl.read_csv(GERMAN_DATA, infer_schema=False).head(2)
    outcome = validate_batch(raw.with_columns(pl.Series("employer", ["city bank", None])), spec)
    assert outcome.valid.schema["employer"] == pl.String  # not dictionary-encoded
    features = build_features(outcome.valid, spec)
    assert features.get_column("employer_is_bank").cast(pl.String).to_list() == ["yes", "no"]


def test_too_many_distinct_categories_warn(tmp_path, german_spec_dict) -> None:
    german_spec_dict["schema"]["columns"].append(
        {"name": "title", "type": "category", "max_distinct": 3}
    )
    spec = _load(tmp_path, german_spec_dict)
    raw = pl.read_csv(GERMAN_DATA, infer_schema=False).head(5)
    outcome = validate_batch(raw.with_columns(pl.Series("title", list("abcdd"))), spec)
    assert outcome.quarantined.height == 0
    (warning,) = outcome.warnings
    assert "(title).max_distinct: 4 distinct values (limit 3)" in warning
    # The German columns have few values: no warning under the default limit.
    assert validate_batch(raw, load_spec(GERMAN_SPEC)).warnings == ()


def test_production_outcomes_are_labelled_by_the_mapping(tmp_path, german_spec_dict) -> None:
    from modelops.ml.realised_performance import outcome_label

    d = _with_status(german_spec_dict)
    assert d["monitoring"]["labels"]
    spec = load_spec(write_spec(tmp_path, d))
    label, known = outcome_label(spec)
    outcomes = pl.DataFrame({"loan_status": ["Charged Off", "Fully Paid", "Current", None]})
    labelled = outcomes.filter(known).select(label.alias("label"))
    # Current (indeterminate) and an unknown outcome are not outcomes yet.
    assert labelled.get_column("label").to_list() == [1, 0]


def test_production_outcomes_cannot_follow_an_expression_target(tmp_path, german_spec_dict):
    d = _with_status(german_spec_dict)
    d["target"] = {"name": "bad_loan", "expression": "loan_status = 'Charged Off'"}
    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(tmp_path, d))
    assert [f for f, _ in caught.value.problems] == ["monitoring.labels"]
