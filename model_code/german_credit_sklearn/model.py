"""German credit logistic regression, trained with scikit-learn 1.8 in its own environment.

The platform runs this script through Dagster Pipes (modelops.resources.model_runtimes) with
this folder's own lock, so its scikit-learn can differ from the platform's. It follows the
runtime exchange contract: `mode` "train" fits on `train_path`, scores `holdout_path` and
describes the model (with a `portable` linear form the platform can score in Python); `mode`
"score" scores `input_path` with `model_path`. Any exception closes the Pipes session with
the error (Dagster shows it) and exits non-zero.
"""

from __future__ import annotations

import json
import platform
from importlib.metadata import version
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn
from dagster_pipes import PipesContext, open_dagster_pipes
from sklearn.linear_model import LogisticRegression

MODEL_FILE = "model.joblib"
LABEL = "label"
PARAMS = {"C", "max_iter", "tol"}
"""What `model.params` may set: C (inverse L2 strength; absent = unpenalised), max_iter, tol."""


class Encoding:
    """Numeric columns standardised for the solver; each categorical one-hot encoded with its
    first sorted level as reference. A missing or unseen level has the reference's effect
    (all indicators 0), which is what the portable form gives it too."""

    def __init__(self, frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> None:
        self.numeric = numeric
        self.categorical = categorical
        values = _numeric(frame, numeric)
        self.mean = values.mean(axis=0) if numeric else np.zeros(0)
        scale = values.std(axis=0) if numeric else np.zeros(0)
        self.scale = np.where(scale > 0, scale, 1.0)
        self.levels = {c: sorted(frame[c].dropna().astype(str).unique()) for c in categorical}

    def state(self) -> dict[str, Any]:
        """Plain values for the model file (no class of this script is pickled)."""
        return {**vars(self), "mean": self.mean.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def restore(cls, state: dict[str, Any]) -> Encoding:
        encoding = cls.__new__(cls)
        vars(encoding).update(state, mean=np.array(state["mean"]), scale=np.array(state["scale"]))
        return encoding

    def terms(self) -> list[str]:
        dummies = [f"{c}[{level}]" for c in self.categorical for level in self.levels[c][1:]]
        return [*self.numeric, *dummies]

    def design(self, frame: pd.DataFrame) -> np.ndarray:
        missing = [c for c in (*self.numeric, *self.categorical) if c not in frame.columns]
        if missing:
            raise ValueError(f"input is missing the model's columns: {', '.join(missing)}")
        blocks = [(_numeric(frame, self.numeric) - self.mean) / self.scale]
        for column in self.categorical:
            text = frame[column].astype("string")
            blocks += [
                (text == level).fillna(False).to_numpy(float)[:, None]
                for level in self.levels[column][1:]
            ]
        return np.hstack(blocks) if blocks else np.zeros((len(frame), 0))


def _numeric(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    values = frame[columns].apply(pd.to_numeric, errors="raise").to_numpy(float)
    if np.isnan(values).any():
        bad = [c for c in columns if frame[c].isna().any()]
        raise ValueError(f"numeric columns with missing values (impute them first): {bad}")
    return values.reshape(len(frame), len(columns))


def _read(path: str, categorical: list[str]) -> pd.DataFrame:
    return pd.read_csv(path, dtype={c: str for c in categorical}, keep_default_na=False,
                       na_values=[""])  # fmt: skip


def _estimator(params: dict[str, Any], seed: int) -> LogisticRegression:
    unknown = sorted(set(params) - PARAMS)
    if unknown:
        raise ValueError(f"unknown model params {unknown}; allowed: {sorted(PARAMS)}")
    return LogisticRegression(
        C=float(params.get("C", np.inf)),
        max_iter=int(params.get("max_iter", 1000)),
        tol=float(params.get("tol", 1e-8)),
        solver="lbfgs",
        random_state=seed,
    )


def _portable(encoding: Encoding, model: LogisticRegression) -> dict[str, Any]:
    """The fit on raw inputs: standardised slopes divided by the scale, intercept shifted."""
    coef = model.coef_[0]
    n = len(encoding.numeric)
    raw = coef[:n] / encoding.scale
    intercept = float(model.intercept_[0] - np.sum(raw * encoding.mean))
    categorical, offset = [], n
    for column in encoding.categorical:
        levels = encoding.levels[column]
        effects = coef[offset : offset + len(levels) - 1]
        offset += len(levels) - 1
        categorical.append(
            {
                "name": column,
                "reference": levels[0] if levels else None,
                "levels": {lv: float(v) for lv, v in zip(levels[1:], effects, strict=True)},
            }
        )
    return {
        "format": "modelops.linear_model",
        "intercept": intercept,
        "numeric": [
            {"name": c, "coefficient": float(v)} for c, v in zip(encoding.numeric, raw, strict=True)
        ],
        "categorical": categorical,
    }


def _runtime() -> dict[str, Any]:
    names = ("scikit-learn", "numpy", "pandas", "dagster-pipes")
    return {
        "language": "Python",
        "version": platform.python_version(),
        "packages": {name: version(name) for name in names},
    }


def train(context: PipesContext, extras: dict[str, Any], work_dir: Path) -> None:
    numeric, categorical = list(extras["numeric"]), list(extras["categorical"])
    train_frame = _read(extras["train_path"], categorical)
    holdout = _read(extras["holdout_path"], categorical)
    labels = train_frame[LABEL].to_numpy(int)
    if set(np.unique(labels)) != {0, 1}:
        raise ValueError(f"label must hold both 0 and 1, got {sorted(np.unique(labels))}")
    encoding = Encoding(train_frame, numeric, categorical)
    design = encoding.design(train_frame)
    model = _estimator(dict(extras.get("params") or {}), int(extras.get("seed", 0)))
    model.fit(design, labels)
    context.log.info(f"fitted {len(encoding.terms())} terms on {len(labels)} rows")

    converged = bool(model.n_iter_[0] < model.max_iter)
    with_intercept = np.hstack([np.ones((len(design), 1)), design])
    aliased = int(with_intercept.shape[1] - np.linalg.matrix_rank(with_intercept))
    joblib.dump({"encoding": encoding.state(), "model": model}, work_dir / MODEL_FILE)
    scores = model.predict_proba(encoding.design(holdout))[:, 1]
    pd.DataFrame({"score": scores}).to_csv(work_dir / "holdout_scores.csv", index=False)
    portable = _portable(encoding, model)
    terms = [{"term": "(intercept)", "value": portable["intercept"], "kind": "coefficient"}]
    coefficients = [entry["coefficient"] for entry in portable["numeric"]]
    coefficients += [v for c in portable["categorical"] for v in c["levels"].values()]
    terms += [
        {"term": term, "value": value, "kind": "coefficient"}
        for term, value in zip(encoding.terms(), coefficients, strict=True)
    ]
    description = {
        "runtime": _runtime(),
        "model_file": MODEL_FILE,
        "family": "logistic regression (scikit-learn, lbfgs, logit link)",
        "terms": terms,
        "portable": portable,
    }
    (work_dir / "description.json").write_text(json.dumps(description, indent=2))

    healthy = converged and aliased == 0
    context.report_asset_materialization(
        metadata={
            "runtime_language": "Python",
            "runtime_version": platform.python_version(),
            "sklearn_version": sklearn.__version__,
            "training_rows": len(labels),
            "holdout_rows": len(holdout),
            "converged": converged,
            "iterations": int(model.n_iter_[0]),
            "aliased_terms": aliased,
        }
    )
    context.report_asset_check(
        check_name="runtime_fit_healthy",
        passed=healthy,
        metadata={"converged": converged, "aliased_terms": aliased},
    )


def score(context: PipesContext, extras: dict[str, Any], work_dir: Path) -> None:
    saved = joblib.load(extras["model_path"])
    encoding = Encoding.restore(saved["encoding"])
    frame = _read(extras["input_path"], encoding.categorical)
    scores = saved["model"].predict_proba(encoding.design(frame))[:, 1]
    pd.DataFrame({"score": scores}).to_csv(work_dir / "scores.csv", index=False)
    context.log.info(f"scored {len(frame)} rows")
    context.report_asset_materialization(
        metadata={
            "runtime_language": "Python",
            "runtime_version": platform.python_version(),
            "sklearn_version": sklearn.__version__,
            "scored_rows": len(frame),
        }
    )


def main() -> None:
    with open_dagster_pipes() as context:
        extras = dict(context.extras)
        work_dir = Path(extras["work_dir"])
        mode = extras.get("mode")
        context.log.info(f"{mode} with scikit-learn {sklearn.__version__}")
        if mode == "train":
            train(context, extras, work_dir)
        elif mode == "score":
            score(context, extras, work_dir)
        else:
            raise ValueError(f"mode must be 'train' or 'score', got {mode!r}")


if __name__ == "__main__":
    main()
