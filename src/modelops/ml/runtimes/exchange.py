"""The files the platform and a model script exchange (the contract in docs/frameworks.md).

The platform writes the training and holdout sets as CSV (base R and any Python read it with
no extra package) and reads back the model file, the holdout scores and `description.json`.
Everything read back is untrusted: the description is validated field by field and the score
files must have one finite probability per row, so a broken script fails with a message
that names the file instead of training a model on garbage.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from modelops.spec import UseCaseSpec
from modelops.spec.columns import LABEL

TRAIN_FILE = "train.csv"
HOLDOUT_FILE = "holdout.csv"
INPUT_FILE = "input.csv"
HOLDOUT_SCORES_FILE = "holdout_scores.csv"
SCORES_FILE = "scores.csv"
DESCRIPTION_FILE = "description.json"
MODEL_FILE_PATTERN = r"^model\.[A-Za-z0-9]{1,10}$"


class ScriptOutputError(ValueError):
    """A model script's outputs break the contract; the message names the file and why."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuntimeInfo(_Record):
    language: Annotated[str, Field(min_length=1, max_length=40)]
    version: Annotated[str, Field(min_length=1, max_length=80)]
    packages: dict[str, str] = Field(default_factory=dict)


class Term(_Record):
    term: str
    value: float | None
    kind: Literal["coefficient", "importance"]


class NumericTerm(_Record):
    name: str
    coefficient: float


class CategoricalTerm(_Record):
    name: str
    reference: str
    levels: dict[str, float]
    """Log-odds of each non-reference level relative to the reference level."""


class PortableLinearModel(_Record):
    """A logistic model in plain numbers: log-odds = intercept + numeric coefficient * value
    + the level's coefficient of each categorical input (0 for its reference level)."""

    format: Literal["modelops.linear_model"]
    intercept: float
    numeric: list[NumericTerm] = Field(default_factory=list)
    categorical: list[CategoricalTerm] = Field(default_factory=list)


class RuntimeDescription(_Record):
    """What the script says about the model it trained (`description.json`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    runtime: RuntimeInfo
    model_file: Annotated[str, Field(pattern=MODEL_FILE_PATTERN)]
    family: Annotated[str, Field(min_length=1, max_length=200)]
    terms: list[Term] = Field(default_factory=list)
    portable: PortableLinearModel | None = None


class TrainingOutputs(BaseModel):
    """What a training script handed back, read and checked."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    description: RuntimeDescription
    holdout_scores: np.ndarray
    files: dict[str, bytes]
    """model file, description.json and holdout_scores.csv, as the script wrote them."""

    @property
    def model_bytes(self) -> bytes:
        return self.files[self.description.model_file]

    @property
    def model_sha256(self) -> str:
        return hashlib.sha256(self.model_bytes).hexdigest()


def exchange_frame(features: pl.DataFrame, spec: UseCaseSpec, *, with_label: bool) -> pl.DataFrame:
    """The model inputs (numbers as float, categories as text), plus the label if wanted."""
    columns = [pl.col(c).cast(pl.Float64) for c in spec.numeric_features]
    columns += [pl.col(c).cast(pl.String) for c in spec.categorical_features]
    if with_label:
        columns.append(pl.col(LABEL).cast(pl.Int8))
    return features.select(columns)


def training_extras(
    work_dir: Path, train: pl.DataFrame, holdout: pl.DataFrame, spec: UseCaseSpec
) -> dict[str, Any]:
    """Write the training exchange into `work_dir`; the Pipes extras that describe it."""
    exchange_frame(train, spec, with_label=True).write_csv(work_dir / TRAIN_FILE)
    exchange_frame(holdout, spec, with_label=True).write_csv(work_dir / HOLDOUT_FILE)
    return {
        **_common_extras(work_dir, spec),
        "mode": "train",
        "train_path": str(work_dir / TRAIN_FILE),
        "holdout_path": str(work_dir / HOLDOUT_FILE),
    }


def scoring_extras(
    work_dir: Path, features: pl.DataFrame, spec: UseCaseSpec, *, model_file: str, model: bytes
) -> dict[str, Any]:
    """Write a scoring exchange (the rows and the model file) into `work_dir`."""
    exchange_frame(features, spec, with_label=False).write_csv(work_dir / INPUT_FILE)
    (work_dir / model_file).write_bytes(model)
    return {
        **_common_extras(work_dir, spec),
        "mode": "score",
        "input_path": str(work_dir / INPUT_FILE),
        "model_path": str(work_dir / model_file),
    }


def _common_extras(work_dir: Path, spec: UseCaseSpec) -> dict[str, Any]:
    return {
        "work_dir": str(work_dir),
        "numeric": spec.numeric_features,
        "categorical": spec.categorical_features,
        "params": spec.model.params,
        "seed": spec.split.seed,
    }


def read_training_outputs(work_dir: Path, holdout_rows: int) -> TrainingOutputs:
    """The script's outputs, checked against the contract."""
    raw = _read(work_dir, DESCRIPTION_FILE)
    try:
        description = RuntimeDescription.model_validate_json(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg']}" for e in exc.errors()
        )
        raise ScriptOutputError(f"{DESCRIPTION_FILE}: {problems}") from None
    scores = read_scores(work_dir, HOLDOUT_SCORES_FILE, holdout_rows)
    files = {
        description.model_file: _read(work_dir, description.model_file),
        DESCRIPTION_FILE: raw,
        HOLDOUT_SCORES_FILE: _read(work_dir, HOLDOUT_SCORES_FILE),
    }
    return TrainingOutputs(description=description, holdout_scores=scores, files=files)


def read_scores(work_dir: Path, name: str, rows: int) -> np.ndarray:
    """One probability in [0, 1] per row, from a CSV with a `score` column."""
    path = work_dir / name
    if not path.is_file():
        raise ScriptOutputError(f"the model script wrote no {name}")
    try:
        frame = pl.read_csv(path, schema_overrides={"score": pl.Float64})
        scores = frame.get_column("score").to_numpy()
    except Exception as exc:  # polars raises several kinds for a malformed file
        raise ScriptOutputError(
            f"{name}: not a CSV with a numeric 'score' column ({exc})"
        ) from None
    if len(scores) != rows:
        raise ScriptOutputError(f"{name}: {len(scores)} scores for {rows} rows")
    if not np.all(np.isfinite(scores)) or scores.min() < 0 or scores.max() > 1:
        raise ScriptOutputError(f"{name}: every score must be a probability in [0, 1]")
    return scores.astype(np.float64)


def _read(work_dir: Path, name: str) -> bytes:
    path = work_dir / name
    if not path.is_file():
        raise ScriptOutputError(f"the model script wrote no {name} in its work folder")
    return path.read_bytes()
