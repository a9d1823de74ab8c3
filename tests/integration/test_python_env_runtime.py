"""A model trained in its own Python environment (scikit-learn 1.8, model_code/
german_credit_sklearn) through real Dagster Pipes: what it reports, what it writes, and how
its failure reads. The first run creates that environment from its lock (PyPI, ~30 s).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import sklearn

from modelops.resources.model_runtimes import ModelRuntimeLauncher, ModelScriptError
from support import GERMAN_DATA, PROJECT

SCRIPT = "model_code/german_credit_sklearn/model.py"
NUMERIC = ["duration_in_month", "credit_amount", "age_in_years"]
CATEGORICAL = [
    "status_of_existing_checking_account",
    "credit_history",
    "purpose",
    "savings_account_and_bonds",
]
LAUNCHER = ModelRuntimeLauncher(project_dir=str(PROJECT))


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 70/30 split of the German credit data in the contract's CSV form."""
    folder = tmp_path_factory.mktemp("exchange")
    frame = pd.read_csv(GERMAN_DATA)[[*NUMERIC, *CATEGORICAL, "creditability"]]
    frame["label"] = (frame.pop("creditability") == "bad").astype(int)
    holdout = frame.sample(frac=0.3, random_state=7)
    paths = {"train": folder / "train.csv", "holdout": folder / "holdout.csv"}
    frame.drop(holdout.index).to_csv(paths["train"], index=False)
    holdout.to_csv(paths["holdout"], index=False)
    paths["inputs"] = folder / "inputs.csv"
    holdout.drop(columns="label").to_csv(paths["inputs"], index=False)
    return paths


def _extras(work_dir: Path, **values: Any) -> dict[str, Any]:
    work_dir.mkdir(parents=True, exist_ok=True)
    common = {"numeric": NUMERIC, "categorical": CATEGORICAL, "params": {}, "seed": 3}
    return {**common, "work_dir": str(work_dir), **values}


def _materialize(extras: dict[str, Any], script: str = SCRIPT) -> dg.ExecuteInProcessResult:
    @dg.asset(
        check_specs=[dg.AssetCheckSpec("runtime_fit_healthy", asset="trained_model")],
        required_resource_keys={"runtimes"},
    )
    def trained_model(context) -> Iterator[Any]:  # untyped: Dagster refuses a string hint
        runtimes: ModelRuntimeLauncher = context.resources.runtimes
        invocation = runtimes.run(context, kind="python-env", script=script, extras=extras)
        yield from invocation.get_results()

    return dg.materialize([trained_model], resources={"runtimes": LAUNCHER}, raise_on_error=False)


@pytest.fixture(scope="module")
def trained(split: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work_dir = tmp_path_factory.mktemp("train")
    extras = _extras(
        work_dir,
        mode="train",
        train_path=str(split["train"]),
        holdout_path=str(split["holdout"]),
    )
    result = _materialize(extras)
    assert result.success, result.get_step_failure_events()
    (materialization,) = result.asset_materializations_for_node("trained_model")
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    return {
        "work_dir": work_dir,
        "metadata": {k: v.value for k, v in materialization.metadata.items()},
        "checks": checks,
    }


def _portable_scores(portable: dict[str, Any], frame: pd.DataFrame) -> np.ndarray:
    log_odds = np.full(len(frame), portable["intercept"])
    for term in portable["numeric"]:
        log_odds += term["coefficient"] * frame[term["name"]].to_numpy(float)
    for term in portable["categorical"]:
        log_odds += frame[term["name"]].map(term["levels"]).fillna(0.0).to_numpy(float)
    return 1 / (1 + np.exp(-log_odds))


def test_reports_its_own_scikit_learn(trained: dict[str, Any]) -> None:
    metadata = trained["metadata"]
    assert metadata["sklearn_version"] == "1.8.0"
    assert metadata["sklearn_version"] != sklearn.__version__
    assert metadata["runtime_language"] == "Python"
    assert metadata["training_rows"] == 700
    assert trained["checks"] == {"runtime_fit_healthy": metadata["converged"]}


def test_outputs_follow_the_contract(trained: dict[str, Any], split: dict[str, Path]) -> None:
    work_dir: Path = trained["work_dir"]
    description = json.loads((work_dir / "description.json").read_text())
    assert description["runtime"]["language"] == "Python"
    assert description["runtime"]["packages"]["scikit-learn"] == "1.8.0"
    assert (work_dir / description["model_file"]).is_file()
    portable = description["portable"]
    assert portable["format"] == "modelops.linear_model"
    assert [t["name"] for t in portable["numeric"]] == NUMERIC
    holdout = pd.read_csv(split["holdout"])
    for term in portable["categorical"]:
        levels = sorted(pd.read_csv(split["train"])[term["name"]].unique())
        assert term["reference"] == levels[0]
        assert sorted(term["levels"]) == levels[1:]
    scores = pd.read_csv(work_dir / "holdout_scores.csv")
    assert list(scores.columns) == ["score"] and len(scores) == len(holdout)
    np.testing.assert_allclose(
        _portable_scores(portable, holdout), scores["score"], rtol=0, atol=1e-8
    )
    coefficient_terms = [t for t in description["terms"] if t["kind"] == "coefficient"]
    assert len(coefficient_terms) == 1 + len(NUMERIC) + sum(
        len(t["levels"]) for t in portable["categorical"]
    )


def test_score_mode_reproduces_the_holdout_scores(
    trained: dict[str, Any], split: dict[str, Path], tmp_path: Path
) -> None:
    work_dir: Path = trained["work_dir"]
    extras = _extras(
        tmp_path / "score",
        mode="score",
        input_path=str(split["inputs"]),
        model_path=str(work_dir / "model.joblib"),
    )
    result = LAUNCHER.run_outside_dagster(
        kind="python-env", script=SCRIPT, extras=extras, asset_name="predictions"
    )
    assert result.succeeded, result.error
    assert result.metadata["scored_rows"] == len(pd.read_csv(split["inputs"]))
    assert any("score with scikit-learn 1.8.0" in line for line in result.log_lines)
    scores = pd.read_csv(tmp_path / "score" / "scores.csv")["score"]
    expected = pd.read_csv(work_dir / "holdout_scores.csv")["score"]
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-12)


def test_run_outside_dagster_trains_and_reports(split: dict[str, Path], tmp_path: Path) -> None:
    extras = _extras(
        tmp_path,
        mode="train",
        train_path=str(split["train"]),
        holdout_path=str(split["holdout"]),
        params={"C": 0.5},
    )
    result = LAUNCHER.run_outside_dagster(
        kind="python-env", script=SCRIPT, extras=extras, asset_name="trained_model"
    )
    assert result.succeeded, result.error
    assert result.metadata["sklearn_version"] == "1.8.0"
    assert result.checks == {"runtime_fit_healthy": True}
    assert (tmp_path / "holdout_scores.csv").is_file()


def test_a_failing_script_fails_with_its_error(split: dict[str, Path], tmp_path: Path) -> None:
    """A copy of model.py whose training raises: the run fails, and the error names the
    script and says what it raised."""
    folder = PROJECT / "model_code" / "german_credit_sklearn"
    broken = folder / f"broken_{tmp_path.name}.py"
    broken.write_text(
        (folder / "model.py")
        .read_text()
        .replace(
            "    numeric, categorical = list(",
            '    raise ValueError("broken feature")\n    numeric, categorical = list(',
        )
    )
    script = str(broken.relative_to(PROJECT))
    extras = _extras(
        tmp_path, mode="train", train_path=str(split["train"]), holdout_path=str(split["holdout"])
    )
    try:
        result = _materialize(extras, script=script)
        outside = LAUNCHER.run_outside_dagster(
            kind="python-env", script=script, extras=extras, asset_name="trained_model"
        )
    finally:
        broken.unlink()
    assert not result.success
    (failure,) = result.get_step_failure_events()
    description = failure.step_failure_data.user_failure_data.description
    assert "broken feature" in description and broken.name in description
    assert "ValueError" in description
    assert not outside.succeeded
    assert "broken feature" in (outside.error or "") and broken.name in (outside.error or "")


def test_a_missing_lock_says_what_to_do(tmp_path: Path) -> None:
    folder = PROJECT / "model_code" / f"no_lock_{tmp_path.name}"
    folder.mkdir()
    try:
        (folder / "model.py").write_text("print('never runs')\n")
        (folder / "pyproject.toml").write_text("[project]\nname = 'x'\nversion = '0'\n")
        with pytest.raises(ModelScriptError, match="uv lock --project"):
            LAUNCHER.check_installed("python-env", folder.relative_to(PROJECT) / "model.py")
    finally:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
