"""Every online decision kept in the decision log before it is answered.

One `DecisionRecord` per answer (request id, time, use case, model version, application id,
the inputs as validated, score, decision, reasons, outlier score and flag, fallback reason)
appended with `DecisionLog.append` (`modelops.monitoring.decision_log`, which states the
guarantee) before the response is sent. If the log cannot be written, the request gets 503
and no decision.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelops.ml.scoring.application_fields import ReadApplication
    from modelops.serving.champion_watch import ServingState
    from modelops.serving.request_model import DecisionAnswer
    from modelops.settings import Settings
    from modelops.spec import UseCaseSpec

DecisionWriter = Callable[
    [str, "ServingState", Sequence["ReadApplication"], list["DecisionAnswer"]], None
]
"""Keeps the decisions of one request before they are answered (the decision log)."""


def decision_writer(settings: Settings, spec: UseCaseSpec) -> DecisionWriter:
    """The writer for `spec`'s decision log, under `settings.decision_log_dir`."""
    from modelops.monitoring.decision_log import DecisionLog, DecisionRecord

    log = DecisionLog(settings.decision_log_dir, spec.id, fsync=settings.decision_log_fsync)

    def write(
        request_id: str,
        state: ServingState,
        reads: Sequence[ReadApplication],
        answers: list[DecisionAnswer],
    ) -> None:
        decided_at = datetime.now(UTC)
        log.append(
            [
                DecisionRecord(
                    request_id=request_id,
                    decision_id=answer.decision_id,
                    decided_at=decided_at,
                    use_case=spec.id,
                    model_version=answer.model_version,
                    application_id=answer.application_id,
                    inputs=read.values,
                    probability=answer.probability,
                    decision=answer.decision,
                    reasons=tuple((r.feature, r.contribution) for r in answer.reasons),
                    outlier_score=answer.outlier_score,
                    outlier_flag=answer.outlier_flag,
                    fallback_reason=answer.fallback_reason,
                )
                for read, answer in zip(reads, answers, strict=True)
            ]
        )

    return write
