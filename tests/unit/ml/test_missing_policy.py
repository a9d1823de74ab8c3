"""The declared missing-value policy: the pipeline it builds, the rows it rejects, the problems
it refuses and the lines the card shows."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from sklearn.impute import MissingIndicator, SimpleImputer

from modelops.ml.missing_policy import missing_policy_lines, with_missing_policy
from modelops.ml.training import fit_model, predict_scores
from modelops.ml.validation import validate_batch
from modelops.spec import SpecError, UseCaseSpec, load_spec
from support import GERMAN_DATA, write_spec


def _spec(tmp_path, d: dict, missing: dict | None = None, **model) -> UseCaseSpec:
    if missing is not None:
        d["features"]["missing"] = missing
    d["model"].update(model)
    return load_spec(write_spec(tmp_path, d))


def _with_gaps(table: pl.DataFrame, column: str, every: int = 7) -> pl.DataFrame:
    gap = pl.int_range(pl.len()) % every == 0
    return table.with_columns(pl.when(gap).then(None).otherwise(pl.col(column)).alias(column))


def _transformers(pipeline) -> dict[str, tuple]:
    return {name: (step, list(cols)) for name, step, cols in pipeline[0].transformers_}


def test_nothing_declared_leaves_the_pipeline_as_it_was(german_spec) -> None:
    transformers = [("numeric", "steps", ["a"]), ("categorical", "other", ["b"])]
    assert with_missing_policy(transformers, german_spec.features.missing, "scorecard") is (
        transformers
    )


def test_declared_median_gives_the_same_scores_as_the_default(
    tmp_path, german_spec, german_spec_dict, german_split
) -> None:
    train, holdout = german_split
    train = _with_gaps(train, "credit_amount")
    declared = _spec(tmp_path, german_spec_dict, {"default": "impute_median"})
    before = predict_scores(fit_model(train, german_spec), holdout, german_spec)
    after = predict_scores(fit_model(train, declared), holdout, declared)
    np.testing.assert_allclose(after, before)


def test_own_bin_gives_a_numeric_input_a_missing_indicator(
    tmp_path, german_spec, german_spec_dict, german_split
) -> None:
    train, holdout = german_split
    train = _with_gaps(train, "credit_amount")
    spec = _spec(tmp_path, german_spec_dict, {"per_feature": {"credit_amount": "own_bin"}})
    pipeline = fit_model(train, spec)
    steps = _transformers(pipeline)
    assert isinstance(steps["missing_indicator"][0], MissingIndicator)
    assert steps["missing_indicator"][1] == ["credit_amount"]
    assert "credit_amount" in steps["numeric_own_bin"][1]
    assert "credit_amount" not in steps["numeric"][1]
    # A missing amount scores differently from the median amount: it has points of its own.
    median = train.get_column("credit_amount").median()
    rows = pl.concat([holdout.head(1)] * 2).with_columns(
        pl.Series("credit_amount", [None, median], pl.Float64)
    )
    missing, at_median = predict_scores(pipeline, rows, spec)
    assert missing != pytest.approx(at_median)
    baseline = predict_scores(fit_model(train, german_spec), rows, german_spec)
    assert baseline[0] == pytest.approx(baseline[1])  # median imputation: no difference


def test_impute_mean_uses_the_training_mean(tmp_path, german_spec_dict, german_split) -> None:
    train = _with_gaps(german_split[0], "duration_months")
    spec = _spec(tmp_path, german_spec_dict, {"per_feature": {"duration_months": "impute_mean"}})
    steps = _transformers(fit_model(train, spec))
    step, columns = steps["numeric_mean"]
    assert columns == ["duration_months"]
    imputer = step.named_steps["impute"]
    assert imputer.statistics_[0] == pytest.approx(train.get_column("duration_months").mean())


def test_native_estimators_keep_missing_values_unless_imputed(tmp_path, german_spec_dict) -> None:
    spec = _spec(
        tmp_path,
        german_spec_dict,
        {"default": "own_bin", "per_feature": {"duration_months": "impute_median"}},
        estimator="sklearn.ensemble.HistGradientBoostingClassifier",
        params={"max_iter": 10},
        preprocessing="native",
    )
    transformers = [("numeric", "passthrough", ["credit_amount", "duration_months"])]
    out = with_missing_policy(transformers, spec.features.missing, "native")
    assert out[0] == ("numeric", "passthrough", ["credit_amount"])
    assert out[1][0] == "numeric_median" and isinstance(out[1][1], SimpleImputer)
    assert out[1][1].strategy == "median"


def test_reject_quarantines_rows_missing_the_input(tmp_path, german_spec_dict) -> None:
    column = next(c for c in german_spec_dict["schema"]["columns"] if c["name"] == "credit_amount")
    column["nullable"] = True
    spec = _spec(tmp_path, german_spec_dict, {"per_feature": {"credit_amount": "reject"}})
    raw = pl.read_csv(GERMAN_DATA, infer_schema=False).head(3)
    raw = raw.with_columns(pl.Series("credit_amount", ["1000", "", "2000"]))
    outcome = validate_batch(raw, spec)
    assert outcome.quarantined.get_column("row_id").to_list() == [2]
    assert outcome.quarantined.get_column("reasons").to_list() == [
        "credit_amount: value is missing (features.missing: reject)"
    ]
    # The service reads an application the same way: the missing input is refused, named.
    from modelops.ml.scoring.application_fields import ApplicationReader

    reader = ApplicationReader(spec)
    record = {f.name: None for f in reader.fields}
    read = reader.read(record)
    assert any(
        p.field == "credit_amount" and p.message == "value is missing (features.missing: reject)"
        for p in read.problems
    )


@pytest.mark.parametrize(
    ("missing", "field", "reason"),
    [
        (
            {"per_feature": {"purpose": "impute_mean"}},
            "features.missing.per_feature.purpose",
            "categorical",
        ),
        (
            {"per_feature": {"nope": "own_bin"}},
            "features.missing.per_feature.nope",
            "not a model input",
        ),
        ({"default": "reject"}, "features.missing.default", "engineered inputs"),
    ],
)
def test_a_policy_that_cannot_apply_is_refused(
    tmp_path, german_spec_dict, missing, field, reason
) -> None:
    with pytest.raises(SpecError) as caught:
        _spec(tmp_path, german_spec_dict, missing)
    assert any(f == field and reason in r for f, r in caught.value.problems), caught.value


def test_the_card_lines_state_treatment_and_share(
    tmp_path, german_spec, german_spec_dict, german_split
) -> None:
    train = _with_gaps(german_split[0], "credit_amount", every=4)
    default_lines = missing_policy_lines(german_spec, train)
    assert "platform default" in default_lines[0]
    amount = next(line for line in default_lines if line.startswith("| `credit_amount`"))
    share = train.get_column("credit_amount").null_count() / train.height
    assert amount == (
        f"| `credit_amount` | imputed with the training median (platform default) | {share:.1%} |"
    )
    assert any("`__missing__`" in line for line in default_lines)
    spec = _spec(tmp_path, german_spec_dict, {"default": "own_bin"})
    lines = missing_policy_lines(spec)
    assert "features.missing" in lines[0]
    assert any(line.startswith("| `credit_amount` | own bin") for line in lines)
    assert all(line.endswith("| n/a |") for line in lines[4:])
