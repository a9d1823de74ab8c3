"""Registering a trained model version, and everything recorded with it.

One call fits the spec's model on the current training set and records: the MLflow run and
registered version (parameters, metrics, lineage, artifact digest), the release gates'
thresholds fixed now, before the model is evaluated, the serving bundle (everything scoring
needs, so no other process refits anything), the model record beside the version, and the
audit log's `training` and `gate_thresholds` records. The version is published last: a
failure before that leaves the previous model current.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from modelops.formatting import json_document
from modelops.governance.model_record import ModelRecord, write_model_record
from modelops.ml.runtimes.runtime_record import RUNTIME_ARTIFACT_FOLDER
from modelops.names import (
    GATE_PLAN_FILE,
    HOLDOUT,
    MLFLOW_DAGSTER_RUN_TAG,
    MODEL,
    SERVING_BUNDLE_PREFIX,
    TRAINING,
)
from modelops.provenance import code_revision, lock_digest
from modelops.spec import UseCaseSpec
from modelops.spec.risk import RiskPolicy

if TYPE_CHECKING:
    import polars as pl

    from modelops.ml.runtimes.runtime_fit import RuntimeFit
    from modelops.resources.audit_log import AuditLog
    from modelops.resources.storage import ArtifactStore
    from modelops.resources.tracking import ModelTracking


@dataclass(frozen=True)
class TrainingRun:
    """The orchestrator's facts about the run that trains."""

    run_id: str
    actor: str
    """Who trained: recorded, so that person cannot also approve the version."""
    code_version: str
    reason: str
    """`training run`, or why retraining was requested."""


@dataclass(frozen=True)
class TrainedVersion:
    record: ModelRecord
    train_auc: float


def train_and_register(
    spec: UseCaseSpec,
    policy: RiskPolicy,
    run: TrainingRun,
    *,
    store: ArtifactStore,
    tracking: ModelTracking,
    audit_log: AuditLog,
    runtime: RuntimeFit | None = None,
    project_dir: Path | None = None,
    reference: pl.DataFrame | None = None,
    reference_months: tuple[str, ...] = (),
) -> TrainedVersion:
    """Fit (or, with `runtime`, take the model R or another environment trained), register
    and record. `project_dir` holds the runtime's script, kept with the run. `reference`: the
    production months (`reference_months`) drift will be judged against (else the training
    data)."""
    from modelops.ml.evaluation.threshold_rule import resolve_threshold
    from modelops.ml.metrics import binary_metrics
    from modelops.ml.release_gates import gate_plan
    from modelops.ml.serving_bundle import ServingBundle
    from modelops.ml.training import fit_model, input_example, labels, predict_scores
    from modelops.resources.tracking import DatasetRef

    uc = spec.id
    assessment = policy.assess(spec.risk, spec.data_schema.protected_attributes)
    train_version = store.require_current(uc, TRAINING)
    holdout_version = store.current_version(uc, HOLDOUT)
    train = store.read_table(uc, TRAINING, train_version)
    holdout = store.read_table(uc, HOLDOUT, holdout_version)
    pipeline = runtime.pipeline if runtime else fit_model(train, spec)
    fit = binary_metrics(labels(train), predict_scores(pipeline, train, spec))
    plan = gate_plan(spec, assessment, policy.for_tier(assessment.tier))
    commit, lock = code_revision(), lock_digest()
    tags = {
        "modelops.use_case": uc,
        "modelops.git_commit": commit,
        "modelops.code_version": run.code_version,
        "modelops.lock_sha256": lock,
        "modelops.training_set_version": train_version,
        MLFLOW_DAGSTER_RUN_TAG: run.run_id,
        "modelops.owner": spec.owners.person,
        "modelops.team": spec.owners.team,
        "modelops.trained_by": run.actor,
        "modelops.risk_tier": assessment.tier,
        "modelops.gate_plan_sha256": plan.fingerprint(),
        **_runtime_tags(spec, runtime),
    }
    registered = tracking.record_training(
        use_case=uc,
        registered_name=spec.registered_model_name,
        model=pipeline,
        input_example=input_example(train, spec),
        params={
            "estimator": spec.model.estimator,
            "preprocessing": spec.model.preprocessing,
            "seed": spec.split.seed,
            **{f"model.{k}": v for k, v in spec.model.params.items()},
            "runtime": spec.model.runtime.kind,
            "target": spec.target.definition_text(),
            "features": ",".join(spec.model_inputs),
        },
        metrics={f"train_{name}": value for name, value in fit.as_dict().items()},
        tags=tags,
        datasets=[
            (
                DatasetRef(
                    f"{uc}/{TRAINING}",
                    store.uri(uc, TRAINING, train_version, "table.parquet"),
                    train_version,
                    "training",
                ),
                train.head(1000),
            )
        ],
        run_name=f"{uc}-{run.run_id[:8]}",
    )
    version = registered.version
    bundle = ServingBundle.build(
        spec,
        model_version=version,
        pipeline=pipeline,
        training=train,
        holdout=holdout,
        model_sha256=registered.artifact_sha256,
        reference=reference,
        reference_months=reference_months,
    )
    threshold = resolve_threshold(labels(holdout), bundle.holdout_scores, spec.evaluation)
    bundle = dataclasses.replace(
        bundle,
        manifest=bundle.manifest.model_copy(update={"operating_threshold": threshold.threshold}),
    )
    files = bundle.to_files()
    if (
        runtime is not None
    ):  # the model file and its holdout scores, for batch scoring and reproduction
        for name, content in runtime.outputs.files.items():
            store.write_bytes(uc, MODEL, version, f"{RUNTIME_ARTIFACT_FOLDER}/{name}", content)
        tracking.log_files(
            registered.run_id, runtime.artifacts(project_dir or Path.cwd()), folder="runtime"
        )
    for filename, content in files.items():
        store.write_bytes(uc, MODEL, version, f"{SERVING_BUNDLE_PREFIX}{filename}", content)
    record = ModelRecord(
        registered_name=registered.name,
        version=version,
        run_id=registered.run_id,
        experiment_id=registered.experiment_id,
        model_uri=registered.model_uri,
        training_set_version=train_version,
        holdout_set_version=holdout_version,
        trained_at=datetime.now(UTC),
        training_rows=train.height,
        training_positive_rate=fit.positives / fit.n,
        estimator=_trained_with(spec, runtime),
        code_version=run.code_version,
        git_commit=commit,
        lock_sha256=lock,
        trained_by=run.actor,
        artifact_sha256=registered.artifact_sha256,
        risk_tier=assessment.tier,
        serving_bundle_sha256=ServingBundle.digest_of(files),
        spec=spec.model_dump(mode="json", by_alias=True),
        runtime=runtime.record if runtime else None,
        threshold=threshold,
    )
    plan_bytes = json_document(plan.to_dict())
    store.write_bytes(uc, MODEL, version, GATE_PLAN_FILE, plan_bytes)
    write_model_record(store, uc, record)
    tracking.log_files(registered.run_id, {GATE_PLAN_FILE: plan_bytes}, folder="governance")
    _record_training(audit_log, spec, run, record, plan.to_dict(), plan.fingerprint())
    store.publish(uc, MODEL, version)
    return TrainedVersion(record, fit.auc)


def _record_training(
    audit_log: AuditLog,
    spec: UseCaseSpec,
    run: TrainingRun,
    record: ModelRecord,
    plan: dict[str, object],
    plan_fingerprint: str,
) -> None:
    """The `training` record (who, which code, data and digests) and the `gate_thresholds`
    record (the plan the release gates will be held to)."""
    training = {
        "owner": spec.owners.person,
        "run_id": record.run_id,
        "dagster_run_id": run.run_id,
        "git_commit": record.git_commit,
        "lock_sha256": record.lock_sha256,
        "artifact_sha256": record.artifact_sha256,
        "serving_bundle_sha256": record.serving_bundle_sha256,
        "estimator": record.estimator,
        "runtime": record.runtime.model_dump(mode="json") if record.runtime else "python",
        "params": {k: str(v) for k, v in spec.model.params.items()},
        "seed": spec.split.seed,
        "risk_tier": record.risk_tier,
    }
    for event, reason, details in (
        ("training", run.reason, training),
        (
            "gate_thresholds",
            "thresholds fixed before evaluation",
            {"plan": plan, "plan_fingerprint": plan_fingerprint},
        ),
    ):
        audit_log.append(
            record.audit_event(
                event, actor=run.actor, use_case=spec.id, reason=reason, details=details
            )
        )


def _trained_with(spec: UseCaseSpec, runtime: RuntimeFit | None) -> str:
    """What trained the version, as the card and the registry show it."""
    if runtime is None:
        return spec.model.estimator
    record = runtime.record
    return f"{record.family} ({record.language} {record.language_version}, {record.script})"


def _runtime_tags(spec: UseCaseSpec, runtime: RuntimeFit | None) -> dict[str, str]:
    """The MLflow tags that say which runtime and language trained the version."""
    tags = {"modelops.runtime": spec.model.runtime.kind}
    if runtime is None:
        return {**tags, "modelops.runtime.language": "Python"}
    record = runtime.record
    return {
        **tags,
        "modelops.runtime.language": record.language,
        "modelops.runtime.language_version": record.language_version,
        "modelops.runtime.family": record.family,
        "modelops.runtime.script": record.script,
        "modelops.runtime.script_sha256": record.script_sha256,
        "modelops.runtime.model_sha256": record.model_sha256,
    }
