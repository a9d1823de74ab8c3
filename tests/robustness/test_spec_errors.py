"""Bad specs and bad platform policies get a modelops message naming the file, the field and
the reason, never a traceback; `modelops validate` catches what a run would refuse
(issue 10, items 8 and 9).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from modelops.cli import main
from modelops.definitions import build_definitions
from modelops.settings import Settings, SettingsError
from modelops.spec import SpecError, load_spec
from support import PROJECT, make_settings, write_spec


@pytest.fixture
def validate(tmp_path, monkeypatch, capsys):
    """`modelops validate` on the specs folder it returns (a platform home of its own);
    call it with extra environment variables, get (exit code, stdout, stderr)."""
    specs = tmp_path / "specs"
    specs.mkdir()
    monkeypatch.setenv("MODELOPS_PROJECT_DIR", str(PROJECT))
    monkeypatch.setenv("MODELOPS_SPECS_DIR", str(specs))
    monkeypatch.setenv("MODELOPS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MODELOPS_SOURCE_ROOTS", str(tmp_path))

    def run(**env: str) -> tuple[int, str, str]:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        code = main(["validate"])
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return code, out, err

    run.specs = specs
    return run


def test_the_real_spec_validates(validate) -> None:
    write_spec(validate.specs, _german())
    code, out, err = validate()
    assert (code, err) == (0, "")
    assert "german_credit/model" in out


def test_a_spec_that_is_not_utf8_is_named_with_the_byte(validate) -> None:
    path = write_spec(validate.specs, _german())
    path.write_bytes(path.read_bytes().replace(b"Probability", b"Probabilit\xe9", 1))
    code, _, err = validate()
    assert code == 2
    assert f"{path}: invalid use-case spec" in err
    assert "not UTF-8 text: byte 0xe9 at line" in err


def test_two_specs_with_the_same_id_are_named_not_a_duplicate_asset_key(validate) -> None:
    first = write_spec(validate.specs, _german())
    second = first.with_suffix(".yml")
    second.write_text(first.read_text())
    code, _, err = validate()
    assert code == 2
    assert f"{second}: invalid use-case spec" in err
    assert f"'german_credit' is already the id of {first.name}" in err
    with pytest.raises(SpecError, match="is already the id of"):
        build_definitions(Settings.from_env())


def _german(**sections) -> dict:
    spec = yaml.safe_load((PROJECT / "assets" / "german_credit.yaml").read_text())
    spec.update(sections)
    return spec


def _target_column(spec: dict) -> dict:
    return next(c for c in spec["schema"]["columns"] if c["name"] == spec["target"]["column"])


@pytest.mark.parametrize(
    ("allowed", "problem"),
    [
        ([0, 1], None),
        (None, "a binary target of type int needs 'allowed' listing its two values"),
        ([0, 1, 2], "a binary target needs exactly 2 allowed values, got 3"),
    ],
)
def test_an_int_target_is_a_binary_flag_with_its_two_values(tmp_path, allowed, problem) -> None:
    """A credit modeller's 0/1 default flag works when `allowed` says it is binary; without
    it a third value (2 = indeterminate) would silently count as 'good'."""
    spec = _german()
    column = _target_column(spec)
    column["type"] = "int"
    column.pop("allowed")
    if allowed is not None:
        column["allowed"] = allowed
    spec["target"]["positive_class"] = 1
    path = write_spec(tmp_path, spec)
    if problem is None:
        assert load_spec(path).data_schema.column(column["name"]).type == "int"
        return
    with pytest.raises(SpecError) as refused:
        load_spec(path)
    assert [f for f, r in refused.value.problems if problem in r] == ["target.column"]


POLICY = (
    "classes:\n"
    "  - sklearn.linear_model.LogisticRegression\n"
    "  - sklearn.linear_model.LinearRegression\n"
    "  - sklearn.svm.SVC\n"
    "  - sklearn.tree.DecisionTreeClassifier\n"
)


@pytest.mark.parametrize(
    ("model", "field", "reason"),
    [
        (
            {"estimator": "sklearn.linear_model.LinearRegression"},
            "model.estimator",
            "'sklearn.linear_model.LinearRegression' is not a classifier",
        ),
        ({"estimator": "sklearn.svm.SVC"}, "model.params", "has no predict_proba"),
        (
            {"estimator": "sklearn.linear_model.LogisticRegression", "params": {"Cee": 1}},
            "model.params",
            "does not take parameter(s) ['Cee']",
        ),
        (
            {"estimator": "sklearn.linear_model.LogisticRegression", "params": {"C": -1}},
            "model.params",
            "The 'C' parameter of LogisticRegression must be a float",
        ),
    ],
)
def test_validate_names_an_estimator_the_run_would_refuse(
    validate, tmp_path, model, field, reason
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    path = write_spec(validate.specs, _german(model=model))
    code, _, err = validate(MODELOPS_ESTIMATOR_POLICY=str(policy))
    assert code == 2
    assert f"{path}: invalid use-case spec" in err
    assert f"  - {field}: " in err
    assert reason in err


def test_validate_names_a_bad_baseline_and_a_missing_source_file(validate, tmp_path) -> None:
    spec = _german()
    spec["source"]["path"] = str(tmp_path / "nowhere.csv")
    spec["evaluation"]["baseline"] = {
        "estimator": "sklearn.tree.DecisionTreeClassifier",
        "params": {"max_depth": "deep"},
    }
    write_spec(validate.specs, spec)
    code, _, err = validate()
    assert code == 2
    assert f"source.path: '{tmp_path / 'nowhere.csv'}' does not exist" in err
    assert "evaluation.baseline.params: " in err and "'max_depth' parameter" in err


@pytest.mark.parametrize(
    ("expression", "kind", "field", "reason"),
    [
        ("purpose", "numeric", "kind", "declared numeric, but the expression yields text"),
        ("purpose || 'x'", "numeric", "kind", "yields text"),
        ("credit_amount / 3", "categorical", "kind", "yields numbers (Float64)"),
        ("purpose / 2", "numeric", "expression", "cannot be computed on the declared column"),
        ("UPPER(purpose)", "categorical", "expression", "write CAST(column AS VARCHAR)"),
    ],
)
def test_an_expression_of_the_wrong_kind_is_named_when_the_spec_loads(
    tmp_path, expression, kind, field, reason
) -> None:
    spec = _german()
    spec["features"]["engineered"][0].update(expression=expression, kind=kind)
    with pytest.raises(SpecError) as refused:
        load_spec(write_spec(tmp_path, spec))
    assert [(f, reason in r) for f, r in refused.value.problems] == [
        (f"features.engineered[0].{field}", True)
    ]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "cannot read the estimator policy: No such file or directory"),
        ("classes: [1, 2\n", "the estimator policy is not valid YAML: expected ','"),
        (b"\xff\xfe", "the estimator policy is not UTF-8 text"),
        ("", "(top level): expected a mapping of the policy's keys, got an empty file"),
        ("classes: [subprocess Popen]\n", "classes[0]: String should match pattern"),
        ("modules: [sklearn.linear_model]\nclass: []\n", "class: unknown key"),
    ],
)
def test_a_bad_estimator_policy_stops_the_settings_naming_variable_file_and_field(
    tmp_path, content, reason
) -> None:
    policy = tmp_path / "policy.yaml"
    if isinstance(content, bytes):
        policy.write_bytes(content)
    elif content is not None:
        policy.write_text(content)
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(
            {
                "MODELOPS_PROJECT_DIR": str(PROJECT),
                "MODELOPS_HOME": str(tmp_path / "home"),
                "MODELOPS_ESTIMATOR_POLICY": str(policy),
            }
        )
    assert f"MODELOPS_ESTIMATOR_POLICY: {policy}: " in str(refused.value)
    assert reason in str(refused.value)


def test_a_custom_policy_extends_what_specs_may_name(tmp_path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("classes: [sklearn.tree.DecisionTreeClassifier]\nmodules: [sklearn.svm]\n")
    settings = make_settings(tmp_path, Path(PROJECT / "assets"))
    spec = _german(model={"estimator": "sklearn.svm.SVC", "params": {"probability": True}})
    path = write_spec(tmp_path / "specs", spec)
    with pytest.raises(SpecError, match=r"'sklearn\.svm\.SVC' is not an allowed estimator"):
        load_spec(path, settings.spec_allowances)
    custom = settings.model_copy(update={"estimator_policy_file": policy})
    assert load_spec(path, custom.spec_allowances).model.estimator == "sklearn.svm.SVC"
