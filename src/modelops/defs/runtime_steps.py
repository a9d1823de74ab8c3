"""Training and batch scoring in a model's own runtime (R, a separate Python environment),
through Dagster Pipes.

The wiring only: the exchange files, the checks on what comes back and the record live in
`modelops.ml.runtimes`; launching (a subprocess here, a pod on Kubernetes) in the
`runtimes` resource. What the script reports — logs, materialization metadata, the
`runtime_fit_healthy` check — reaches the asset through Pipes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import numpy as np
import polars as pl

from modelops import names
from modelops.spec import UseCaseSpec
from modelops.spec.runtime import ModelRuntime

if TYPE_CHECKING:
    from modelops.governance.model_record import ModelRecord
    from modelops.ml.runtimes.runtime_fit import RuntimeFit
    from modelops.resources.model_runtimes import ModelRuntimeLauncher
    from modelops.resources.storage import ArtifactStore

RUNTIME_CHECK = "runtime_fit_healthy"
_METADATA_PREFIX = "runtime/"


@dataclass(frozen=True)
class TrainedOutside:
    fit: RuntimeFit
    metadata: dict[str, dg.MetadataValue]
    """What the script reported for the asset, prefixed `runtime/`."""
    checks: list[dg.AssetCheckResult]


def train_in_runtime(
    context: dg.AssetExecutionContext,
    spec: UseCaseSpec,
    runtimes: ModelRuntimeLauncher,
    store: ArtifactStore,
) -> TrainedOutside:
    """Run the spec's model script in train mode on the current training and holdout sets."""
    from modelops.ml.runtimes.exchange import read_training_outputs, training_extras
    from modelops.ml.runtimes.runtime_fit import runtime_fit

    uc = spec.id
    train = store.read_table(uc, names.TRAINING, store.require_current(uc, names.TRAINING))
    holdout = store.read_table(uc, names.HOLDOUT, store.current_version(uc, names.HOLDOUT))
    with runtimes.work_folder() as work_dir:
        extras = training_extras(work_dir, train, holdout, spec)
        runtime = spec.model.runtime
        assert runtime.script is not None  # an outside runtime always names its script
        invocation = _launch(
            context,
            runtimes,
            extras,
            kind=runtime.kind,
            script=runtime.script,
            environment=runtime.environment,
        )
        outputs = read_training_outputs(work_dir, holdout.height)
    fit = runtime_fit(outputs, spec, holdout, Path(runtimes.project_dir))
    metadata: dict[str, dg.MetadataValue] = {}
    checks: list[dg.AssetCheckResult] = []
    for result in invocation.get_results():
        if isinstance(result, dg.AssetCheckResult):
            if result.check_name == RUNTIME_CHECK:
                checks.append(result._replace(asset_key=context.asset_key))
        elif isinstance(result, dg.MaterializeResult):
            metadata.update(_prefixed(result.metadata or {}))
    return TrainedOutside(fit, metadata, checks)


def missing_runtime_check(asset_key: dg.AssetKey, runtime: ModelRuntime) -> dg.AssetCheckResult:
    """The check's result when the script did not report it: not known to be healthy."""
    return dg.AssetCheckResult(
        check_name=RUNTIME_CHECK,
        asset_key=asset_key,
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"the {runtime.language} script did not report {RUNTIME_CHECK}",
    )


def trained_by(spec: UseCaseSpec) -> str:
    """What trains the use case's model, as the asset's description says it."""
    runtime = spec.model.runtime
    if runtime.outside:
        return f"{runtime.script} ({runtime.language}, run through Dagster Pipes)"
    return f"{spec.model.estimator} ({spec.model.preprocessing} preprocessing)"


def score_in_runtime(
    context: dg.AssetExecutionContext,
    spec: UseCaseSpec,
    runtimes: ModelRuntimeLauncher,
    store: ArtifactStore,
    record: ModelRecord,
    features: pl.DataFrame,
) -> np.ndarray:
    """The rows' scores from the version's own runtime (its model file checked first)."""
    import hashlib

    from modelops.ml.model_integrity import ModelIntegrityError
    from modelops.ml.runtimes.exchange import SCORES_FILE, read_scores, scoring_extras

    runtime = record.runtime
    assert runtime is not None  # only called for versions trained outside
    model = store.read_bytes(spec.id, names.MODEL, record.version, runtime.stored_model_file)
    if hashlib.sha256(model).hexdigest() != runtime.model_sha256:
        raise ModelIntegrityError(
            f"{runtime.stored_model_file} of version {record.version} was changed after "
            "training (its sha256 differs from the one recorded)"
        )
    with runtimes.work_folder() as work_dir:
        extras = scoring_extras(
            work_dir, features, spec, model_file=runtime.model_file, model=model
        )
        _launch(
            context,
            runtimes,
            extras,
            kind=runtime.kind,
            script=runtime.script,
            environment=runtime.environment,
        )
        return read_scores(work_dir, SCORES_FILE, features.height)


def _launch(
    context: dg.AssetExecutionContext,
    runtimes: ModelRuntimeLauncher,
    extras: Mapping[str, Any],
    *,
    kind: str,
    script: str,
    environment: str | None,
) -> dg.PipesClientCompletedInvocation:
    return runtimes.run(
        context, kind=kind, script=script, environment_dir=environment, extras=dict(extras)
    )


def _prefixed(metadata: Mapping[str, Any]) -> dict[str, dg.MetadataValue]:
    return {
        f"{_METADATA_PREFIX}{name}": value
        if isinstance(value, dg.MetadataValue)
        else dg.MetadataValue.text(str(value))
        for name, value in metadata.items()
    }


@dataclass(frozen=True)
class MonthRuntimeScores:
    """A month's scores from the champion's own runtime, or why there are none."""

    scores: np.ndarray | None = None
    fallback_reason: str | None = None
    metadata: dict[str, str] | None = None


def month_scores_in_runtime(
    context: dg.AssetExecutionContext,
    spec: UseCaseSpec,
    runtimes: ModelRuntimeLauncher,
    store: ArtifactStore,
    version: str | None,
    features: pl.DataFrame,
) -> MonthRuntimeScores:
    """For a champion trained outside the platform: the month scored by that runtime. A
    failure becomes the month's fallback reason (every row referred, named), as when any
    model cannot score; a version trained in-process needs nothing here."""
    from modelops.governance.model_record import read_model_record
    from modelops.ml.month_answers import MODEL_ERROR

    record = read_model_record(store, spec.id, version) if version else None
    if record is None or record.runtime is None or features.height == 0:
        return MonthRuntimeScores()
    runtime = record.runtime
    try:
        scores = score_in_runtime(context, spec, runtimes, store, record, features)
    except Exception as exc:  # production always answers: the month is referred, named
        cause = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        reason = f"{MODEL_ERROR}: version {version}: {runtime.language} scoring failed: {cause}"
        return MonthRuntimeScores(fallback_reason=reason)
    scored_in = (
        f"{runtime.language} {runtime.language_version} ({runtime.script}), via Dagster Pipes"
    )
    return MonthRuntimeScores(scores=scores, metadata={"scored_in": scored_in})
