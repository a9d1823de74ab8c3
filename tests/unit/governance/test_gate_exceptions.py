"""Gate exceptions (governance/gate_exceptions.py) and the blocked-release text
(governance/blocked_release.py): who may grant one, expiry, the audit record, and what the
release rules then allow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from modelops.governance.audit_records import AuditEvent
from modelops.governance.blocked_release import (
    blocked_gate_lines,
    blocked_release_markdown,
    release_block_lines,
    shortfall,
)
from modelops.governance.gate_exceptions import exceptions_of, grant_exception
from modelops.governance.history import version_state
from modelops.governance.release_desk import ReleaseDesk, ReleaseRefused
from modelops.governance.release_rules import approval_problems, promotion_problems
from modelops.resources.audit_sqlite import SqliteAuditLog
from modelops.spec import UseCaseSpec
from modelops.spec.risk import load_risk_policy

OWNER = "anna.berg@bank.example"
HEAD = "head.risk@bank.example"
VALIDATOR = "val.idator@bank.example"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
SLICE = {
    "name": "slice_floors",
    "passed": False,
    "required": True,
    "blocking": True,
    "summary": "purpose=education AUC 0.610 [0.520, 0.700] below 0.65 by 0.040",
    "measured": {"gated_slices": 3},
    "limits": {"min_slice_auc": 0.65},
}
PERFORMANCE = {
    "name": "minimum_performance",
    "passed": False,
    "required": True,
    "blocking": True,
    "summary": "holdout AUC 0.680 [0.620, 0.740] < 0.70",
    "measured": {"auc": 0.68, "ks": 0.3, "brier": 0.2},
    "limits": {"min_auc": 0.70, "min_ks": 0.25, "max_brier": 0.22},
}


@pytest.fixture
def desk(german_spec: UseCaseSpec, tmp_path: Path) -> ReleaseDesk:
    log = SqliteAuditLog(path=str(tmp_path / "audit.db"))
    desk = ReleaseDesk(german_spec, load_risk_policy(), tracking=None, audit_log=log)  # type: ignore[arg-type]
    for event, details in (
        ("training", {"owner": OWNER}),
        (
            "gate_result",
            {"passed": False, "model_version": "3", "tier": "high", "results": [SLICE]},
        ),
    ):
        log.append(
            AuditEvent(
                event=event,
                actor="dagster:run/1",
                use_case=german_spec.id,
                model_version="3",
                details=details,
            )
        )
    return desk


def grant(desk: ReleaseDesk, **overrides: object):
    arguments: dict = {
        "gate": "slice_floors",
        "granted_by": HEAD,
        "role": "head_of_model_risk",
        "days": 30,
        "reason": "MRM-7: segment below 50 bads next quarter",
        "now": NOW,
    }
    arguments.update(overrides)
    return grant_exception(desk, "3", **arguments)


def state(desk: ReleaseDesk, now: datetime):
    return version_state(list(desk.audit_log.records()), desk.spec.id, "3", now)


def test_an_exception_lets_the_approval_proceed_until_it_expires(desk: ReleaseDesk) -> None:
    rule = desk.tier_policy.approval
    before = state(desk, NOW)
    assert approval_problems(before, VALIDATOR, "model_validator", rule, tier="high")
    granted = grant(desk)
    assert granted.until.startswith("2026-12-31") and granted.active(NOW)
    during = state(desk, NOW + timedelta(days=1))
    assert during.gates_passed and during.blocking_gates == []
    assert approval_problems(during, VALIDATOR, "model_validator", rule, tier="high") == []
    after = state(desk, NOW + timedelta(days=31))
    assert not after.gates_passed and after.blocking_gates == ["slice_floors"]
    assert any(
        "failed the release gate(s) slice_floors" in p
        for p in promotion_problems(after, rule, tier="high", use_case=desk.spec.id)
    )


def test_who_granted_the_exception_may_not_also_approve(desk: ReleaseDesk) -> None:
    grant(desk)
    during = state(desk, NOW + timedelta(days=1))
    rule = desk.tier_policy.approval.model_copy(update={"roles": ["head_of_model_risk"]})
    problems = approval_problems(during, HEAD, "head_of_model_risk", rule, tier="high")
    assert any("granted the gate exception this release relies on" in p for p in problems)
    assert (
        approval_problems(
            during, VALIDATOR, "model_validator", desk.tier_policy.approval, tier="high"
        )
        == []
    )


def test_the_exception_is_an_audit_record_with_who_which_gate_why_and_until(
    desk: ReleaseDesk,
) -> None:
    grant(desk)
    record = next(r for r in desk.audit_log.records() if r.event == "gate_exception")
    assert record.actor == HEAD and record.reason.startswith("MRM-7")
    assert record.details["gate"] == "slice_floors"
    assert record.details["until"].startswith("2026-12-31")
    assert record.details["gate_summary"] == SLICE["summary"]
    assert [e.gate for e in exceptions_of(list(desk.audit_log.records()), desk.spec.id)] == [
        "slice_floors"
    ]


@pytest.mark.parametrize(
    ("overrides", "refusal"),
    [
        ({"role": "model_validator"}, "may not grant exceptions"),
        ({"granted_by": OWNER}, "built this model version"),
        ({"days": 400}, "1 to 90 days"),
        ({"gate": "fairness"}, "did not block version 3"),
        ({"reason": " "}, "a reason is required"),
    ],
)
def test_a_wrong_grant_is_refused_and_nothing_is_recorded(
    desk: ReleaseDesk, overrides: dict, refusal: str
) -> None:
    with pytest.raises(ReleaseRefused, match=refusal):
        grant(desk, **overrides)
    assert exceptions_of(list(desk.audit_log.records()), desk.spec.id) == []


def test_a_tier_without_exceptions_refuses_with_the_other_option(desk: ReleaseDesk) -> None:
    low = desk.policy.for_tier("low")
    desk.assessment = type(desk.assessment)(tier="low", rationale=("test",))
    assert not low.exceptions_allowed
    with pytest.raises(ReleaseRefused, match="allows no gate exception: change the model"):
        grant(desk, role=low.exception_approver_role)


def test_the_blocked_release_text_names_the_gate_the_shortfall_and_the_options(
    desk: ReleaseDesk,
) -> None:
    assert shortfall(PERFORMANCE) == "auc below 0.7 by 0.020"
    lines = release_block_lines(desk, now=NOW)
    text = "\n".join(lines)
    assert "v3 is BLOCKED by the release gate(s)" in text
    assert "slice_floors: purpose=education AUC 0.610 [0.520, 0.700] below 0.65 by 0.040" in text
    assert "change the model, the data or the spec and retrain" in text
    assert "modelops exception grant -u german_credit --version 3 --gate slice_floors" in text
    grant(desk)
    text = "\n".join(release_block_lines(desk, now=NOW + timedelta(days=1)))
    assert "passes only under an exception for" in text and "[under an active exception]" in text
    assert "exception (active) for gate slice_floors of v3" in text


def test_the_card_section_is_escaped_and_lists_exceptions(desk: ReleaseDesk) -> None:
    hostile = {**SLICE, "summary": "purpose=<script>x</script> AUC 0.5"}
    review = {"model_version": "3", "tier": "high", "results": [hostile, PERFORMANCE]}
    lines = blocked_release_markdown(review, [], desk.tier_policy, use_case=desk.spec.id, now=NOW)
    text = "\n".join(lines)
    assert "<script>" not in text and "## Blocked release gates and exceptions" in text
    assert "auc below 0.7 by 0.020" in text
    assert blocked_gate_lines([{**SLICE, "blocking": False}], frozenset()) == []
    assert blocked_release_markdown({"results": []}, [], desk.tier_policy, use_case="x") == []
