"""`modelops reproduce`: retrain a released version from what was recorded with it (spec,
data versions, seed, code and lock), score the holdout with both, and compare; the result
is audited. Each stage is announced and timed on stderr (a retraining takes a while)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelops.operator import OperatorError, Platform

if TYPE_CHECKING:
    import polars as pl

    from modelops.governance.model_record import ModelRecord
    from modelops.runtime_reproduction import RuntimeScores
    from modelops.spec import UseCaseSpec


def reproduce(
    platform: Platform, use_case: str, version: str | None, tolerance: float, actor: str
) -> tuple[bool, str]:
    """Retrain `version` (default: the champion) from what was recorded; compare."""
    from modelops.governance.model_record import has_model_record, read_model_record
    from modelops.ml.reproduction import compare_reproduction
    from modelops.ml.training import fit_model, labels, predict_scores
    from modelops.names import HOLDOUT, TRAINING
    from modelops.progress import Progress
    from modelops.provenance import code_revision, lock_digest

    desk = platform.desk(use_case)
    version = version or desk.champion()
    if version is None:
        raise OperatorError(f"{use_case} has no champion; name the version with --version")
    store, tracking = platform.resources.store, platform.tracking
    if not has_model_record(store, use_case, version):
        raise OperatorError(f"{use_case} version {version} is not in the artifact store")
    record = read_model_record(store, use_case, version)
    recorded_spec = record.recorded_spec()
    if recorded_spec is None:
        raise OperatorError(
            f"version {version} was trained before specs were recorded with the model; "
            "it cannot be reproduced from the record"
        )
    train = store.read_table(use_case, TRAINING, record.training_set_version)
    holdout = store.read_table(use_case, HOLDOUT, record.holdout_set_version)
    notes = []
    progress = Progress(2 if record.runtime is None else 1)
    if record.runtime is None:
        with progress.step(f"version {version}: scoring the holdout with the registered model"):
            original = tracking.load_model(record.model_uri, from_store=True)
            original_scores = predict_scores(original, holdout, recorded_spec)
        with progress.step(f"version {version}: retraining from the record"):
            refit = fit_model(train, recorded_spec)
            reproduced_scores = predict_scores(refit, holdout, recorded_spec)
    else:
        runtime = f"{record.runtime.language} {record.runtime.language_version}"
        with progress.step(f"version {version}: re-running in its runtime ({runtime})"):
            scores = _runtime_scores(platform, record, recorded_spec, train, holdout)
        original_scores, reproduced_scores = scores.original, scores.reproduced
        notes.extend(scores.notes)
    if record.git_commit != code_revision():
        notes.append(f"recorded code {record.git_commit}, running {code_revision()}")
    if record.lock_sha256 != lock_digest():
        notes.append("the dependency lock differs from the one recorded at training")
    recorded = {
        m: tracking.run_metric(record.registered_name, version, f"holdout_{m}")
        for m in ("auc", "gini", "ks", "brier")
    }
    report = compare_reproduction(
        version=version,
        labels=labels(holdout),
        original_scores=original_scores,
        reproduced_scores=reproduced_scores,
        recorded_metrics={k: v for k, v in recorded.items() if v is not None},
        tolerance=tolerance,
        notes=tuple(notes),
    )
    platform.resources.audit_log.append(
        record.audit_event(
            "reproduction",
            actor=actor,
            use_case=use_case,
            reason="reproduced" if report.matches else "NOT reproduced",
            details=report.to_dict(),
        )
    )
    return report.matches, report.to_text()


def _runtime_scores(
    platform: Platform,
    record: ModelRecord,
    spec: UseCaseSpec,
    train: pl.DataFrame,
    holdout: pl.DataFrame,
) -> RuntimeScores:
    """The runtime's recorded and re-run holdout scores (R, or its own environment)."""
    from modelops.runtime_reproduction import RuntimeReproductionError, reproduce_in_runtime

    try:
        return reproduce_in_runtime(
            record,
            spec,
            train,
            holdout,
            store=platform.resources.store,
            runtimes=platform.resources.runtimes,
        )
    except RuntimeReproductionError as exc:
        raise OperatorError(str(exc)) from None
