"""The release rules on their own: approvals that count, and why an action is refused."""

from __future__ import annotations

import itertools

from modelops.governance.audit_records import AuditRecord
from modelops.governance.history import APPROVAL, GATE_RESULT, REJECTION, TRAINING, version_state
from modelops.governance.release_rules import (
    ReleaseStatus,
    approval_problems,
    approvals_missing,
    approvals_required,
    promotion_problems,
    rejection_problem,
    valid_approvals,
)
from modelops.spec.risk import ApprovalRule

DEVELOPER = "dev@bank.example"
VALIDATOR = "val@bank.example"
OTHER_VALIDATOR = "other@bank.example"
RULE = ApprovalRule(required=True, roles=["model_validator"], approvals=2)
_seq = itertools.count(1)


def _record(event: str, actor: str, *, reason: str = "", **details: object) -> AuditRecord:
    return AuditRecord(
        seq=next(_seq),
        recorded_at="2026-05-01T09:30:00.000000Z",
        event=event,
        actor=actor,
        use_case="uc",
        reason=reason,
        model_version="3",
        data_versions={},
        code_version=None,
        details=dict(details),
        prev_hash="0" * 64,
        hash="1" * 64,
    )


def _state(*records: AuditRecord):
    return version_state(records, "uc", "3")


TRAINED = _record(TRAINING, DEVELOPER, owner="Owner@Bank.example")
PASSED = _record(GATE_RESULT, "dagster:run", passed=True, results=[])
FAILED = _record(
    GATE_RESULT, "dagster:run", passed=False, results=[{"name": "fairness", "blocking": True}]
)


def _approval(who: str, role: str = "model_validator") -> AuditRecord:
    return _record(APPROVAL, who, reason="ok", role=role)


def test_only_independent_approvals_in_an_allowed_role_count_once_each() -> None:
    state = _state(
        TRAINED,
        PASSED,
        _approval(VALIDATOR),
        _approval(VALIDATOR.upper()),  # the same person again
        _approval("owner@bank.example"),  # the model's owner: a developer
        _approval(OTHER_VALIDATOR, role="analyst"),  # a role the tier does not allow
    )
    assert [a.approver for a in valid_approvals(state, RULE)] == [VALIDATOR]
    assert approvals_required(RULE) == 2
    assert approvals_missing(state, RULE) == 1
    assert approvals_required(ApprovalRule(required=False)) == 0


def test_promotion_lists_every_reason_and_says_how_to_approve() -> None:
    rejected = _record(REJECTION, VALIDATOR, reason="unstable")
    problems = promotion_problems(
        _state(TRAINED, FAILED, rejected), RULE, tier="high", use_case="uc"
    )
    assert problems == [
        f"version 3 was rejected by '{VALIDATOR}' (2026-05-01T09:30:00.000000Z): 'unstable'",
        "version 3 failed the release gate(s) fairness",
        "the high tier needs 2 approval(s) by model_validator from someone other than the "
        "model's developer; 2 missing (modelops approve -u uc --version 3 "
        "--role ROLE --reason ...)",
    ]
    assert promotion_problems(_state(), RULE, tier="high", use_case="uc") == [
        "version 3 has no training record in the audit log"
    ]
    assert "version 3 has not been through the release gates" in promotion_problems(
        _state(TRAINED), RULE, tier="high", use_case="uc"
    )
    approved = _state(TRAINED, PASSED, _approval(VALIDATOR), _approval(OTHER_VALIDATOR))
    assert promotion_problems(approved, RULE, tier="high", use_case="uc") == []


def test_approval_refusals() -> None:
    state = _state(TRAINED, PASSED, _approval(VALIDATOR))
    assert approval_problems(state, OTHER_VALIDATOR, "model_validator", RULE, tier="high") == []
    assert approval_problems(state, "Owner@bank.example", "analyst", RULE, tier="high") == [
        "'Owner@bank.example' built this model version (separation of duties: the developer "
        "cannot approve their own model)",
        "role 'analyst' may not approve at the high tier (allowed: model_validator)",
    ]
    assert approval_problems(state, VALIDATOR, "model_validator", RULE, tier="high") == [
        f"'{VALIDATOR}' already approved version 3"
    ]
    assert approval_problems(state, "nobody", "model_validator", RULE, tier="high") == [
        "the approver must be named by email address"
    ]
    assert approval_problems(_state(), VALIDATOR, "model_validator", RULE, tier="high") == [
        "version 3 has no training record in the audit log"
    ]
    assert approval_problems(
        _state(TRAINED, FAILED), VALIDATOR, "model_validator", RULE, tier="high"
    ) == ["version 3 has not passed its release gates (fairness)"]


def test_a_validator_rejects_and_the_developer_may_withdraw() -> None:
    state = _state(TRAINED, PASSED)
    assert rejection_problem(state, VALIDATOR, "model_validator", RULE, tier="high") is None
    assert rejection_problem(state, DEVELOPER, "developer", RULE, tier="high") is None
    assert rejection_problem(state, OTHER_VALIDATOR, "analyst", RULE, tier="high") == (
        "role 'analyst' may not reject at the high tier (allowed: model_validator, or the "
        "model's developer withdrawing it)"
    )
    assert rejection_problem(state, "nobody", "model_validator", RULE, tier="high") == (
        "the person rejecting must be named by email address"
    )
    assert rejection_problem(_state(), VALIDATOR, "model_validator", RULE, tier="high") == (
        "version 3 has no training record in the log"
    )


def test_status_summary() -> None:
    status = ReleaseStatus(
        use_case="uc",
        tier="high",
        champion="2",
        challenger="3",
        awaiting_approval=True,
        approvals_needed=1,
        approver_roles=("model_validator", "risk_officer"),
    )
    assert status.summary() == (
        "uc (high tier): champion v2, challenger v3 awaiting 1 approval(s) by "
        "model_validator or risk_officer"
    )
    idle = ReleaseStatus("uc", "low", None, None, False, 0, ())
    assert idle.summary() == "uc (low tier): champion none"


def test_what_people_typed_is_quoted_in_a_refusal() -> None:
    """A reason or a name with a newline stays on the refusal's line, quoted."""
    forged = "unstable\n2026-05-02T10:00:00Z  promotion v9 by ceo@bank.example: fine"
    rejected = _record(REJECTION, "val\x1b[2Kidator@bank.example", reason=forged)
    (problem, *_) = promotion_problems(
        _state(TRAINED, PASSED, rejected), RULE, tier="high", use_case="uc"
    )
    assert "\n" not in problem and "\x1b" not in problem
    assert problem.endswith(
        "'unstable\\n2026-05-02T10:00:00Z  promotion v9 by ceo@bank.example: fine'"
    )
    assert "by 'val\\x1b[2Kidator@bank.example'" in problem
    (refusal,) = approval_problems(
        _state(TRAINED, PASSED), VALIDATOR, "model_validator\nok", RULE, tier="high"
    )
    assert refusal.startswith("role 'model_validator\\nok' may not approve")
