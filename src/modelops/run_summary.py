"""The short summary printed after a run: what was built, the model, its figures, where to look."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from modelops.governance.blocked_release import blocked_next_steps
from modelops.names import EVALUATION, GATES, MODEL, RELEASE
from modelops.printed_commands import modelops
from modelops.settings import Settings

DAGSTER_UI = "http://127.0.0.1:3000"
_OWN_ERRORS = "modelops."
"""Errors raised by modelops itself: their message is written for the user."""
BLOCKED = "blocked by the release gates (see failed checks)"


@dataclass
class UseCaseOutcome:
    use_case: str
    model_version: str | None = None
    mlflow_version_url: str | None = None
    figures: dict[str, float] = field(default_factory=dict)
    release: str | None = None
    """The release state after the run, e.g. 'challenger v1 awaiting 1 approval(s)'."""


@dataclass
class RunSummary:
    success: bool
    run_id: str
    materialized: list[str]
    failed_checks: list[str]
    failures: list[str]
    outcomes: dict[str, UseCaseOutcome]
    text: str


def summarize_run(
    result: dg.ExecuteInProcessResult, settings: Settings, seconds: float
) -> RunSummary:
    materialized: list[str] = []
    outcomes: dict[str, UseCaseOutcome] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization  # type: ignore[union-attr]
        key = materialization.asset_key
        materialized.append(key.to_user_string())
        use_case, name = key.path[0], key.path[-1]
        outcome = outcomes.setdefault(use_case, UseCaseOutcome(use_case))
        metadata = {k: v.value for k, v in materialization.metadata.items()}
        if name == MODEL:
            outcome.model_version = str(metadata.get("model_version"))
            outcome.mlflow_version_url = _text(metadata.get("mlflow_version"))
        if name == RELEASE:
            outcome.release = str(metadata.get("status"))
        if name == GATES and not metadata.get("passed"):
            outcome.release = BLOCKED
        if name == EVALUATION:
            outcome.figures = {
                label: float(metadata[k])
                for label, k in (
                    ("AUC", "holdout_auc"),
                    ("Gini", "holdout_gini"),
                    ("KS", "holdout_ks"),
                )
                if metadata.get(k) is not None
            }
    failed_checks = [
        f"{e.asset_check_key.asset_key.to_user_string()}:{e.asset_check_key.name} ({e.description})"
        for e in result.get_asset_check_evaluations()
        if not e.passed
    ]
    failures = [
        f"{event.step_key}: {_error_message(event)}"
        for event in result.all_events
        if event.is_step_failure
    ]
    text = _render(result, settings, seconds, materialized, failed_checks, failures, outcomes)
    return RunSummary(
        result.success, result.run_id, materialized, failed_checks, failures, outcomes, text
    )


def _render(
    result: dg.ExecuteInProcessResult,
    settings: Settings,
    seconds: float,
    materialized: list[str],
    failed_checks: list[str],
    failures: list[str],
    outcomes: dict[str, UseCaseOutcome],
) -> str:
    status = "succeeded" if result.success else "FAILED"
    lines = [
        "",
        f"Run {result.run_id} {status} in {seconds:.1f} s: "
        f"{len(materialized)} assets materialized.",
    ]
    for outcome in outcomes.values():
        if outcome.model_version:
            figures = ", ".join(f"{k} {v:.3f}" for k, v in outcome.figures.items())
            lines.append(
                f"  {outcome.use_case}: model version {outcome.model_version}"
                + (f"; holdout {figures}" if figures else "")
            )
            if outcome.release:
                lines.append(f"    release: {outcome.release}")
    lines += [f"  failed check: {c}" for c in failed_checks]
    lines += [f"  failed step: {f}" for f in failures]
    lines += [
        "",
        "Where to look:",
        f"  Dagster UI: `make ui`, then {DAGSTER_UI}/runs/{result.run_id}",
        f"  MLflow UI:  `make mlflow-ui`, then {settings.mlflow_ui_url}",
    ]
    lines += [
        f"    {o.use_case} model: {o.mlflow_version_url}"
        for o in outcomes.values()
        if o.mlflow_version_url
    ]
    lines.append(f"  Files:      {settings.data_dir}")
    lines += blocked_next_steps([o.use_case for o in outcomes.values() if o.release == BLOCKED])
    if any(o.release and "awaiting" in o.release for o in outcomes.values()):
        lines += [
            "",
            "Next: a validator (not the model's developer) reviews the model card and approves:",
            f'  {modelops("approve")} -u <use case> --role model_validator --reason "..."',
        ]
    return "\n".join(lines)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "url", value))


def _error_message(event: dg.DagsterEvent) -> str:
    """The step's own error, as its message: a modelops error (which names the file, the field
    and the reason) without its class path, a library's by its class name and first line."""
    data = event.step_failure_data
    if data is None or data.error is None:
        return "failed"
    error = data.error
    while error.cause is not None and error.message.startswith("dagster."):
        error = error.cause
    user_error = data.user_failure_data or error
    message = (getattr(user_error, "message", None) or error.message or "").strip()
    if not message:
        return "failed"
    module, named, text = message.partition(f"{error.cls_name}: ")
    if named and module.startswith(_OWN_ERRORS):
        return " ".join(line.strip() for line in text.splitlines() if line.strip())
    if named and not module.startswith("dagster."):  # a library's error: its class and reason
        return f"{error.cls_name}: {text.splitlines()[0] if text else ''}"
    return message.splitlines()[-1]
