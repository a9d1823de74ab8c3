"""The R Dagster Pipes client and the R glm example, run for real: Rscript launched by
Dagster's PipesSubprocessClient inside `dg.materialize`. R is installed by `make setup` and
CI, so a missing Rscript fails these tests rather than skipping them."""

import json
import shutil
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from modelops.pipes_clients import R_CLIENT
from support import GERMAN_DATA

PROJECT = Path(__file__).resolve().parents[2]
GLM_SCRIPT = PROJECT / "model_code" / "german_credit_glm" / "model.R"
NUMERIC = ["duration_in_month", "credit_amount", "age_in_years"]
CATEGORICAL = ["status_of_existing_checking_account", "credit_history", "purpose", "housing"]
UNSEEN_PURPOSE = "retraining"  # kept out of training: the holdout has a level glm never saw


def rscript() -> str:
    found = shutil.which("Rscript")
    assert found is not None, "Rscript is not installed: run `make setup` as root (or apt-get)"
    return found


def run_r(
    script: Path, extras: dict[str, Any], cwd: Path, checks: tuple[str, ...] = ()
) -> tuple[dg.ExecuteInProcessResult, dg.DagsterInstance]:
    """Materialize one asset whose body runs `script` through Pipes; failures are returned."""

    @dg.asset(name="r_model", check_specs=[dg.AssetCheckSpec(c, asset="r_model") for c in checks])
    def r_model(context: dg.AssetExecutionContext, pipes: dg.PipesSubprocessClient):
        return pipes.run(
            command=[rscript(), str(script)],
            context=context,
            extras=extras,
            env={"MODELOPS_R_PIPES_CLIENT": str(R_CLIENT)},
            cwd=str(cwd),
        ).get_results()

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [r_model],
        resources={"pipes": dg.PipesSubprocessClient()},
        instance=instance,
        raise_on_error=False,
    )
    return result, instance


def user_logs(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    return {e.user_message: e.level for e in instance.all_logs(run_id) if e.dagster_event is None}


def test_logs_metadata_and_check_reach_dagster(tmp_path: Path) -> None:
    script = tmp_path / "tiny.R"
    script.write_text(
        'source(Sys.getenv("MODELOPS_R_PIPES_CLIENT"))\n'
        "pipes_run(function(ctx) {\n"
        "  values <- unlist(ctx$extras$values)\n"
        '  pipes_log(ctx, paste("sum is", sum(values)))\n'
        '  if (any(values > 3)) warning("a value above 3")\n'
        "  pipes_report_materialization(ctx, metadata = list(\n"
        "    total = as.integer(sum(values)), mean = mean(values),\n"
        "    all_positive = all(values > 0),\n"
        '    label = ctx$extras$label, note = pipes_metadata_value("**R**", "md"),\n'
        "    values = values), data_version = ctx$extras$label)\n"
        '  pipes_report_check(ctx, "values_positive", passed = all(values > 0),\n'
        "    metadata = list(count = length(values)))\n"
        "})\n"
    )
    extras = {"values": [1, 2, 3, 5], "label": "café"}
    result, instance = run_r(script, extras, tmp_path, checks=("values_positive",))

    assert result.success
    logs = user_logs(instance, result.run_id)
    assert logs.get("sum is 11") == 20  # logging.INFO
    assert logs.get("R warning: a value above 3") == 30  # logging.WARNING
    (materialization,) = result.asset_materializations_for_node("r_model")
    metadata = materialization.metadata
    assert metadata["total"] == dg.IntMetadataValue(11)
    assert metadata["mean"] == dg.FloatMetadataValue(2.75)
    assert metadata["all_positive"] == dg.BoolMetadataValue(True)
    assert metadata["label"] == dg.TextMetadataValue("café")
    assert metadata["note"] == dg.MarkdownMetadataValue("**R**")
    assert metadata["values"] == dg.JsonMetadataValue([1, 2, 3, 5])
    assert materialization.tags is not None
    assert materialization.tags.get("dagster/data_version") == "café"
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == "values_positive"
    assert evaluation.passed
    assert evaluation.metadata["count"] == dg.IntMetadataValue(4)


def test_r_error_fails_the_materialization_with_its_message(tmp_path: Path) -> None:
    script = tmp_path / "broken.R"
    script.write_text(
        'source(Sys.getenv("MODELOPS_R_PIPES_CLIENT"))\n'
        'check_columns <- function(data) stop("boom: bad column")\n'
        "pipes_run(function(ctx) {\n"
        '  pipes_log(ctx, "checking columns")\n'
        "  check_columns(ctx$extras)\n"
        "})\n"
    )
    result, instance = run_r(script, {"mode": "train"}, tmp_path)

    assert not result.success
    assert not result.asset_materializations_for_node("r_model")
    assert "checking columns" in user_logs(instance, result.run_id)
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "failed with code 1" in failure.step_failure_data.error.cause.message
    closed = [
        e.dagster_event.engine_event_data.error
        for e in instance.all_logs(result.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
        if "pipes closed with exception" in e.dagster_event.message
    ]
    assert len(closed) == 1
    error = closed[0]
    assert "boom: bad column" in error.message
    assert "check_columns(ctx$extras)" in error.message  # the R call that failed
    assert error.cls_name == "simpleError"
    assert error.stack == [
        "main(ctx)\n",
        "check_columns(ctx$extras)\n",
        'stop("boom: bad column")\n',
    ]


def german_split(tmp_path: Path) -> tuple[Path, Path, pd.DataFrame, pd.DataFrame]:
    data = pd.read_csv(GERMAN_DATA)
    data["label"] = (data["creditability"] == "bad").astype(int)
    data = data[NUMERIC + CATEGORICAL + ["label"]]
    unseen = data["purpose"] == UNSEEN_PURPOSE
    train = data[~unseen].sample(frac=0.7, random_state=11)
    holdout = data.drop(train.index)
    train_path, holdout_path = tmp_path / "train.csv", tmp_path / "holdout.csv"
    train.to_csv(train_path, index=False)
    holdout.drop(columns="label").to_csv(holdout_path, index=False)
    return train_path, holdout_path, train, holdout


def portable_log_odds(portable: dict[str, Any], rows: pd.DataFrame) -> np.ndarray:
    """The contract's `modelops.linear_model`, scored in numpy (an unseen level counts 0)."""
    log_odds = np.full(len(rows), portable["intercept"], dtype=float)
    for term in portable["numeric"]:
        log_odds += term["coefficient"] * rows[term["name"]].to_numpy(dtype=float)
    for term in portable["categorical"]:
        levels = term["levels"]
        log_odds += np.array([levels.get(v, 0.0) for v in rows[term["name"]]], dtype=float)
    return log_odds


def sklearn_coefficients(train: pd.DataFrame) -> dict[str, float]:
    """Unpenalised logistic regression on the same one-hot design (first sorted level dropped)."""
    columns: dict[str, np.ndarray] = {c: train[c].to_numpy(dtype=float) for c in NUMERIC}
    for column in CATEGORICAL:
        for level in sorted(train[column].unique())[1:]:
            columns[f"{column}{level}"] = (train[column] == level).to_numpy(dtype=float)
    design = np.column_stack(list(columns.values()))
    fit = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-12, max_iter=200)
    fit.fit(design, train["label"].to_numpy())
    return {"(Intercept)": float(fit.intercept_[0])} | dict(
        zip(columns, fit.coef_[0].tolist(), strict=True)
    )


def test_german_credit_glm_trains_and_scores(tmp_path: Path) -> None:
    train_path, holdout_path, train, holdout = german_split(tmp_path)
    common = {"numeric": NUMERIC, "categorical": CATEGORICAL, "params": {"maxit": 50}, "seed": 5}
    work = tmp_path / "train_out"
    work.mkdir()
    extras = {
        "mode": "train",
        "work_dir": str(work),
        "train_path": str(train_path),
        "holdout_path": str(holdout_path),
    } | common
    result, instance = run_r(GLM_SCRIPT, extras, tmp_path, checks=("runtime_fit_healthy",))

    assert result.success
    assert {p.name for p in work.iterdir()} == {
        "model.rds",
        "holdout_scores.csv",
        "description.json",
    }
    (materialization,) = result.asset_materializations_for_node("r_model")
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    assert metadata["runtime_language"] == "R"
    assert metadata["training_rows"] == len(train)
    assert metadata["holdout_rows"] == len(holdout)
    assert metadata["converged"] is True
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == "runtime_fit_healthy" and evaluation.passed
    warnings = [m for m, level in user_logs(instance, result.run_id).items() if level == 30]
    assert any(UNSEEN_PURPOSE in m and "reference level" in m for m in warnings)

    description = json.loads((work / "description.json").read_text())
    assert description["runtime"]["language"] == "R"
    assert description["runtime"]["version"] == metadata["runtime_version"]
    portable = description["portable"]
    assert portable["format"] == "modelops.linear_model"
    reference = {t["name"]: t["reference"] for t in portable["categorical"]}
    assert reference == {c: sorted(train[c].unique())[0] for c in CATEGORICAL}
    r_scores = pd.read_csv(work / "holdout_scores.csv")["score"].to_numpy()
    assert len(r_scores) == len(holdout)
    r_log_odds = np.log(r_scores / (1 - r_scores))
    np.testing.assert_allclose(portable_log_odds(portable, holdout), r_log_odds, rtol=0, atol=1e-8)

    r_terms = {t["term"]: t["value"] for t in description["terms"]}
    expected = sklearn_coefficients(train)
    assert set(r_terms) == set(expected)
    for term, value in expected.items():
        assert r_terms[term] == pytest.approx(value, rel=1e-4, abs=1e-6), term

    scored = tmp_path / "score_out"
    scored.mkdir()
    score_extras = {
        "mode": "score",
        "work_dir": str(scored),
        "input_path": str(holdout_path),
        "model_path": str(work / "model.rds"),
    } | common
    score_result, _ = run_r(GLM_SCRIPT, score_extras, tmp_path)
    assert score_result.success
    scores = (scored / "scores.csv").read_text()
    assert scores == (work / "holdout_scores.csv").read_text()
