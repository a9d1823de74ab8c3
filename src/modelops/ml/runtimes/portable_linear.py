"""A runtime's portable logistic model as a scikit-learn pipeline the platform scores.

An R `glm` (or a logistic regression from another environment) reduces to an intercept, one
coefficient per numeric input and one per categorical level. Rebuilt as the platform's own
pipeline shape — a `ColumnTransformer` (numbers passed through, levels one-hot encoded) and a
`LogisticRegression` holding those coefficients — it goes through everything an in-process
model goes through: exact linear reason codes, the online row engine, the ONNX and pyfunc
packages. It is only used after its scores have been checked against the runtime's own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from modelops.ml.runtimes.exchange import PortableLinearModel, ScriptOutputError
from modelops.spec import UseCaseSpec

PARITY_TOLERANCE = 1e-6
"""Largest difference allowed between the runtime's scores and the portable model's."""


def portable_pipeline(model: PortableLinearModel, spec: UseCaseSpec) -> Pipeline:
    """The pipeline that scores exactly as `model` does (an unseen level scores as the
    reference level; a missing input is refused, as in R)."""
    numeric = {t.name: t.coefficient for t in model.numeric}
    categorical = {t.name: t for t in model.categorical}
    _same_inputs(set(numeric), set(spec.numeric_features), "numeric")
    _same_inputs(set(categorical), set(spec.categorical_features), "categorical")
    levels = [
        [categorical[c].reference, *sorted(categorical[c].levels)]
        for c in spec.categorical_features
    ]
    coefficients = [numeric[c] for c in spec.numeric_features]
    for name, names in zip(spec.categorical_features, levels, strict=True):
        coefficients += [0.0] + [categorical[name].levels[level] for level in names[1:]]
    transformers = []
    if spec.numeric_features:
        transformers.append(("numeric", "passthrough", spec.numeric_features))
    if spec.categorical_features:
        encoder = OneHotEncoder(categories=levels, handle_unknown="ignore")
        transformers.append(("categorical", encoder, spec.categorical_features))
    preprocess = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
    preprocess.fit(_level_frame(spec, levels))
    classifier = LogisticRegression()
    classifier.classes_ = np.array([0, 1])
    classifier.coef_ = np.array([coefficients], dtype=np.float64)
    classifier.intercept_ = np.array([model.intercept], dtype=np.float64)
    classifier.n_features_in_ = len(coefficients)
    classifier.n_iter_ = np.array([0], dtype=np.int32)
    return Pipeline([("preprocess", preprocess), ("model", classifier)])


def parity_problem(
    runtime_scores: np.ndarray, portable_scores: np.ndarray, language: str
) -> str | None:
    """Why the portable model may not stand in for the runtime's (None when it may)."""
    gap = max_gap(runtime_scores, portable_scores)
    if gap <= PARITY_TOLERANCE:
        return None
    return (
        f"the portable export disagrees with {language}'s own holdout scores by up to {gap:.3g} "
        f"(tolerance {PARITY_TOLERANCE}): check the coefficients and reference levels in "
        "description.json"
    )


def max_gap(a: np.ndarray, b: np.ndarray) -> float:
    """The largest absolute difference between two score vectors."""
    return float(np.max(np.abs(a - b))) if len(a) else 0.0


def _same_inputs(found: set[str], declared: set[str], kind: str) -> None:
    if found != declared:
        missing, extra = sorted(declared - found), sorted(found - declared)
        raise ScriptOutputError(
            f"description.json: portable.{kind} must list the spec's {kind} inputs; "
            f"missing {missing or 'none'}, unexpected {extra or 'none'}"
        )


def _level_frame(spec: UseCaseSpec, levels: list[list[str]]) -> pd.DataFrame:
    """A frame holding every level once, to fit the encoder's lookup (nothing is learned)."""
    rows = max((len(names) for names in levels), default=1)
    data: dict[str, list[object]] = {c: [0.0] * rows for c in spec.numeric_features}
    for name, names in zip(spec.categorical_features, levels, strict=True):
        data[name] = [names[i % len(names)] for i in range(rows)]
    return pd.DataFrame(data)
