"""Champion / challenger: the only code that moves a model version's release aliases.

A candidate that passes every required gate becomes `challenger`. It becomes `champion`
automatically when its tier needs no approval; otherwise only after the approvals the tier's
policy asks for, each by someone with an allowed role who did not build the model. A
rejection is final for the version. Rollback restores the previous champion in one call.

Every move happens inside the audit log's exclusive section (moving an MLflow alias is
last-writer-wins, so two promotions must not interleave), is checked against the log, and is
recorded in it; the registry alias follows the log, never the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from modelops.governance.history import (
    APPROVAL,
    CHALLENGER,
    CHALLENGER_SET,
    CHAMPION,
    PROMOTION,
    REJECTION,
    ROLLBACK,
    VersionState,
    champion_at,
    champion_changes,
    champion_stack,
    current_champion,
    version_state,
)
from modelops.spec.model import UseCaseSpec
from modelops.spec.risk import RiskAssessment, RiskPolicy, TierPolicy

if TYPE_CHECKING:
    from modelops.resources.audit_log import AuditLog
    from modelops.resources.tracking import ModelTracking


class ReleaseRefused(Exception):
    """A governance action the policy does not allow; the message says why and what to do."""


@dataclass(frozen=True)
class ReleaseStatus:
    use_case: str
    tier: str
    champion: str | None
    challenger: str | None
    awaiting_approval: bool
    approvals_needed: int
    approver_roles: tuple[str, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        champion = f"v{self.champion}" if self.champion else "none"
        text = f"{self.use_case} ({self.tier} tier): champion {champion}"
        if self.challenger and self.challenger != self.champion:
            text += f", challenger v{self.challenger}"
            if self.awaiting_approval:
                roles = " or ".join(self.approver_roles)
                text += f" awaiting {self.approvals_needed} approval(s) by {roles}"
        return text


class ReleaseDesk:
    """Release decisions for one use case, under the bank's risk policy."""

    def __init__(
        self,
        spec: UseCaseSpec,
        policy: RiskPolicy,
        tracking: ModelTracking,
        audit_log: AuditLog,
    ) -> None:
        self.spec = spec
        self.policy = policy
        self.tracking = tracking
        self.audit_log = audit_log
        self.assessment: RiskAssessment = policy.assess(
            spec.risk, spec.data_schema.protected_attributes
        )

    @property
    def tier(self) -> str:
        return self.assessment.tier

    @property
    def tier_policy(self) -> TierPolicy:
        return self.policy.for_tier(self.assessment.tier)

    @property
    def _name(self) -> str:
        return self.spec.registered_model_name

    # What the log says ---------------------------------------------------------------------

    def _records(self) -> list[Any]:
        return self.audit_log.records(use_case=self.spec.id)

    def state(self, version: str) -> VersionState:
        return version_state(self._records(), self.spec.id, str(version))

    def champion(self) -> str | None:
        return current_champion(self._records(), self.spec.id)

    def champion_history(self) -> list[Any]:
        return champion_changes(self._records(), self.spec.id)

    def champion_at(self, when: datetime) -> str | None:
        return champion_at(self._records(), self.spec.id, when)

    def status(self) -> ReleaseStatus:
        champion = self.champion()
        challenger = self.tracking.version_for_alias(self._name, CHALLENGER)
        notes: list[str] = []
        registry = self.tracking.version_for_alias(self._name, CHAMPION)
        if registry != champion:
            notes.append(
                f"the registry's champion alias points to {registry or 'nothing'} but the audit "
                f"log says {champion or 'none'}: the alias was moved outside the platform"
            )
        awaiting = False
        needed = 0
        if challenger and challenger != champion:
            state = self.state(challenger)
            needed = max(0, self._approvals_required() - len(self._valid_approvals(state)))
            awaiting = needed > 0 and state.rejection is None
        return ReleaseStatus(
            use_case=self.spec.id,
            tier=self.tier,
            champion=champion,
            challenger=challenger,
            awaiting_approval=awaiting,
            approvals_needed=needed,
            approver_roles=tuple(self.tier_policy.approval.roles),
            notes=tuple(notes),
        )

    # Rules ---------------------------------------------------------------------------------

    def _approvals_required(self) -> int:
        rule = self.tier_policy.approval
        return rule.approvals if rule.required else 0

    def _valid_approvals(self, state: VersionState) -> list[Any]:
        roles = set(self.tier_policy.approval.roles)
        seen: set[str] = set()
        valid = []
        for approval in state.approvals:
            who = approval.approver.lower()
            if approval.role in roles and who not in state.developers and who not in seen:
                seen.add(who)
                valid.append(approval)
        return valid

    def promotion_problems(self, state: VersionState) -> list[str]:
        """Why `state`'s version may not become champion now (empty: it may)."""
        v = state.version
        if state.training is None:
            return [f"version {v} has no training record in the audit log"]
        problems = []
        if state.rejection is not None:
            problems.append(
                f"version {v} was rejected by {state.rejection.actor} "
                f"({state.rejection.recorded_at}): {state.rejection.reason}"
            )
        if state.gates is None:
            problems.append(f"version {v} has not been through the release gates")
        elif not state.gates_passed:
            problems.append(
                f"version {v} failed the release gate(s) {', '.join(state.blocking_gates)}"
            )
        missing = self._approvals_required() - len(self._valid_approvals(state))
        if missing > 0:
            roles = " or ".join(self.tier_policy.approval.roles)
            problems.append(
                f"the {self.tier} tier needs {self._approvals_required()} approval(s) by "
                f"{roles} from someone other than the model's developer; {missing} missing "
                f"(modelops approve -u {self.spec.id} --version {v} --by EMAIL --role ROLE "
                "--reason ...)"
            )
        return problems

    def _check_integrity(self, state: VersionState) -> None:
        recorded = state.artifact_sha256
        current = self.tracking.version_digest(self._name, state.version)
        if not recorded or current != recorded:
            raise ReleaseRefused(
                f"version {state.version}: the registry's artifact digest "
                f"({(current or 'none')[:12]}) does not match the digest recorded at training "
                f"({(recorded or 'none')[:12]}); the model was changed after registration"
            )

    # Actions -------------------------------------------------------------------------------

    def release_candidate(self, version: str, actor: str) -> ReleaseStatus:
        """After the gates: the version becomes challenger, and champion if the tier allows
        it without approval. Refused when a required gate did not pass."""
        with self.audit_log.exclusive():
            state = self.state(version)
            if not state.gates_passed:
                raise ReleaseRefused(
                    f"version {version} cannot become challenger: "
                    + (
                        f"failed gate(s) {', '.join(state.blocking_gates)}"
                        if state.gates
                        else "no gate result recorded"
                    )
                )
            self._check_integrity(state)
            previous = self.tracking.version_for_alias(self._name, CHALLENGER)
            self.tracking.set_alias(self._name, CHALLENGER, str(version))
            self.tracking.set_version_tag(
                self._name, version, "modelops.release_status", "challenger"
            )
            self._append(
                CHALLENGER_SET,
                actor,
                state,
                reason="passed every required release gate",
                details={"alias": CHALLENGER, "previous": previous, "tier": self.tier},
            )
            if not self.promotion_problems(self.state(version)):
                self._move_champion(
                    version,
                    actor,
                    reason=f"{self.tier} tier: promoted automatically after passing the gates",
                    event=PROMOTION,
                )
        return self.status()

    def approve(
        self, version: str, approver: str, role: str, reason: str, *, promote: bool = True
    ) -> ReleaseStatus:
        """Record an approval; promote when the tier's approvals are then complete."""
        _require(reason, "a reason for the approval")
        with self.audit_log.exclusive():
            state = self.state(version)
            problems = self._approval_problems(state, approver, role)
            if problems:
                raise ReleaseRefused(
                    f"approval of {self.spec.id} version {version} by {approver} refused: "
                    + "; ".join(problems)
                )
            self._append(APPROVAL, approver, state, reason=reason, details={"role": role})
            if promote and not self.promotion_problems(self.state(version)):
                self._move_champion(version, approver, reason=reason, event=PROMOTION)
        return self.status()

    def _approval_problems(self, state: VersionState, approver: str, role: str) -> list[str]:
        rule = self.tier_policy.approval
        who = approver.strip().lower()
        problems = []
        if "@" not in who:
            problems.append("the approver must be named by email address")
        if state.training is None:
            return [f"version {state.version} has no training record in the audit log"]
        if who in state.developers:
            problems.append(
                f"{approver} built this model version (separation of duties: the developer "
                "cannot approve their own model)"
            )
        if rule.roles and role not in rule.roles:
            problems.append(
                f"role '{role}' may not approve at the {self.tier} tier "
                f"(allowed: {', '.join(rule.roles)})"
            )
        if not state.gates_passed:
            problems.append(
                f"version {state.version} has not passed its release gates "
                f"({', '.join(state.blocking_gates) or 'no gate result'})"
            )
        if state.rejection is not None:
            problems.append(f"version {state.version} was rejected: {state.rejection.reason}")
        if any(a.approver.lower() == who for a in state.approvals):
            problems.append(f"{approver} already approved version {state.version}")
        return problems

    def reject(self, version: str, actor: str, role: str, reason: str) -> ReleaseStatus:
        """Record a rejection (final for the version) and clear its challenger alias."""
        _require(reason, "a reason for the rejection")
        with self.audit_log.exclusive():
            state = self.state(version)
            if state.training is None:
                raise ReleaseRefused(f"version {version} has no training record in the log")
            who = actor.strip().lower()
            roles = self.tier_policy.approval.roles
            if "@" not in who:
                raise ReleaseRefused("the person rejecting must be named by email address")
            # A validator rejects; the model's own developer may withdraw their candidate.
            if roles and role not in roles and who not in state.developers:
                raise ReleaseRefused(
                    f"role '{role}' may not reject at the {self.tier} tier (allowed: "
                    f"{', '.join(roles)}, or the model's developer withdrawing it)"
                )
            if self.champion() == str(version):
                raise ReleaseRefused(
                    f"version {version} is the champion; roll it back instead of rejecting it"
                )
            self._append(REJECTION, actor, state, reason=reason, details={"role": role})
            if self.tracking.version_for_alias(self._name, CHALLENGER) == str(version):
                self.tracking.delete_alias(self._name, CHALLENGER)
            self.tracking.set_version_tag(
                self._name, version, "modelops.release_status", "rejected"
            )
        return self.status()

    def promote(self, version: str, actor: str, reason: str) -> ReleaseStatus:
        """Make `version` champion if the gates passed and the tier's approvals are complete."""
        _require(reason, "a reason for the promotion")
        with self.audit_log.exclusive():
            state = self.state(version)
            problems = self.promotion_problems(state)
            if self.champion() == str(version):
                problems.append(f"version {version} is already champion")
            if problems:
                raise ReleaseRefused(
                    f"{self.spec.id} version {version} cannot be promoted: " + "; ".join(problems)
                )
            self._move_champion(version, actor, reason=reason, event=PROMOTION)
        return self.status()

    def rollback(self, actor: str, reason: str) -> ReleaseStatus:
        """Restore the champion before the current one."""
        _require(reason, "a reason for the rollback")
        with self.audit_log.exclusive():
            stack = champion_stack(champion_changes(self._records(), self.spec.id))
            if len(stack) < 2:
                raise ReleaseRefused(
                    f"{self.spec.id} has no previous champion to roll back to "
                    f"(champion history: {', '.join(stack) or 'empty'})"
                )
            target = self.state(stack[-2])
            if target.rejection is not None:
                raise ReleaseRefused(
                    f"the previous champion, version {target.version}, was rejected by "
                    f"{target.rejection.actor} ({target.rejection.reason}); promote another "
                    "approved version instead"
                )
            self._move_champion(stack[-2], actor, reason=reason, event=ROLLBACK)
        return self.status()

    def _move_champion(self, version: str, actor: str, *, reason: str, event: str) -> None:
        """Move the alias, then record the move; if recording fails the alias goes back."""
        state = self.state(version)
        self._check_integrity(state)
        approvals = self._valid_approvals(state)
        previous_in_log = self.champion()
        previous = self.tracking.version_for_alias(self._name, CHAMPION)
        self.tracking.set_alias(self._name, CHAMPION, str(version))
        try:
            self._append(
                event,
                actor,
                state,
                reason=reason,
                details={
                    "alias": CHAMPION,
                    "previous": previous_in_log,
                    "registry_previous": previous,
                    "tier": self.tier,
                    "approvals": [
                        {"approver": a.approver, "role": a.role, "at": a.recorded_at}
                        for a in approvals
                    ],
                },
            )
        except Exception:
            if previous is None:
                self.tracking.delete_alias(self._name, CHAMPION)
            else:
                self.tracking.set_alias(self._name, CHAMPION, previous)
            raise
        if self.tracking.version_for_alias(self._name, CHALLENGER) == str(version):
            self.tracking.delete_alias(self._name, CHALLENGER)
        self.tracking.set_version_tag(self._name, version, "modelops.release_status", "champion")
        if approvals:
            self.tracking.set_version_tag(
                self._name,
                version,
                "modelops.approved_by",
                ", ".join(f"{a.approver} ({a.role})" for a in approvals),
            )
        if previous and previous != str(version):
            self.tracking.set_version_tag(
                self._name,
                previous,
                "modelops.release_status",
                "rolled back" if event == ROLLBACK else "retired",
            )

    def _append(
        self,
        event: str,
        actor: str,
        state: VersionState,
        *,
        reason: str,
        details: dict[str, Any],
    ) -> Any:
        """Record an event about `state`'s version with its training's data and code."""
        from modelops.resources.audit_log import AuditEvent

        training = state.training
        return self.audit_log.append(
            AuditEvent(
                event=event,
                actor=actor,
                use_case=self.spec.id,
                reason=reason,
                model_version=state.version,
                data_versions=dict(training.data_versions) if training is not None else {},
                code_version=training.code_version if training is not None else None,
                details=details,
            )
        )


def _require(text: str, what: str) -> None:
    if not text or not text.strip():
        raise ReleaseRefused(f"{what} is required")
