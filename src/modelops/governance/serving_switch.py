"""The stop switch: a person stops a use case's model from answering, and resumes it.

Human oversight of an automated decision: while a use case is stopped, every door (online
service, packaged model, monthly batch) answers the fallback decision with the reason "scoring
stopped by <who>: <why>". Stopping and resuming are audit records like promotions, so the
state at any time is replayed from the hash-chained log, and who stopped it and why is kept.
Plain Python: the CLI and the service both read it through the audit log resource.

`production_model` is what a batch door scores with now: the champion's verified serving
bundle, or the reason it answers the fallback instead (stopped, no champion, the model
unavailable); `scoring_line` is how `modelops status` and the UI say it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from modelops.formatting import quoted
from modelops.governance.audit_records import AuditEvent, AuditRecord
from modelops.governance.champion import bundle_problem, load_serving_bundle, serving_champion
from modelops.settings import redact

if TYPE_CHECKING:
    from modelops.ml.serving_bundle import ServingBundle
    from modelops.resources.audit_log import AuditLog
    from modelops.resources.storage import ArtifactStore
    from modelops.spec import UseCaseSpec

SCORING_STOPPED = "scoring_stopped"
SCORING_RESUMED = "scoring_resumed"
SWITCH_EVENTS = (SCORING_STOPPED, SCORING_RESUMED)
STOPPED_REASON_PREFIX = "scoring stopped"
"""The start of every fallback reason the stop switch causes (machine-readable)."""
SCORING_FALLBACK = "scoring_fallback"
"""The audit event of a door answering the fallback because the model could not be used."""
_MAX_CAUSE = 300


class SwitchRefused(ValueError):
    """Stopping a stopped use case, or resuming a running one: nothing would change."""


@dataclass(frozen=True)
class StopState:
    """Who stopped a use case, when and why."""

    actor: str
    reason: str
    recorded_at: str
    seq: int

    @property
    def fallback_reason(self) -> str:
        return f"{STOPPED_REASON_PREFIX} by {self.actor} at {self.recorded_at}: {self.reason}"


def stop_state(records: Iterable[AuditRecord], use_case: str) -> StopState | None:
    """The stop in force after `records` (None: the use case is answering)."""
    state: StopState | None = None
    for record in records:
        if record.use_case != use_case:
            continue
        if record.event == SCORING_STOPPED:
            state = StopState(record.actor, record.reason, record.recorded_at, record.seq)
        elif record.event == SCORING_RESUMED:
            state = None
    return state


def current_stop(audit_log: AuditLog, use_case: str) -> StopState | None:
    """The stop in force now, as the audit log records it."""
    return stop_state(audit_log.records(use_case=use_case, events=list(SWITCH_EVENTS)), use_case)


def stop_scoring(audit_log: AuditLog, use_case: str, *, by: str, reason: str) -> AuditRecord:
    """Record a stop; every door answers the fallback from its next look at the log."""
    with audit_log.exclusive():
        if current_stop(audit_log, use_case) is not None:
            raise SwitchRefused(f"{use_case} is already stopped")
        return audit_log.append(
            AuditEvent(event=SCORING_STOPPED, actor=by, use_case=use_case, reason=reason)
        )


def resume_scoring(audit_log: AuditLog, use_case: str, *, by: str, reason: str) -> AuditRecord:
    """Record a resume: the champion answers again."""
    with audit_log.exclusive():
        if current_stop(audit_log, use_case) is None:
            raise SwitchRefused(f"{use_case} is not stopped")
        return audit_log.append(
            AuditEvent(event=SCORING_RESUMED, actor=by, use_case=use_case, reason=reason)
        )


@dataclass(frozen=True)
class ProductionModel:
    """What production scores with now: the champion's bundle, or why every answer is the
    fallback (`bundle` None and `fallback_reason` set)."""

    version: str | None
    bundle: ServingBundle | None
    fallback_reason: str | None = None
    stop: StopState | None = None

    @property
    def unavailable(self) -> bool:
        """The champion exists and nobody stopped it, yet it cannot be used: an incident
        (alerted and recorded), unlike a stop or a use case without a champion."""
        return self.bundle is None and self.stop is None and self.version is not None


def production_model(
    store: ArtifactStore, audit_log: AuditLog, spec: UseCaseSpec
) -> ProductionModel:
    """The champion's verified serving bundle, unless the use case is stopped, has no
    champion, or its bundle cannot be loaded (integrity failure, missing file, store error:
    caught whatever it is, named in the reason). The audit log itself is read unguarded: a
    door that cannot read it cannot know which model, or whether it was stopped."""
    from modelops.ml.month_answers import NO_CHAMPION

    version = serving_champion(audit_log, spec)
    stop = current_stop(audit_log, spec.id)
    if stop is not None:
        return ProductionModel(version, None, stop.fallback_reason, stop)
    if version is None:
        return ProductionModel(None, None, NO_CHAMPION)
    try:
        bundle = load_serving_bundle(store, audit_log, spec, version)
    except Exception as exc:  # production always answers: any failure is the fallback
        return ProductionModel(version, None, unavailable_reason(version, exc))
    return ProductionModel(version, bundle)


def unavailable_reason(version: str, exc: BaseException) -> str:
    """`model unavailable: version N: <error type>: <message>`, secrets redacted, bounded."""
    from modelops.ml.month_answers import MODEL_UNAVAILABLE

    cause = redact(str(exc)).strip().splitlines()
    text = f"{type(exc).__name__}: {cause[0]}" if cause else type(exc).__name__
    return f"{MODEL_UNAVAILABLE}: version {version}: {text[:_MAX_CAUSE]}"


def scoring_line(audit_log: AuditLog, spec: UseCaseSpec, store: ArtifactStore | None = None) -> str:
    """How production answers now, in one line: stopped (by whom, when, why), answering
    with the champion, or answering the fallback. With `store`, the champion's bundle is
    checked against its recorded digest (read, not deserialised)."""
    from modelops.ml.month_answers import MODEL_UNAVAILABLE, NO_CHAMPION  # scikit-learn: lazily

    stop = current_stop(audit_log, spec.id)
    if stop is not None:
        return f"STOPPED by {quoted(stop.actor)} at {stop.recorded_at}: {quoted(stop.reason)}"
    version = serving_champion(audit_log, spec)
    if version is None:
        return f"answering 'refer' throughout: {NO_CHAMPION}"
    if store is not None:
        try:
            problem = bundle_problem(store, audit_log, spec, version)
        except Exception as exc:
            problem = f"artifact store unreadable ({type(exc).__name__})"
        if problem is not None:
            return (
                f"answering 'refer' throughout: {MODEL_UNAVAILABLE}: version {version}: {problem}"
            )
    return f"answering (champion v{version})"
