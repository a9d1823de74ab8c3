"""Use-case specs: the real one loads, and every broken one says where and why it is broken."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from modelops.spec import SpecError, load_spec, load_specs
from modelops.spec.allowances import Allowances
from modelops.spec.estimator_policy import EstimatorPolicy
from support import GERMAN_SPEC, write_spec

PROTECTED = {"personal_status_and_sex", "age_years", "foreign_worker"}


def test_the_real_spec_loads_with_its_derived_views(german_spec) -> None:
    spec = german_spec
    assert spec.id == "german_credit"
    assert spec.data_schema.protected_attributes == [
        "personal_status_and_sex",
        "age_years",
        "foreign_worker",
    ]

    inputs = spec.model_inputs
    # Raw features plus the one engineered model input; the analysis-only band is not an input.
    assert set(inputs) == set(spec.features.raw) | {"monthly_installment"}
    assert len(inputs) == len(set(inputs)) == 18
    assert not PROTECTED & set(inputs)
    assert "age_band" not in inputs
    assert spec.target.column not in inputs

    assert "duration_months" in spec.numeric_features
    assert "monthly_installment" in spec.numeric_features
    assert "purpose" in spec.categorical_features
    assert not set(spec.numeric_features) & set(spec.categorical_features)

    passthrough = spec.passthrough_columns
    assert set(passthrough) >= PROTECTED
    assert "age_band" in passthrough
    assert not set(passthrough) & set(inputs)
    # `purpose` is an evaluation segment but already a model input: not duplicated.
    assert "purpose" not in passthrough

    assert spec.split_strategy == "random"
    assert spec.split.holdout_fraction == 0.3
    assert spec.freshness.source_max_age == timedelta(days=31)
    assert spec.model.preprocessing == "scorecard"
    assert spec.data_schema.column("duration_months").header == "duration_in_month"


# --- malformed specs: each a mutation of the real spec -------------------------------------


def _col(spec, name):
    return next(c for c in spec["schema"]["columns"] if c["name"] == name)


def _unknown_top_level_key(d):
    d["evalution"] = d.pop("evaluation")


def _typo_in_column(d):
    _col(d, "purpose")["nulable"] = True


def _wrong_column_type(d):
    _col(d, "credit_amount")["type"] = "integer"


def _missing_target(d):
    del d["target"]


def _target_not_declared(d):
    d["target"]["column"] = "credit_risc"


def _positive_class_not_allowed(d):
    d["target"]["positive_class"] = "default"


def _positive_class_of_wrong_type(d):
    d["target"]["positive_class"] = 1


def _raw_feature_not_declared(d):
    d["features"]["raw"][3] = "purpse"


def _feature_is_target(d):
    d["features"]["raw"].append("credit_risk")


def _protected_feature(d):
    d["features"]["raw"].append("foreign_worker")


def _pii_feature(d):
    d["schema"]["columns"].append({"name": "customer_name", "type": "category", "pii": True})
    d["features"]["raw"].append("customer_name")


def _min_above_max(d):
    _col(d, "credit_amount").update(min=10, max=5)


def _allowed_on_text(d):  # coded numbers (int, float) may list allowed values; free text not
    _col(d, "credit_amount").update(type="text", allowed=["a", "b"])


def _invalid_sql(d):
    d["features"]["engineered"][0]["expression"] = "credit_amount / / duration_months"


def _expression_undeclared_column(d):
    d["features"]["engineered"][0]["expression"] = "credit_amount / duration_month"


def _expression_uses_target(d):
    d["features"]["engineered"][1]["expression"] = "CASE WHEN credit_risk = 'bad' THEN 1 END"


def _date_column_not_a_date(d):
    d["schema"]["date_column"] = "duration_months"


def _out_of_time_without_date(d):
    d["split"]["strategy"] = "out_of_time"


def _reserved_column_name(d):
    d["schema"]["columns"].append({"name": "label", "type": "int"})


def _duplicate_column_name(d):
    twin = copy.deepcopy(_col(d, "housing"))
    twin["source_name"] = "housing_again"
    d["schema"]["columns"].append(twin)


def _bad_owner_email(d):
    d["owners"]["person"] = "anna.berg"


def _bad_duration(d):
    d["freshness"]["source_max_age"] = "3 months"


def _estimator_not_import_path(d):
    d["model"]["estimator"] = "LogisticRegression"


def _estimator_not_allowed(d):
    # The probe's spec: any importable class would have run with these params.
    d["model"]["estimator"] = "subprocess.Popen"
    d["model"]["params"] = {"args": ["touch", "pwned"]}


def _holdout_fraction_too_big(d):
    d["split"]["holdout_fraction"] = 1.5


def _id_not_file_name(d):
    d["id"] = "german_credit_v2"


def _segment_not_categorical(d):
    d["evaluation"]["segments"].append("monthly_installment")


def _unknown_key_in_engineered_feature(d):
    d["features"]["engineered"][0]["knd"] = d["features"]["engineered"][0].pop("kind")


# (mutation, exact field path, phrase of the reason)
MALFORMED = [
    (_unknown_top_level_key, "evalution", "unknown key; did you mean 'evaluation'?"),
    (_typo_in_column, "schema.columns[3] (purpose).nulable", "did you mean 'nullable'?"),
    (_wrong_column_type, "schema.columns[4] (credit_amount).type", "(got 'integer')"),
    (_missing_target, "target", "required field is missing"),
    (_target_not_declared, "target.column", "(did you mean 'credit_risk'?)"),
    (_positive_class_not_allowed, "target.positive_class", "not among the target's allowed"),
    (
        _positive_class_of_wrong_type,
        "target.positive_class",
        "1 is not a category value like the target column 'credit_risk'",
    ),
    (
        _raw_feature_not_declared,
        "features.raw[3]",
        "'purpse' is not a column declared in schema.columns (did you mean 'purpose'?)",
    ),
    (_feature_is_target, "features.raw[17]", "leaks the label"),
    (_protected_feature, "features.raw[17]", "'foreign_worker' is a protected attribute"),
    (_pii_feature, "features.raw[17]", "'customer_name' is flagged PII"),
    (_min_above_max, "schema.columns[4] (credit_amount)", "'min' (10.0) is greater than 'max'"),
    (_allowed_on_text, "schema.columns[4] (credit_amount)", "'allowed' applies to category"),
    (_invalid_sql, "features.engineered[0].expression", "not a valid SQL expression"),
    (
        _expression_undeclared_column,
        "features.engineered[0].expression",
        "'duration_month' is not a column declared in schema.columns (did you mean",
    ),
    (_expression_uses_target, "features.engineered[1].expression", "leaks the label"),
    (_date_column_not_a_date, "schema.date_column", "has type int, expected date or datetime"),
    (_out_of_time_without_date, "split.strategy", "out_of_time needs schema.date_column"),
    (_reserved_column_name, "schema.columns[21].name", "'label' is reserved by the platform"),
    (_duplicate_column_name, "schema.columns[21].name", "column 'housing' is declared twice"),
    (_bad_owner_email, "owners.person", "must be an email address"),
    (_bad_duration, "freshness.source_max_age", "expected a duration such as '36h'"),
    (_estimator_not_import_path, "model.estimator", "must be an import path"),
    (_estimator_not_allowed, "model.estimator", "'subprocess.Popen' is not an allowed estimator"),
    (_holdout_fraction_too_big, "split.holdout_fraction", "less than 1"),
    (_id_not_file_name, "id", "must match the file name 'german_credit'"),
    (
        _segment_not_categorical,
        "evaluation.segments[4]",
        "'monthly_installment' is not categorical",
    ),
    (
        _unknown_key_in_engineered_feature,
        "features.engineered[0] (monthly_installment).knd",
        "did you mean 'kind'?",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "field", "reason"), MALFORMED, ids=[m.__name__.strip("_") for m, *_ in MALFORMED]
)
def test_a_malformed_spec_names_file_field_and_reason(
    tmp_path, german_spec_dict, mutate, field, reason
) -> None:
    mutate(german_spec_dict)
    written = write_spec(tmp_path, german_spec_dict)
    # The file keeps the name of the use case it was copied from (only matters for the id case).
    path = written.rename(tmp_path / "german_credit.yaml")

    with pytest.raises(SpecError) as caught:
        load_spec(path)

    message = str(caught.value)
    assert message.startswith(f"{path}: invalid use-case spec")
    # One line per problem, "  - <field path>: <reason>": the path is exact, not a prefix.
    assert any(
        line.startswith(f"  - {field}: ") and reason in line for line in message.splitlines()
    ), message
    assert any(f == field and reason in r for f, r in caught.value.problems)
    assert caught.value.path == path


def test_every_problem_of_a_spec_is_reported_at_once(tmp_path, german_spec_dict) -> None:
    _target_not_declared(german_spec_dict)
    _bad_owner_email(german_spec_dict)
    _typo_in_column(german_spec_dict)
    path = write_spec(tmp_path, german_spec_dict)

    with pytest.raises(SpecError) as caught:
        load_spec(path)

    fields = {f for f, _ in caught.value.problems}
    # Field-level errors stop pydantic before the cross-field rules run, so the undeclared
    # target (a cross-field rule) is not in this list; the two field errors both are.
    assert {"owners.person", "schema.columns[3] (purpose).nulable"} <= fields


def test_cross_field_problems_are_all_reported(tmp_path, german_spec_dict) -> None:
    _target_not_declared(german_spec_dict)
    _protected_feature(german_spec_dict)
    _reserved_column_name(german_spec_dict)
    path = write_spec(tmp_path, german_spec_dict)

    with pytest.raises(SpecError) as caught:
        load_spec(path)

    fields = [f for f, _ in caught.value.problems]
    assert fields.count("target.column") == 1
    assert "features.raw[17]" in fields
    assert "schema.columns[21].name" in fields


def test_an_unchanged_copy_written_with_write_spec_loads(tmp_path, german_spec_dict) -> None:
    # Guards the parametrized cases: they fail because of their mutation, not the round trip.
    spec = load_spec(write_spec(tmp_path, german_spec_dict))
    assert spec.model_inputs == load_spec(GERMAN_SPEC).model_inputs


# --- YAML problems ---------------------------------------------------------------------------


def _spec_error(path):
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    return caught.value


def test_a_yaml_syntax_error_reports_the_line(tmp_path) -> None:
    lines = GERMAN_SPEC.read_text().splitlines()
    broken = lines.index("  team: credit-risk-models")
    lines[broken] = "  team: credit-risk-models: oops"
    path = tmp_path / "german_credit.yaml"
    path.write_text("\n".join(lines) + "\n")

    error = _spec_error(path)

    assert str(path) in str(error)
    assert "not valid YAML" in str(error)
    assert f"line {broken + 1}," in str(error)


def test_a_duplicate_key_is_refused_with_its_line(tmp_path) -> None:
    text = GERMAN_SPEC.read_text()
    duplicate_line = len(text.splitlines()) + 1
    path = tmp_path / "german_credit.yaml"
    path.write_text(text + "split:\n  seed: 1\n")

    error = _spec_error(path)

    assert str(path) in str(error)
    assert "duplicate key 'split'" in str(error)
    assert f"line {duplicate_line}," in str(error)


def test_a_duplicate_nested_key_is_refused(tmp_path) -> None:
    text = GERMAN_SPEC.read_text().replace(
        "  team: credit-risk-models\n", "  team: credit-risk-models\n  team: other-team\n"
    )
    path = tmp_path / "german_credit.yaml"
    path.write_text(text)

    assert "duplicate key 'team'" in str(_spec_error(path))


@pytest.mark.parametrize(
    ("text", "kind"),
    [("", "empty"), ("# only a comment\n", "empty"), ("- id: a\n- id: b\n", "list")],
    ids=["empty", "comment-only", "top-level-list"],
)
def test_a_file_that_is_not_a_mapping_is_refused(tmp_path, text, kind) -> None:
    path = tmp_path / "german_credit.yaml"
    path.write_text(text)

    error = _spec_error(path)

    assert str(error).startswith(f"{path}: invalid use-case spec")
    assert f"expected a mapping of spec sections, got {kind}" in str(error)


def test_a_missing_file_is_a_spec_error(tmp_path) -> None:
    path = tmp_path / "nowhere.yaml"
    error = _spec_error(path)
    assert str(path) in str(error)
    assert "cannot read the file" in str(error)


# --- a folder of specs -----------------------------------------------------------------------


def test_load_specs_reports_every_bad_file(tmp_path, german_spec_dict) -> None:
    good = copy.deepcopy(german_spec_dict)
    first = copy.deepcopy(german_spec_dict)
    first["id"] = "alpha"
    _unknown_top_level_key(first)
    second = copy.deepcopy(german_spec_dict)
    second["id"] = "beta"
    _target_not_declared(second)
    for spec in (good, first, second):
        write_spec(tmp_path, spec)

    with pytest.raises(SpecError) as caught:
        load_specs(tmp_path)

    message = str(caught.value)
    assert message.startswith(f"{tmp_path}: invalid use-case spec")
    assert str(tmp_path / "alpha.yaml") in message
    assert str(tmp_path / "beta.yaml") in message
    assert "did you mean 'evaluation'?" in message
    assert "'credit_risc' is not a column declared" in message
    assert [f for f, _ in caught.value.problems] == ["alpha.yaml", "beta.yaml"]
    assert str(tmp_path / "german_credit.yaml") not in message


def test_load_specs_returns_good_specs_sorted_by_id(tmp_path, german_spec_dict) -> None:
    other = copy.deepcopy(german_spec_dict)
    other["id"] = "a_first_use_case"
    write_spec(tmp_path, german_spec_dict)
    write_spec(tmp_path, other)

    assert [s.id for s in load_specs(tmp_path)] == ["a_first_use_case", "german_credit"]


def test_load_specs_refuses_a_missing_directory(tmp_path) -> None:
    with pytest.raises(SpecError, match="does not exist"):
        load_specs(tmp_path / "absent")


def test_an_allowed_estimator_whose_package_is_missing_is_named(tmp_path, german_spec_dict):
    """A platform team may allow a package not installed here; the spec says which one."""
    german_spec_dict["model"]["estimator"] = "no_such_package_xyz.Model"
    path = write_spec(tmp_path, german_spec_dict).rename(tmp_path / "german_credit.yaml")
    policy = EstimatorPolicy(classes=["no_such_package_xyz.Model"])

    with pytest.raises(SpecError) as caught:
        load_spec(path, Allowances(estimators=policy))

    assert (
        "model.estimator",
        "package 'no_such_package_xyz' of 'no_such_package_xyz.Model' is not installed",
    ) in caught.value.problems
