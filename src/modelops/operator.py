"""The operator commands behind `modelops approve | reject | promote | rollback | status |
audit | reproduce | inventory`.

Each release action goes through `governance.release_desk` (the same code the pipeline uses),
then re-renders the affected model cards and reports the new release state to Dagster as
runless materializations of `<use case>/model_release`, `<use case>/model_card` and
`governance/model_inventory`, so the UI shows what the CLI did.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from modelops.governance.release_desk import ReleaseRefused
from modelops.settings import Settings
from modelops.spec import UseCaseSpec, load_specs
from modelops.spec.risk import RiskPolicy, load_risk_policy


class OperatorError(Exception):
    """A command that cannot be carried out; the message says why."""


@dataclass
class Platform:
    """The resources of the configured environment, for commands run outside Dagster."""

    settings: Settings

    @cached_property
    def resources(self) -> dict[str, Any]:
        from modelops.defs.environments import resources_for

        return resources_for(self.settings)

    @cached_property
    def specs(self) -> dict[str, UseCaseSpec]:
        return {spec.id: spec for spec in load_specs(self.settings.specs_dir)}

    @cached_property
    def policy(self) -> RiskPolicy:
        return load_risk_policy(self.settings.risk_policy_file)

    def spec(self, use_case: str) -> UseCaseSpec:
        if use_case not in self.specs:
            known = ", ".join(sorted(self.specs)) or "none"
            raise OperatorError(f"no use case '{use_case}' (known: {known})")
        return self.specs[use_case]

    def desk(self, use_case: str) -> Any:
        from modelops.governance.release_desk import ReleaseDesk

        return ReleaseDesk(
            self.spec(use_case),
            self.policy,
            self.resources["tracking"],
            self.resources["audit_log"],
        )

    def instance(self) -> Any:
        from modelops.defs.instance import local_instance

        if self.settings.environment == "local":
            return local_instance(self.settings.dagster_home)
        import dagster as dg

        return dg.DagsterInstance.get()


def release_action(
    platform: Platform,
    action: str,
    use_case: str,
    *,
    version: str | None,
    actor: str,
    reason: str,
    role: str | None = None,
    promote: bool = True,
) -> str:
    """approve | reject | promote | rollback; returns the new status line."""
    desk = platform.desk(use_case)
    try:
        return _carry_out(platform, desk, action, version, actor, reason, role, promote)
    except ReleaseRefused as refusal:
        # A refused attempt is part of the record too (who tried what, and why it was not
        # allowed); the refusal itself is then raised to the caller.
        from modelops.resources.audit_log import AuditEvent

        platform.resources["audit_log"].append(
            AuditEvent(
                event="refusal",
                actor=actor,
                use_case=use_case,
                reason=str(refusal),
                model_version=version,
                details={"action": action, "role": role or "", "stated_reason": reason},
            )
        )
        raise


def _carry_out(
    platform: Platform,
    desk: Any,
    action: str,
    version: str | None,
    actor: str,
    reason: str,
    role: str | None,
    promote: bool,
) -> str:
    use_case = desk.spec.id
    before = desk.champion()
    if action == "rollback":
        status = desk.rollback(actor, reason)
        touched = [v for v in (before, status.champion) if v]
    else:
        target = version or desk.status().challenger
        if target is None:
            raise OperatorError(f"{use_case} has no challenger; name the version with --version")
        if action == "approve":
            status = desk.approve(target, actor, _role(role), reason, promote=promote)
        elif action == "reject":
            status = desk.reject(target, actor, _role(role), reason)
        elif action == "promote":
            status = desk.promote(target, actor, reason)
        else:
            raise OperatorError(f"unknown action {action}")
        touched = [v for v in dict.fromkeys([target, before]) if v]
    _report(platform, desk, touched, action=action, actor=actor)
    return status.summary()


def _role(role: str | None) -> str:
    if not role:
        raise OperatorError("say in which role you act: --role (e.g. model_validator)")
    return role


def _report(platform: Platform, desk: Any, versions: list[str], *, action: str, actor: str) -> None:
    """Re-render the cards of the versions whose status changed; tell Dagster."""
    import dagster as dg

    from modelops.defs.governance import (
        INVENTORY_KEY,
        RELEASE,
        inventory_metadata,
        inventory_rows,
        release_metadata,
        write_model_card,
    )
    from modelops.defs.use_case import CARD, MODEL

    store, tracking = platform.resources["store"], platform.resources["tracking"]
    uc = desk.spec.id
    instance = platform.instance()
    status = desk.status()
    # Asset-event tags only take [A-Za-z0-9_.-]: the actor (an email) goes in the metadata.
    who = {"action": action, "actor": actor}
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=dg.AssetKey([uc, RELEASE]),
            metadata=release_metadata(desk, status, candidate=None) | who,
        )
    )
    for version in versions:
        if not store.exists(uc, MODEL, version, "card_inputs.json"):
            continue  # a version trained before cards kept their inputs
        markdown, card_version = write_model_card(
            desk.spec, desk, store, tracking, card_asset=CARD, model_asset=MODEL, version=version
        )
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=dg.AssetKey([uc, CARD]),
                metadata={
                    "card": dg.MetadataValue.md(markdown),
                    "model_version": version,
                    "card_uri": dg.MetadataValue.url(
                        store.uri(uc, CARD, card_version, "model_card.md")
                    ),
                    **who,
                },
            )
        )
    rows = inventory_rows(
        list(platform.specs.values()), platform.policy, tracking, platform.resources["audit_log"]
    )
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=INVENTORY_KEY, metadata=inventory_metadata(rows))
    )


def status_text(platform: Platform, use_case: str, at: str | None = None) -> str:
    """The release state, the champion history, and who was champion at `at`."""
    from modelops.governance.history import parse_time

    desk = platform.desk(use_case)
    status = desk.status()
    lines = [status.summary(), f"  risk tier {desk.tier}:"]
    lines += [f"    - {r}" for r in desk.assessment.rationale]
    lines += [f"  warning: {note}" for note in status.notes]
    history = desk.champion_history()
    lines.append("  champion history:" if history else "  champion history: none yet")
    for change in history:
        lines.append(
            f"    {change.recorded_at}  {change.event:<9} v{change.version} "
            f"(previous {change.previous or '-'}) by {change.actor}: {change.reason}"
        )
    if at is not None:
        try:
            moment = parse_time(at)
        except ValueError as exc:
            raise OperatorError(f"--at {at!r} is not an ISO-8601 time: {exc}") from exc
        champion = desk.champion_at(moment)
        lines.append(
            f"  champion at {moment.isoformat()}: "
            + (f"v{champion}" if champion else "none (before the first promotion)")
        )
    return "\n".join(lines)


def audit_verify(platform: Platform) -> tuple[bool, str]:
    log = platform.resources["audit_log"]
    result = log.verify()
    if result.ok:
        return True, f"audit log {log.location()}: {result.checked} records, chain intact"
    lines = [f"audit log {log.location()}: TAMPERED ({len(result.problems)} problem(s))"]
    lines += [f"  - {p}" for p in result.problems]
    return False, "\n".join(lines)


def audit_show(platform: Platform, use_case: str | None, event: str | None, limit: int) -> str:
    log = platform.resources["audit_log"]
    records = log.records(use_case=use_case, events=[event] if event else None)[-limit:]
    return (
        "\n".join(
            f"{r.seq:>5} {r.recorded_at[:19]} {r.event:<17} {r.use_case:<16} "
            f"v{r.model_version or '-':<4} {r.actor}: {r.reason}"
            for r in records
        )
        or "no records"
    )


def inventory_text(platform: Platform) -> str:
    from modelops.defs.governance import inventory_rows
    from modelops.governance.inventory import inventory_markdown

    rows = inventory_rows(
        list(platform.specs.values()),
        platform.policy,
        platform.resources["tracking"],
        platform.resources["audit_log"],
    )
    return inventory_markdown(rows)


def reproduce(
    platform: Platform, use_case: str, version: str | None, tolerance: float, actor: str
) -> tuple[bool, str]:
    """Retrain `version` (default: the champion) from what was recorded; compare."""
    from modelops.defs.use_case import HOLDOUT, MODEL, MODEL_REF_FILE, TRAINING
    from modelops.ml.reproduction import compare_reproduction
    from modelops.ml.training import fit_model, labels, predict_scores
    from modelops.provenance import code_revision, lock_digest
    from modelops.resources.audit_log import AuditEvent

    desk = platform.desk(use_case)
    version = version or desk.champion()
    if version is None:
        raise OperatorError(f"{use_case} has no champion; name the version with --version")
    store, tracking = platform.resources["store"], platform.resources["tracking"]
    if not store.exists(use_case, MODEL, version, MODEL_REF_FILE):
        raise OperatorError(f"{use_case} version {version} is not in the artifact store")
    ref = json.loads(store.read_bytes(use_case, MODEL, version, MODEL_REF_FILE))
    if "spec" not in ref:
        raise OperatorError(
            f"version {version} was trained before specs were recorded with the model; "
            "it cannot be reproduced from the record"
        )
    recorded_spec = UseCaseSpec.model_validate(ref["spec"])
    train = store.read_table(use_case, TRAINING, ref["training_set_version"])
    holdout = store.read_table(use_case, HOLDOUT, ref["holdout_set_version"])
    original = tracking.load_model(ref["model_uri"], from_store=True)
    reproduced = fit_model(train, recorded_spec)
    notes = []
    if ref.get("git_commit") != code_revision():
        notes.append(f"recorded code {ref.get('git_commit')}, running {code_revision()}")
    if ref.get("lock_sha256") != lock_digest():
        notes.append("the dependency lock differs from the one recorded at training")
    recorded = {
        m: tracking.run_metric(ref["registered_name"], version, f"holdout_{m}")
        for m in ("auc", "gini", "ks", "brier")
    }
    report = compare_reproduction(
        version=version,
        labels=labels(holdout),
        original_scores=predict_scores(original, holdout, recorded_spec),
        reproduced_scores=predict_scores(reproduced, holdout, recorded_spec),
        recorded_metrics={k: v for k, v in recorded.items() if v is not None},
        tolerance=tolerance,
        notes=tuple(notes),
    )
    platform.resources["audit_log"].append(
        AuditEvent(
            event="reproduction",
            actor=actor,
            use_case=use_case,
            reason="reproduced" if report.matches else "NOT reproduced",
            model_version=version,
            data_versions={
                "training_set": ref["training_set_version"],
                "holdout_set": str(ref["holdout_set_version"]),
            },
            code_version=ref.get("code_version"),
            details=report.to_dict(),
        )
    )
    return report.matches, report.to_text()
