"""A version's explanation section, from the serving bundle every door scores with: the
reasons judged are the reasons applicants are given."""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelops.spec import UseCaseSpec

if TYPE_CHECKING:
    import polars as pl

    from modelops.governance.model_record import ModelRecord
    from modelops.ml.explanations.report import ExplanationReport
    from modelops.resources.audit_log import AuditLog
    from modelops.resources.storage import ArtifactStore
    from modelops.spec.risk import TierPolicy

EXPLANATION_JSON = "explanation.json"
EXPLANATION_MD = "explanation.md"


def explain_version(
    store: ArtifactStore,
    audit_log: AuditLog,
    spec: UseCaseSpec,
    record: ModelRecord,
    training: pl.DataFrame,
    holdout: pl.DataFrame,
    tier: TierPolicy,
) -> ExplanationReport:
    """Global importance, faithfulness (with the tier's minimum) and the reason catalogue."""
    from modelops.governance.champion import load_serving_bundle
    from modelops.ml.explanations.faithfulness import faithfulness_minimum
    from modelops.ml.explanations.report import explanation_report

    bundle = load_serving_bundle(store, audit_log, spec, record.version)
    return explanation_report(
        bundle.pipeline,
        bundle.reasons,
        spec,
        training,
        holdout,
        faithfulness_minimum=faithfulness_minimum(spec, tier),
    )
