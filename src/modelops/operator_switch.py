"""The operator commands behind `modelops stop | resume`: the stop switch recorded in the audit
log, then the new state reported to Dagster, so the UI shows how the use case answers.

Only the audit log is needed to record it: a stop works while MLflow is down, and says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelops.formatting import quoted
from modelops.operator import OperatorError, Platform

if TYPE_CHECKING:
    from modelops.spec import UseCaseSpec


def switch_action(
    platform: Platform, action: str, use_case: str, *, actor: str, reason: str
) -> str:
    """stop | resume: record it in the audit log (the doors read it there), then tell Dagster.
    Needs the audit log only, so it works while MLflow is down; what it prints says so."""
    from modelops.governance.serving_switch import (
        SwitchRefused,
        current_stop,
        resume_scoring,
        stop_scoring,
    )

    spec, log = platform.spec(use_case), platform.resources.audit_log
    record = {"stop": stop_scoring, "resume": resume_scoring}[action]
    try:
        record(log, use_case, by=actor, reason=reason)
    except SwitchRefused:
        stop = current_stop(log, use_case)
        if stop is None:
            raise OperatorError(f"{use_case} is not stopped; nothing to resume") from None
        raise OperatorError(
            f"{use_case} is already stopped by {quoted(stop.actor)} at {stop.recorded_at}: "
            f"{quoted(stop.reason)}"
        ) from None
    done = (
        "stopped: every door answers 'refer' (the online service within its poll interval, "
        "monthly batches from their next run)"
        if action == "stop"
        else "resumed: the champion answers again"
    )
    text = f"{use_case} {done}, by {quoted(actor)}: {quoted(reason)}"
    if action == "stop":
        text += f"; `modelops resume -u {use_case}` undoes it"
    text += _alert_switch(platform, spec, action=action, actor=actor, reason=reason)
    return text + _report_switch(platform, spec, action=action, actor=actor)


def _alert_switch(
    platform: Platform, spec: UseCaseSpec, *, action: str, actor: str, reason: str
) -> str:
    """The people the spec routes `stop_switch` to hear of it at once; '' when alerted, else
    a note (an alert that cannot be sent never undoes the switch)."""
    summary = (
        f"stopped by {quoted(actor)}: every door answers 'refer' ({quoted(reason)})"
        if action == "stop"
        else f"resumed by {quoted(actor)}: the champion answers again ({quoted(reason)})"
    )
    severity = "critical" if action == "stop" else "info"
    try:
        platform.resources.alerts.notify(
            spec, "stop_switch", summary, severity=severity, action=action, actor=actor
        )
    except Exception as exc:
        return f"\n  note: the owners were not alerted ({type(exc).__name__})"
    return ""


def _report_switch(platform: Platform, spec: UseCaseSpec, *, action: str, actor: str) -> str:
    """A runless materialization of `<uc>/model_release` whose `scoring` entry says how the use
    case answers; '' when reported, else a note (the stop is recorded either way)."""
    import dagster as dg

    from modelops.governance.serving_switch import scoring_line
    from modelops.names import RELEASE
    from modelops.release_metadata import release_metadata

    resources = platform.resources
    metadata: dict = {
        "scoring": scoring_line(resources.audit_log, spec, resources.store),
        "action": action,
        "actor": actor,
    }
    try:
        desk = platform.desk(spec.id)
        metadata = release_metadata(desk, desk.status(), candidate=None) | metadata
    except Exception as exc:  # MLflow down: the UI still learns how the use case answers
        metadata["warnings"] = f"release state not read: {type(exc).__name__}"
    try:
        platform.instance().report_runless_asset_event(
            dg.AssetMaterialization(asset_key=dg.AssetKey([spec.id, RELEASE]), metadata=metadata)
        )
    except Exception as exc:
        return f"\n  note: the Dagster UI was not told ({type(exc).__name__}); the audit log was"
    return ""
