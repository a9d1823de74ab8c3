"""The release gates of one model version, judged against the plan fixed at its training.

The plan stored beside the model must be the one the audit log recorded at training (a limit
loosened afterwards is refused); the evaluation must be of this version. Every gate of
`ml.release_gates` is then evaluated, the result recorded in the audit log (`gate_result`) and
on the MLflow version (tag `modelops.gates`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from modelops.governance.history import GATE_THRESHOLDS
from modelops.governance.model_record import ModelRecord
from modelops.ml.batch_parsing import BatchFormatError, batch_filename, parse_batch
from modelops.names import GATE_PLAN_FILE, MODEL, RAW
from modelops.spec import UseCaseSpec
from modelops.spec.calendar import ended_months

if TYPE_CHECKING:
    from modelops.ml.evaluation import EvaluationReport
    from modelops.ml.explanations.faithfulness import FaithfulnessRecord
    from modelops.ml.fairness import FairnessReport
    from modelops.ml.release_gates import GatePlan, GateResult
    from modelops.resources.audit_log import AuditLog
    from modelops.resources.source import DataSource
    from modelops.resources.storage import ArtifactStore
    from modelops.resources.tracking import ModelTracking

PRODUCTION_SAMPLE_ROWS = 10_000
GATES_TAG = "modelops.gates"


class GatePlanError(RuntimeError):
    """The plan or the evaluation about to be used is not the one recorded for this version."""


@dataclass(frozen=True)
class GateReview:
    """Every gate's verdict for one version, as recorded."""

    model_version: str
    tier: str
    plan_fingerprint: str
    results: tuple[GateResult, ...]

    @property
    def passed(self) -> bool:
        return not any(r.blocking for r in self.results)

    @property
    def blocking_gates(self) -> list[str]:
        return [r.name for r in self.results if r.blocking]

    def to_dict(self) -> dict[str, Any]:
        """What `gates.json` and the `gate_result` audit record hold."""
        return {
            "model_version": self.model_version,
            "tier": self.tier,
            "plan_fingerprint": self.plan_fingerprint,
            "passed": self.passed,
            "results": [{**r.to_dict(), "blocking": r.blocking} for r in self.results],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateReview:
        from modelops.ml.release_gates import GateResult

        return cls(
            model_version=str(data["model_version"]),
            tier=str(data["tier"]),
            plan_fingerprint=str(data["plan_fingerprint"]),
            results=tuple(GateResult.from_dict(r) for r in data["results"]),
        )


def stored_gate_plan(store: ArtifactStore, uc: str, record: ModelRecord) -> GatePlan:
    """The plan stored beside the version at training."""
    from modelops.ml.release_gates import GatePlan

    return GatePlan.from_dict(
        json.loads(store.read_bytes(uc, MODEL, record.version, GATE_PLAN_FILE))
    )


def recorded_gate_plan(
    store: ArtifactStore, audit_log: AuditLog, uc: str, record: ModelRecord
) -> GatePlan:
    """The stored plan, refused unless it is the one the audit log recorded at training."""
    plan = stored_gate_plan(store, uc, record)
    recorded = [
        r.details.get("plan_fingerprint")
        for r in audit_log.records(use_case=uc, events=[GATE_THRESHOLDS])
        if r.model_version == record.version
    ]
    if not recorded:
        raise GatePlanError(
            f"{uc} version {record.version}: no gate thresholds were recorded in the audit log "
            "at training; retrain the model so its thresholds are fixed before evaluation"
        )
    if recorded[-1] != plan.fingerprint():
        raise GatePlanError(
            f"{uc} version {record.version}: the stored gate plan ({plan.fingerprint()[:12]}) "
            f"differs from the one recorded at training ({str(recorded[-1])[:12]}): it was changed"
        )
    return plan


def production_sample(
    spec: UseCaseSpec, source: DataSource, store: ArtifactStore
) -> tuple[pl.DataFrame, str]:
    """The newest production batch the source holds (what production really provides); before
    the first batch lands, the stored raw training batch, labelled as such. A batch that
    cannot be read raises `BatchFormatError` (file, field, reason)."""
    if spec.monitoring is not None:
        months = ended_months(spec.monitoring.start_month)
        for month in reversed(months[-36:]):
            batch = spec.monitoring.batches.source_for(month, spec.source)
            if source.probe(batch) is not None:
                content = source.read_bytes(batch, spec)
                frame = parse_batch(content, batch, section="monitoring.batches")
                return frame.head(PRODUCTION_SAMPLE_ROWS), source.location(batch)
    version = store.require_current(spec.id, RAW)
    content = store.read_bytes(spec.id, RAW, version, batch_filename(spec.source))
    frame = parse_batch(content, spec.source).head(PRODUCTION_SAMPLE_ROWS)
    return frame, f"{spec.source.description} (no production batch has landed yet)"


def review_gates(
    spec: UseCaseSpec,
    record: ModelRecord,
    plan: GatePlan,
    *,
    evaluation: EvaluationReport,
    fairness: FairnessReport,
    store: ArtifactStore,
    tracking: ModelTracking,
    source: DataSource,
    faithfulness: FaithfulnessRecord | None = None,
) -> GateReview:
    """Evaluate every gate of `record`'s version against its plan (`faithfulness`: the
    evaluation's measure of the stated reasons)."""
    from modelops.ml.drift import score_psi
    from modelops.ml.release_gates import check_feature_availability, evaluate_release_gates
    from modelops.ml.release_gates.availability import unreadable_production
    from modelops.ml.release_gates.intervals import holdout_intervals, psi_interval
    from modelops.ml.training import labels, predict_scores
    from modelops.names import HOLDOUT, TRAINING

    if str(evaluation.model_version) != record.version:
        raise GatePlanError(
            f"the evaluation report is of version {evaluation.model_version}, "
            f"not of the current model version {record.version}: re-run the evaluation"
        )
    pipeline = tracking.load_model(record.model_uri)
    train = store.read_table(spec.id, TRAINING, record.training_set_version)
    holdout = store.read_table(spec.id, HOLDOUT, record.holdout_set_version)
    holdout_scores = predict_scores(pipeline, holdout, spec)
    train_scores = predict_scores(pipeline, train, spec)
    stability = score_psi(train_scores, holdout_scores)
    intervals = holdout_intervals(
        labels(holdout),
        holdout_scores,
        {s: holdout.get_column(s).cast(pl.String).to_numpy() for s in spec.evaluation.segments},
        min_bads=plan.min_slice_bads or 1,
        min_goods=plan.min_slice_goods or 1,
    )
    intervals = dataclasses.replace(intervals, score_psi=psi_interval(train_scores, holdout_scores))
    try:
        sample, location = production_sample(spec, source, store)
        availability = check_feature_availability(spec, sample, location)
    except BatchFormatError as exc:  # production delivers nothing usable: the gate says why
        availability = unreadable_production(spec, exc.file, f"{exc.field}: {exc.reason}")
    results = evaluate_release_gates(
        plan,
        evaluation=evaluation,
        fairness=fairness,
        score_psi=stability.psi,
        fitted_inputs=[str(c) for c in getattr(pipeline, "feature_names_in_", [])],
        availability=availability,
        intervals=intervals,
        faithfulness=faithfulness,
    )
    return GateReview(record.version, plan.tier, plan.fingerprint(), tuple(results))


def record_gate_review(
    review: GateReview,
    record: ModelRecord,
    *,
    use_case: str,
    actor: str,
    tracking: ModelTracking,
    audit_log: AuditLog,
) -> None:
    """The verdict on the MLflow version and in the audit log."""
    tracking.set_version_tag(
        record.registered_name, record.version, GATES_TAG, "passed" if review.passed else "blocked"
    )
    audit_log.append(
        record.audit_event(
            "gate_result",
            actor=actor,
            use_case=use_case,
            reason="all required gates passed"
            if review.passed
            else "blocked by " + ", ".join(review.blocking_gates),
            details=review.to_dict(),
        )
    )
