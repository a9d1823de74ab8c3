"""The estimator policy: the only classes a spec may name, decided on the name alone."""

from __future__ import annotations

import pytest

from modelops.spec.estimator_policy import (
    DEFAULT_ESTIMATOR_POLICY_FILE,
    EstimatorPolicy,
    EstimatorPolicyError,
    load_estimator_policy,
)


def test_the_packaged_policy_allows_the_platforms_classifiers_only() -> None:
    policy = load_estimator_policy()
    assert policy.allows("sklearn.linear_model.LogisticRegression")
    assert policy.allows("sklearn.ensemble.HistGradientBoostingClassifier")
    for name in (
        "subprocess.Popen",
        "os.system",
        "builtins.eval",
        "sklearn.linear_model.LogisticRegressionX",
        "sklearn.linear_model._logistic.LogisticRegression",
    ):
        assert not policy.allows(name), name


def test_a_module_allows_its_public_names_only() -> None:
    policy = EstimatorPolicy(modules=["lightgbm"])
    assert policy.allows("lightgbm.LGBMClassifier")
    assert not policy.allows("lightgbm._private.Thing")
    assert not policy.allows("lightgbm._Hidden")
    assert not policy.allows("lightgbm.sklearn.LGBMClassifier")  # a submodule is not the module
    assert not policy.allows("lightgbmx.LGBMClassifier")


def test_a_refusal_says_what_is_allowed_where_and_who_may_change_it(tmp_path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("classes: [sklearn.tree.DecisionTreeClassifier]\nmodules: [lightgbm]\n")
    refusal = load_estimator_policy(path).refusal("subprocess.Popen") or ""
    assert refusal.startswith("'subprocess.Popen' is not an allowed estimator")
    assert str(path) in refusal
    assert "sklearn.tree.DecisionTreeClassifier; and any classifier in lightgbm" in refusal
    assert "a spec cannot" in refusal
    assert load_estimator_policy(path).refusal("lightgbm.LGBMClassifier") is None
    default = load_estimator_policy(DEFAULT_ESTIMATOR_POLICY_FILE).refusal("os.system") or ""
    assert "estimator_policy.yaml" in default


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("classes: [os system]\n", "classes[0]: String should match pattern"),
        ("modules: ['os.']\n", "modules[0]: String should match pattern"),
        ("classes: []\nextra: 1\n", "extra: unknown key"),
        ("- a\n", "expected a mapping of the policy's keys, got list"),
        ("classes: [a.B\n", "not valid YAML"),
    ],
)
def test_an_invalid_policy_names_the_file_and_the_field(tmp_path, content, reason) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(content)
    with pytest.raises(EstimatorPolicyError) as refused:
        load_estimator_policy(path)
    assert str(refused.value).startswith(str(path))
    assert reason in str(refused.value)
