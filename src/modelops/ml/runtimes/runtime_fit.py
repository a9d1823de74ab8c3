"""A model trained in another runtime, made ready for the platform's release process.

The script's outputs are read and checked, its portable export is rebuilt as a pipeline and
held to the runtime's own holdout scores; what is recorded with the version (`RuntimeRecord`)
names the runtime, the script and the digests of the script, its lock and the model file, so
reproduction and batch scoring can check they run the same things.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from sklearn.pipeline import Pipeline

from modelops.ml.runtimes.exchange import ScriptOutputError, TrainingOutputs
from modelops.ml.runtimes.portable_linear import max_gap, parity_problem, portable_pipeline
from modelops.ml.runtimes.runtime_record import RuntimeRecord
from modelops.spec import UseCaseSpec
from modelops.spec.runtime import ModelRuntime


@dataclass(frozen=True, eq=False)
class RuntimeFit:
    pipeline: Pipeline
    outputs: TrainingOutputs
    record: RuntimeRecord

    def artifacts(self, project_dir: Path) -> dict[str, bytes]:
        """What the MLflow run keeps of the runtime: the script's outputs and its source."""
        files = dict(self.outputs.files)
        files[Path(self.record.script).name] = (project_dir / self.record.script).read_bytes()
        if self.record.environment:
            lock = project_dir / self.record.environment / "uv.lock"
            files["uv.lock"] = lock.read_bytes()
        return files


def runtime_fit(
    outputs: TrainingOutputs, spec: UseCaseSpec, holdout: pl.DataFrame, project_dir: Path
) -> RuntimeFit:
    """The pipeline standing in for the runtime's model, checked against its holdout scores."""
    from modelops.ml.training import predict_scores

    runtime = spec.model.runtime
    description = outputs.description
    if description.portable is None:
        raise ScriptOutputError(
            f"description.json has no portable model: the platform scores {runtime.language} "
            "models through their portable export (a logistic model's coefficients); "
            "models without one are not supported yet"
        )
    pipeline = portable_pipeline(description.portable, spec)
    portable_scores = predict_scores(pipeline, holdout, spec)
    problem = parity_problem(outputs.holdout_scores, portable_scores, runtime.language)
    if problem:
        raise ScriptOutputError(problem)
    record = RuntimeRecord(
        kind=runtime.kind,
        language=description.runtime.language,
        language_version=description.runtime.version,
        packages=description.runtime.packages,
        family=description.family,
        model_file=description.model_file,
        model_sha256=outputs.model_sha256,
        portable=True,
        portable_max_gap=max_gap(outputs.holdout_scores, portable_scores),
        **script_digests(runtime, project_dir),
    )
    return RuntimeFit(pipeline, outputs, record)


def script_digests(runtime: ModelRuntime, project_dir: Path) -> dict[str, str | None]:
    """The script's (and its environment lock's) path and sha256, as recorded."""
    assert runtime.script is not None  # an outside runtime always names its script
    digests: dict[str, str | None] = {
        "script": runtime.script,
        "script_sha256": file_sha256(project_dir / runtime.script),
        "environment": runtime.environment,
        "environment_lock_sha256": None,
    }
    if runtime.environment:
        digests["environment_lock_sha256"] = file_sha256(
            project_dir / runtime.environment / "uv.lock"
        )
    return digests


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
