"""The operator commands behind `modelops approve | reject | promote | rollback | status |
audit | reproduce | inventory` (`stop | resume`: `operator_switch`).

Each release action goes through `governance.release_desk` (the same code the pipeline uses),
then re-renders the affected model cards and reports the new release state to Dagster as
runless materializations of `<use case>/model_release`, `<use case>/model_card` and
`governance/model_inventory`, so the UI shows what the CLI did.

What people typed (reasons, actors, roles) is shown `quoted`, so a reason holding a newline and
a made-up history line cannot pass for a record. MLflow is probed before it is used, so an
unreachable server is named within seconds rather than after minutes of retries.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from modelops.formatting import quoted
from modelops.governance.audit_records import AuditEvent
from modelops.governance.release_desk import ReleaseDesk, ReleaseRefused
from modelops.resources.environment import PlatformResources, resources_for
from modelops.settings import Settings
from modelops.spec import UseCaseSpec, load_specs
from modelops.spec.risk import RiskPolicy, load_risk_policy

if TYPE_CHECKING:
    import dagster as dg

    from modelops.resources.tracking import ModelTracking


class OperatorError(Exception):
    """A command that cannot be carried out; the message says why."""


@dataclass
class Platform:
    """The resources of the configured environment, for commands run outside Dagster."""

    settings: Settings

    @cached_property
    def resources(self) -> PlatformResources:
        return resources_for(self.settings)

    @cached_property
    def tracking(self) -> ModelTracking:
        """MLflow, once it is known to answer (`TrackingUnavailableError` otherwise)."""
        tracking = self.resources.tracking
        tracking.check_reachable()
        return tracking

    @cached_property
    def specs(self) -> dict[str, UseCaseSpec]:
        return {
            spec.id: spec
            for spec in load_specs(self.settings.specs_dir, self.settings.spec_allowances)
        }

    @cached_property
    def policy(self) -> RiskPolicy:
        return load_risk_policy(self.settings.risk_policy_file)

    def spec(self, use_case: str) -> UseCaseSpec:
        if use_case not in self.specs:
            known = ", ".join(sorted(self.specs)) or "none"
            raise OperatorError(f"no use case {quoted(use_case)} (known: {known})")
        return self.specs[use_case]

    def desk(self, use_case: str) -> ReleaseDesk:
        spec, resources = self.spec(use_case), self.resources
        return ReleaseDesk(
            spec, self.policy, self.tracking, resources.audit_log, store=resources.store
        )

    def instance(self) -> dg.DagsterInstance:
        from modelops.instance import local_instance

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
    if version is not None and not version.isdigit():
        raise OperatorError(f"--version {quoted(version)} is not a model version (a number)")
    desk = platform.desk(use_case)
    if action != "rollback" and version is None:
        # The challenger, named now so a refusal is recorded against the version it concerns.
        version = desk.status().challenger
        if version is None:
            raise OperatorError(f"{use_case} has no challenger; name the version with --version")
    try:
        return _carry_out(platform, desk, action, version, actor, reason, role, promote)
    except ReleaseRefused as refusal:
        # A refused attempt is part of the record too (who tried what, and why it was not
        # allowed); the refusal itself is then raised to the caller.
        platform.resources.audit_log.append(
            AuditEvent(
                event="refusal",
                actor=actor,
                use_case=use_case,
                reason=str(refusal),
                model_version=refusal.version or version,
                details={"action": action, "role": role or "", "stated_reason": reason},
            )
        )
        raise


def _carry_out(
    platform: Platform,
    desk: ReleaseDesk,
    action: str,
    version: str | None,
    actor: str,
    reason: str,
    role: str | None,
    promote: bool,
) -> str:
    before = desk.champion()
    if action == "rollback":
        status = desk.rollback(actor, reason)
        touched = [v for v in (before, status.champion) if v]
    else:
        target = str(version)
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


def _report(
    platform: Platform, desk: ReleaseDesk, versions: list[str], *, action: str, actor: str
) -> None:
    """Re-render the cards of the versions whose status changed; tell Dagster."""
    import dagster as dg

    from modelops.governance.card_publisher import has_card_inputs, publish_model_card
    from modelops.governance.inventory import inventory_rows
    from modelops.governance.serving_switch import scoring_line
    from modelops.names import CARD, INVENTORY, INVENTORY_GROUP, RELEASE
    from modelops.release_metadata import card_metadata, inventory_metadata, release_metadata

    resources = platform.resources
    uc = desk.spec.id
    instance = platform.instance()
    # Asset-event tags only take [A-Za-z0-9_.-]: the actor (an email) goes in the metadata.
    who = {"action": action, "actor": actor}
    scoring = {"scoring": scoring_line(resources.audit_log, desk.spec, resources.store)}
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=dg.AssetKey([uc, RELEASE]),
            metadata=release_metadata(desk, desk.status(), candidate=None) | who | scoring,
        )
    )
    for version in versions:
        if not has_card_inputs(resources.store, uc, version):
            continue  # a version trained before cards kept their inputs
        card = publish_model_card(desk, resources.store, resources.tracking, version)
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=dg.AssetKey([uc, CARD]),
                metadata=card_metadata(card) | who,
            )
        )
    rows = inventory_rows(
        list(platform.specs.values()), platform.policy, platform.tracking, resources.audit_log
    )
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=dg.AssetKey([INVENTORY_GROUP, INVENTORY]), metadata=inventory_metadata(rows)
        )
    )


def earlier_blocked_lines(desk: ReleaseDesk) -> list[str]:
    """The versions before the newest gated one that the gates blocked, one line each with
    the gates and by how much (the newest is told in full by `release_block_lines`)."""
    from modelops.governance.blocked_release import shortfall
    from modelops.governance.history import GATE_RESULT, version_state

    records = list(desk.audit_log.records(use_case=desk.spec.id))
    last_gated: dict[str, None] = {}  # in the order of each version's latest gate result
    for record in records:
        if record.event == GATE_RESULT and record.model_version:
            last_gated.pop(str(record.model_version), None)
            last_gated[str(record.model_version)] = None
    lines = []
    for version in list(last_gated)[:-1]:
        state = version_state(records, desk.spec.id, version)
        if not state.blocking_gates or state.gates is None:
            continue
        results = [
            r
            for r in state.gates.details.get("results", [])
            if r.get("name") in state.blocking_gates
        ]
        gates = ", ".join(
            str(r.get("name")) + (f" ({by})" if (by := shortfall(r)) else "") for r in results
        )
        lines.append(f"  v{version} was blocked by the release gate(s): {gates}")
    return lines


def status_text(platform: Platform, use_case: str, at: str | None = None) -> str:
    """The release state, the champion history, and who was champion at `at`."""
    from modelops.governance.blocked_release import release_block_lines
    from modelops.governance.history import parse_time
    from modelops.governance.serving_switch import scoring_line

    desk = platform.desk(use_case)
    status = desk.status()
    resources = platform.resources
    scoring = scoring_line(resources.audit_log, desk.spec, resources.store)
    lines = [status.summary(), f"  scoring: {scoring}", f"  risk tier {desk.tier}:"]
    lines += [f"    - {r}" for r in desk.assessment.rationale]
    lines += [f"  warning: {note}" for note in status.notes]
    lines += release_block_lines(desk)  # a blocked version: which gate, by how much, options
    lines += earlier_blocked_lines(desk)
    history = desk.champion_history()
    lines.append("  champion history:" if history else "  champion history: none yet")
    for change in history:
        lines.append(
            f"    {change.recorded_at}  {change.event:<9} v{change.version} "
            f"(previous {change.previous or '-'}) by {quoted(change.actor)}: "
            f"{quoted(change.reason)}"
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
    """Whether the log can be trusted, and what to print: the hash chain and its head, every
    signed action's signature against the roles file's keys, and the chain against the
    anchors kept outside the database. `NoAuditLogError` where there is no log (zero records
    would otherwise read as an intact chain)."""
    from modelops.governance.audit_anchors import anchor_problems
    from modelops.governance.signatures import signature_problems
    from modelops.resources.audit_anchor_store import anchor_store_for
    from modelops.resources.identity import IdentityError, identity_provider

    log = platform.resources.audit_log
    result = log.verify()
    records = log.records()
    anchors = anchor_store_for(platform.settings)
    try:
        roles = identity_provider(platform.settings).roles()
    except IdentityError as exc:
        return False, f"audit log {log.location()}: cannot check signatures: {exc}"
    problems = [
        *result.problems,
        *signature_problems(records, roles),
        *anchor_problems(records, anchors.read_all(), roles.anchor_keys),
    ]
    checked = (
        f"{len(anchors.read_all())} anchor(s) in {anchors.location()}; signatures checked "
        f"against {platform.settings.roles_file}"
        if roles.people
        else f"{len(anchors.read_all())} anchor(s) in {anchors.location()}; no roles file: "
        "signatures not checked"
    )
    if not problems:
        return (
            True,
            f"audit log {log.location()}: {result.checked} records, chain intact; {checked}",
        )
    lines = [f"audit log {log.location()}: TAMPERED ({len(problems)} problem(s)); {checked}"]
    lines += [f"  - {p}" for p in problems]
    return False, "\n".join(lines)


def audit_show(platform: Platform, use_case: str | None, event: str | None, limit: int) -> str:
    """The last `limit` records, one line each, what people typed quoted."""
    log = platform.resources.audit_log
    log.require_log()
    records = log.records(use_case=use_case, events=[event] if event else None)[-limit:]
    return (
        "\n".join(
            f"{r.seq:>5} {r.recorded_at[:19]} {r.event:<17} {r.use_case:<16} "
            f"{_version(r.model_version):<5} {quoted(r.actor)}: {quoted(r.reason)}"
            for r in records
        )
        or "no records"
    )


def audit_export(platform: Platform, file: str) -> str:
    log = platform.resources.audit_log
    count = log.export_jsonl(file)
    return f"audit log {log.location()}: {count} records written to {file}"


def _version(version: str | None) -> str:
    """A model version as a record line shows it: `v3`, `-`, or quoted when it is not one."""
    if version is None:
        return "-"
    return f"v{version}" if version.isdigit() else quoted(version)


def inventory_text(platform: Platform) -> str:
    from modelops.governance.inventory import inventory_markdown, inventory_rows

    resources = platform.resources
    rows = inventory_rows(
        list(platform.specs.values()), platform.policy, platform.tracking, resources.audit_log
    )
    return inventory_markdown(rows)
