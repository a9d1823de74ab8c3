"""Champion / challenger: the only code that moves a model version's release aliases.

A candidate that passes every required gate becomes `challenger`. It becomes `champion`
automatically when its tier needs no approval; otherwise only after the approvals the tier's
policy asks for, each by someone with an allowed role who did not build the model. A
rejection is final for the version. Rollback restores the previous champion in one call.

Every move happens inside the audit log's exclusive section (moving an MLflow alias is
last-writer-wins, so two promotions must not interleave), is checked against the log, and is
recorded in it; the registry alias follows the log, never the other way round. Before an
alias moves (and before an approval is recorded), the version's stored artifacts are shown to
be the ones trained: the registered model files and the serving bundle, digested as they are
stored now, against the digests of the audit log's training record.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from modelops.formatting import quoted
from modelops.governance.audit_records import AuditEvent
from modelops.governance.champion import bundle_problem
from modelops.governance.history import (
    APPROVAL,
    CHALLENGER,
    CHALLENGER_SET,
    CHAMPION,
    PROMOTION,
    REJECTION,
    ROLLBACK,
    ChampionChange,
    VersionState,
    champion_at,
    champion_changes,
    champion_stack,
    current_champion,
    version_state,
)
from modelops.governance.release_rules import (
    ReleaseStatus,
    approval_problems,
    approvals_missing,
    promotion_problems,
    rejection_problem,
    valid_approvals,
)
from modelops.spec import UseCaseSpec
from modelops.spec.risk import ApprovalRule, RiskAssessment, RiskPolicy, Tier, TierPolicy

if TYPE_CHECKING:
    from modelops.resources.audit_log import AuditLog
    from modelops.resources.storage import ArtifactStore
    from modelops.resources.tracking import ModelTracking


class ReleaseRefused(Exception):
    """A governance action the policy does not allow; the message says why and what to do.
    `version` is the model version refused, where the action chose it (a rollback's target)."""

    def __init__(self, message: str, version: str | None = None) -> None:
        super().__init__(message)
        self.version = version


class ReleaseDesk:
    """Release decisions for one use case, under the bank's risk policy. With the artifact
    `store`, a release also verifies the version's serving bundle (what production scores
    with); without it, only the registered model's files."""

    def __init__(
        self,
        spec: UseCaseSpec,
        policy: RiskPolicy,
        tracking: ModelTracking,
        audit_log: AuditLog,
        store: ArtifactStore | None = None,
    ) -> None:
        self.spec = spec
        self.policy = policy
        self.tracking = tracking
        self.audit_log = audit_log
        self.store = store
        self.assessment: RiskAssessment = policy.assess(
            spec.risk, spec.data_schema.protected_attributes
        )

    @property
    def tier(self) -> Tier:
        return self.assessment.tier

    @property
    def tier_policy(self) -> TierPolicy:
        return self.policy.for_tier(self.assessment.tier)

    @property
    def _rule(self) -> ApprovalRule:
        return self.tier_policy.approval

    @property
    def _name(self) -> str:
        return self.spec.registered_model_name

    # What the log says ---------------------------------------------------------------------

    def state(self, version: str) -> VersionState:
        records = self.audit_log.records(use_case=self.spec.id)
        return version_state(records, self.spec.id, str(version))

    def champion(self) -> str | None:
        return current_champion(self.audit_log.records(use_case=self.spec.id), self.spec.id)

    def champion_history(self) -> list[ChampionChange]:
        return champion_changes(self.audit_log.records(use_case=self.spec.id), self.spec.id)

    def champion_at(self, when: datetime) -> str | None:
        return champion_at(self.audit_log.records(use_case=self.spec.id), self.spec.id, when)

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
            needed = approvals_missing(state, self._rule)
            awaiting = needed > 0 and state.rejection is None
        return ReleaseStatus(
            use_case=self.spec.id,
            tier=self.tier,
            champion=champion,
            challenger=challenger,
            awaiting_approval=awaiting,
            approvals_needed=needed,
            approver_roles=tuple(self._rule.roles),
            notes=tuple(notes),
        )

    def promotion_problems(self, state: VersionState) -> list[str]:
        """Why `state`'s version may not become champion now (empty: it may)."""
        return promotion_problems(state, self._rule, tier=self.tier, use_case=self.spec.id)

    def _check_integrity(self, state: VersionState) -> None:
        """Refuse unless the version's stored artifacts are the ones its training recorded."""
        v, recorded = state.version, state.artifact_sha256
        if not recorded:
            problem = "its training record holds no artifact digest to verify it against"
        elif (tagged := self.tracking.version_digest(self._name, v)) != recorded:
            problem = (
                f"the registry's digest tag ({(tagged or 'none')[:12]}) differs from the "
                f"digest recorded at training ({recorded[:12]}): the registry was edited"
            )
        elif (stored := self.tracking.stored_digest(self._name, v)) != recorded:
            problem = (
                f"its registered model files (sha256 {stored[:12]}) differ from the digest "
                f"recorded at training ({recorded[:12]}): a file of the model was changed "
                "after training"
            )
        elif self.store is not None:
            problem = bundle_problem(self.store, self.audit_log, self.spec, v)
        else:
            problem = None
        if problem:
            raise ReleaseRefused(
                f"{self.spec.id} version {v} cannot be released: {problem}; restore the "
                "artifacts from a backup or retrain",
                version=v,
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
            self.record_event(
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
                    verified=True,
                )
        return self.status()

    def approve(
        self, version: str, approver: str, role: str, reason: str, *, promote: bool = True
    ) -> ReleaseStatus:
        """Record an approval of the version as trained (its artifacts are verified first);
        promote when the tier's approvals are then complete."""
        _require(reason, "a reason for the approval")
        with self.audit_log.exclusive():
            state = self.state(version)
            problems = approval_problems(state, approver, role, self._rule, tier=self.tier)
            if problems:
                raise ReleaseRefused(
                    f"approval of {self.spec.id} version {version} by {quoted(approver)} "
                    "refused: " + "; ".join(problems)
                )
            self._check_integrity(state)
            self.record_event(APPROVAL, approver, state, reason=reason, details={"role": role})
            if promote and not self.promotion_problems(self.state(version)):
                self._move_champion(
                    version, approver, reason=reason, event=PROMOTION, verified=True
                )
        return self.status()

    def reject(self, version: str, actor: str, role: str, reason: str) -> ReleaseStatus:
        """Record a rejection (final for the version) and clear its challenger alias."""
        _require(reason, "a reason for the rejection")
        with self.audit_log.exclusive():
            state = self.state(version)
            problem = rejection_problem(state, actor, role, self._rule, tier=self.tier)
            if problem:
                raise ReleaseRefused(problem)
            if self.champion() == str(version):
                raise ReleaseRefused(
                    f"version {version} is the champion; roll it back instead of rejecting it"
                )
            self.record_event(REJECTION, actor, state, reason=reason, details={"role": role})
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
            stack = champion_stack(self.champion_history())
            if len(stack) < 2:
                raise ReleaseRefused(
                    f"{self.spec.id} has no previous champion to roll back to "
                    f"(champion history: {', '.join(stack) or 'empty'})"
                )
            target = self.state(stack[-2])
            if target.rejection is not None:
                raise ReleaseRefused(
                    f"the previous champion, version {target.version}, was rejected by "
                    f"{quoted(target.rejection.actor)} ({quoted(target.rejection.reason)}); "
                    "promote another approved version instead",
                    version=target.version,
                )
            self._move_champion(stack[-2], actor, reason=reason, event=ROLLBACK)
        return self.status()

    def _move_champion(
        self, version: str, actor: str, *, reason: str, event: str, verified: bool = False
    ) -> None:
        """Move the alias, then record the move; if recording fails the alias goes back.
        The artifacts are verified first, unless the caller just did (`verified`)."""
        state = self.state(version)
        if not verified:
            self._check_integrity(state)
        approvals = valid_approvals(state, self._rule)
        previous_in_log = self.champion()
        previous = self.tracking.version_for_alias(self._name, CHAMPION)
        self.tracking.set_alias(self._name, CHAMPION, str(version))
        try:
            self.record_event(
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

    def record_event(
        self,
        event: str,
        actor: str,
        state: VersionState,
        *,
        reason: str,
        details: Mapping[str, object],
    ) -> None:
        """Record an event about `state`'s version with its training's data and code."""

        training = state.training
        self.audit_log.append(
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
