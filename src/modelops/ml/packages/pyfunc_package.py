"""The scoring core as an MLflow pyfunc: any MLflow client or `mlflow models serve` gives the
platform's own answers (probability, decision, reason codes, outlier flag, fallback).

Artifacts are the version's serving bundle files and the spec; the bundle's digest travels in
the model's config and is checked in `load_context` before anything is deserialised, so a
package whose files were swapped refuses to load. The model is logged as code, not pickled.
Inputs are the RAW application columns (spec names); the signature is built from
`application_fields` so MLflow's schema enforcement accepts the platform's own holdout
(categories as strings, optional where nullable).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd

from modelops.ml.scoring.application_fields import application_fields, id_field
from modelops.spec import UseCaseSpec

SPEC_ARTIFACT = "spec"
SPEC_FILE = "spec.json"
BUNDLE_PREFIX = "bundle/"
DIGEST_METADATA = "modelops_serving_bundle_sha256"
ARTIFACT_NAME = "scoring_package"
MODEL_CODE_FILE = "scoring_package.py"
MODEL_CODE = (
    "from mlflow.models import set_model\n"
    "from modelops.ml.packages.pyfunc_package import ScoringPackage\n"
    "set_model(ScoringPackage())\n"
)
"""The package's model as code (MLflow "models from code"): nothing in it is pickled, so a
tampered package file cannot run code when loaded, as the serving bundle promises."""
_MLFLOW_TYPES = {"int": "long", "float": "double", "category": "string", "bool": "boolean"}


def answer_columns(top_k: int) -> list[str]:
    """The columns `predict` returns, in order."""
    reasons = [f"reason_{i}" for i in range(1, top_k + 1)]
    contributions = [f"reason_{i}_contribution" for i in range(1, top_k + 1)]
    catalogue = [f"reason_{i}_{part}" for part in ("code", "text") for i in range(1, top_k + 1)]
    return [
        "application_id",
        "probability",
        "decision",
        *reasons,
        *contributions,
        *catalogue,
        "outlier_score",
        "outlier_flag",
        "model_version",
        "fallback_reason",
    ]


def input_signature(spec: UseCaseSpec) -> Any:
    """The signature MLflow enforces: one column per application field. A nullable integer
    column is declared double (pandas holds an int column with gaps as float64)."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    columns = []
    for field in application_fields(spec):
        kind = field.column.type
        mlflow_type = _MLFLOW_TYPES.get(kind, "string")
        if kind == "int" and field.column.nullable:
            mlflow_type = "double"
        columns.append(ColSpec(mlflow_type, field.name, required=field.required))
    identifier = id_field(spec)
    if identifier and identifier not in {f.name for f in application_fields(spec)}:
        columns.append(ColSpec("string", identifier, required=False))
    return ModelSignature(inputs=Schema(columns))


def records_from_frame(frame: pd.DataFrame, spec: UseCaseSpec) -> list[dict[str, object]]:
    """DataFrame rows as the scorer reads them: NaN/NaT -> None, numpy scalars -> Python,
    a whole float in an int column -> int (pandas widens int columns with gaps to float)."""
    int_fields = {f.name for f in application_fields(spec) if f.column.type == "int"}
    records: list[dict[str, object]] = []
    for row in frame.to_dict(orient="records"):
        record: dict[str, object] = {}
        for key, value in row.items():
            record[str(key)] = _plain(value, whole=str(key) in int_fields)
        records.append(record)
    return records


def _plain(value: Any, *, whole: bool) -> object:
    if value is None or value is pd.NaT:
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if whole and value.is_integer():
            return int(value)
    return value


def answers_frame(answers: list[Any], top_k: int) -> pd.DataFrame:
    rows = []
    for answer in answers:
        row: dict[str, object] = {
            "application_id": answer.application_id,
            "probability": answer.probability,
            "decision": answer.decision,
        }
        for i in range(top_k):
            reason = answer.reasons[i] if i < len(answer.reasons) else None
            row[f"reason_{i + 1}"] = reason.feature if reason else None
            row[f"reason_{i + 1}_contribution"] = reason.contribution if reason else None
            row[f"reason_{i + 1}_code"] = reason.code if reason else None
            row[f"reason_{i + 1}_text"] = reason.text if reason else None
        row.update(
            outlier_score=answer.outlier_score,
            outlier_flag=answer.outlier_flag,
            model_version=answer.model_version,
            fallback_reason=answer.fallback_reason,
        )
        rows.append(row)
    return pd.DataFrame(rows, columns=answer_columns(top_k))


class ScoringPackage(mlflow.pyfunc.PythonModel):
    """`ApplicationScorer` behind MLflow's pyfunc interface."""

    def load_context(self, context: Any) -> None:
        from modelops.ml.scoring.applications import ApplicationScorer
        from modelops.ml.serving_bundle import ServingBundle

        spec_path = Path(context.artifacts[SPEC_ARTIFACT])
        self.spec = UseCaseSpec.model_validate_json(spec_path.read_text())
        metadata = (context.model_config or {}) if hasattr(context, "model_config") else {}
        expected = metadata.get(DIGEST_METADATA)
        if not expected:
            from modelops.ml.model_integrity import ModelIntegrityError

            raise ModelIntegrityError("scoring package has no recorded serving bundle sha256")
        artifacts: Mapping[str, str] = context.artifacts

        def read(name: str) -> bytes:
            return Path(artifacts[f"{BUNDLE_PREFIX}{name}"]).read_bytes()

        bundle = ServingBundle.from_files(read, expected_sha256=expected)
        self.scorer = ApplicationScorer(bundle, self.spec)

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        """One answer row per application row, in order; problems become fallback answers."""
        records = records_from_frame(pd.DataFrame(model_input), self.spec)
        return answers_frame(self.scorer.answer(records), self.scorer.top_k)


def package_artifacts(
    spec: UseCaseSpec, bundle_files: Mapping[str, bytes], directory: Path
) -> dict[str, str]:
    """Write the spec and the bundle files under `directory`: the pyfunc's artifacts."""
    artifacts: dict[str, str] = {}
    directory.mkdir(parents=True, exist_ok=True)
    spec_path = directory / SPEC_FILE
    spec_path.write_text(spec.model_dump_json(by_alias=True))
    artifacts[SPEC_ARTIFACT] = str(spec_path)
    bundle_dir = directory / "bundle"
    bundle_dir.mkdir(parents=True, exist_ok=True)
    for name, content in bundle_files.items():
        path = bundle_dir / name
        path.write_bytes(content)
        artifacts[f"{BUNDLE_PREFIX}{name}"] = str(path)
    return artifacts


def model_arguments(
    spec: UseCaseSpec, bundle_files: Mapping[str, bytes], bundle_sha256: str, directory: Path
) -> dict[str, Any]:
    """What `mlflow.pyfunc.log_model`/`save_model` take for this package (the caller adds
    `name`/`path` and `pip_requirements`); the artifacts are written under `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    code = directory / MODEL_CODE_FILE
    code.write_text(MODEL_CODE)
    return {
        "python_model": str(code),
        "artifacts": package_artifacts(spec, bundle_files, directory),
        "signature": input_signature(spec),
        "model_config": {DIGEST_METADATA: bundle_sha256},
        "metadata": {DIGEST_METADATA: bundle_sha256, "use_case": spec.id},
    }
