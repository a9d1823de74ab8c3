"""The runtime contract, Python side: what is handed to a model script, what is accepted back,
and the portable logistic model that stands in for an R or separate-environment model."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from modelops.ml.runtimes.exchange import (
    DESCRIPTION_FILE,
    HOLDOUT_SCORES_FILE,
    PortableLinearModel,
    ScriptOutputError,
    read_training_outputs,
    training_extras,
)
from modelops.ml.runtimes.portable_linear import parity_problem, portable_pipeline
from modelops.ml.scoring import OutlierModel, ReasonCodes
from modelops.ml.scoring.answers import score_batch
from modelops.ml.training import labels, predict_scores
from modelops.spec import UseCaseSpec


def _one_hot(frame: pl.DataFrame, spec: UseCaseSpec) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """A treatment-coded design (first sorted level = reference), as R's glm builds it."""
    columns = [frame.get_column(c).cast(pl.Float64).to_numpy() for c in spec.numeric_features]
    dummies: list[tuple[str, str]] = []
    for name in spec.categorical_features:
        values = frame.get_column(name).cast(pl.String).to_numpy()
        for level in sorted(set(values))[1:]:
            columns.append((values == level).astype(float))
            dummies.append((name, level))
    return np.column_stack(columns), dummies


@pytest.fixture(scope="module")
def fitted_logistic(
    german_split: tuple[pl.DataFrame, pl.DataFrame], german_spec: UseCaseSpec
) -> tuple[PortableLinearModel, LogisticRegression, list[tuple[str, str]]]:
    """An unpenalised logistic regression, exported in the portable format by hand."""
    train, _ = german_split
    design, dummies = _one_hot(train, german_spec)
    model = LogisticRegression(C=np.inf, solver="newton-cholesky", max_iter=500).fit(
        design, labels(train)
    )
    coef = model.coef_[0]
    numeric = german_spec.numeric_features
    categorical = []
    for name in german_spec.categorical_features:
        levels = sorted(set(train.get_column(name).cast(pl.String).to_list()))
        categorical.append(
            {
                "name": name,
                "reference": levels[0],
                "levels": {
                    level: float(coef[len(numeric) + dummies.index((name, level))])
                    for level in levels[1:]
                },
            }
        )
    portable = PortableLinearModel.model_validate(
        {
            "format": "modelops.linear_model",
            "intercept": float(model.intercept_[0]),
            "numeric": [{"name": c, "coefficient": float(coef[i])} for i, c in enumerate(numeric)],
            "categorical": categorical,
        }
    )
    return portable, model, dummies


def test_the_portable_pipeline_scores_as_the_model_it_was_exported_from(
    fitted_logistic, german_split, german_spec
) -> None:
    portable, model, _ = fitted_logistic
    _, holdout = german_split
    pipeline = portable_pipeline(portable, german_spec)
    design, _ = _one_hot(holdout, german_spec)
    expected = model.predict_proba(design)[:, 1]
    got = predict_scores(pipeline, holdout, german_spec)
    assert np.max(np.abs(got - expected)) < 1e-9
    assert parity_problem(expected, got, "R") is None
    assert "disagrees with R's own holdout scores" in parity_problem(expected, got + 1e-3, "R")


def test_the_portable_pipeline_gets_exact_linear_reason_codes_and_batch_answers(
    fitted_logistic, german_split, german_spec
) -> None:
    portable, _, _ = fitted_logistic
    train, holdout = german_split
    pipeline = portable_pipeline(portable, german_spec)
    reasons = ReasonCodes.fit(pipeline, train, german_spec)
    assert reasons.method == "linear"
    assert reasons.fidelity.r2 == pytest.approx(1.0, abs=1e-9)
    runtime_scores = predict_scores(pipeline, holdout, german_spec) * 0 + 0.25
    answers = score_batch(
        holdout,
        pipeline=pipeline,
        reasons=reasons,
        outliers=OutlierModel.fit(train, german_spec),
        spec=german_spec,
        model_version="1",
        threshold=0.3,
        scored_at=datetime.now(UTC),
        scores=runtime_scores,
    )
    # The runtime's scores are the answers' scores and decide; the pipeline gives the reasons.
    assert answers.get_column("score").to_list() == [0.25] * holdout.height
    assert set(answers.get_column("decision")) == {"accept"}
    assert answers.get_column("reason_1").null_count() == 0


def test_an_unseen_level_scores_as_the_reference_level(fitted_logistic, german_spec) -> None:
    portable, _, _ = fitted_logistic
    pipeline = portable_pipeline(portable, german_spec)
    purpose = next(t for t in portable.categorical if t.name == "purpose")
    base = {c: 1.0 for c in german_spec.numeric_features}
    base |= {t.name: t.reference for t in portable.categorical}
    rows = pl.DataFrame([base, base | {"purpose": "a level never seen"}])
    scores = predict_scores(pipeline, rows, german_spec)
    assert scores[0] == pytest.approx(scores[1])
    numeric = sum(t.coefficient for t in portable.numeric)
    assert scores[0] == pytest.approx(expit(portable.intercept + numeric))
    assert purpose.reference not in purpose.levels


def test_a_portable_model_missing_an_input_is_refused_by_name(fitted_logistic, german_spec) -> None:
    portable, _, _ = fitted_logistic
    broken = portable.model_copy(update={"numeric": portable.numeric[1:]})
    with pytest.raises(ScriptOutputError, match=portable.numeric[0].name):
        portable_pipeline(broken, german_spec)


def _write_outputs(folder: Path, description: dict, scores: list[float]) -> None:
    (folder / DESCRIPTION_FILE).write_text(json.dumps(description))
    (folder / HOLDOUT_SCORES_FILE).write_text("score\n" + "\n".join(map(str, scores)) + "\n")


DESCRIPTION = {
    "runtime": {"language": "R", "version": "4.2.2", "packages": {"stats": "4.2.2"}},
    "model_file": "model.rds",
    "family": "glm binomial logit",
    "terms": [{"term": "(Intercept)", "value": -1.0, "kind": "coefficient"}],
    "portable": None,
}


def test_training_outputs_are_read_and_their_model_file_kept(tmp_path: Path) -> None:
    _write_outputs(tmp_path, DESCRIPTION, [0.1, 0.9])
    (tmp_path / "model.rds").write_bytes(b"RDS")
    outputs = read_training_outputs(tmp_path, 2)
    assert outputs.model_bytes == b"RDS"
    assert list(outputs.holdout_scores) == [0.1, 0.9]
    assert outputs.description.runtime.language == "R"


@pytest.mark.parametrize(
    ("change", "scores", "message"),
    [
        ({"model_file": "../../etc/passwd"}, [0.1, 0.9], "model_file"),
        ({"runtime": {"language": "R"}}, [0.1, 0.9], "runtime.version"),
        ({}, [0.1], "1 scores for 2 rows"),
        ({}, [0.1, 1.5], "probability"),
    ],
)
def test_outputs_that_break_the_contract_are_named(
    tmp_path: Path, change: dict, scores: list[float], message: str
) -> None:
    _write_outputs(tmp_path, DESCRIPTION | change, scores)
    (tmp_path / "model.rds").write_bytes(b"RDS")
    with pytest.raises(ScriptOutputError, match=message):
        read_training_outputs(tmp_path, 2)


def test_a_script_that_wrote_no_model_file_is_named(tmp_path: Path) -> None:
    _write_outputs(tmp_path, DESCRIPTION, [0.1, 0.9])
    with pytest.raises(ScriptOutputError, match=r"wrote no model\.rds"):
        read_training_outputs(tmp_path, 2)


def test_the_training_exchange_is_csv_with_inputs_and_label(
    tmp_path: Path, german_split, german_spec
) -> None:
    train, holdout = german_split
    extras = training_extras(tmp_path, train, holdout, german_spec)
    assert extras["mode"] == "train"
    written = pl.read_csv(extras["train_path"])
    assert written.columns == [*german_spec.model_inputs, "label"]
    assert written.height == train.height
    assert extras["numeric"] == german_spec.numeric_features
