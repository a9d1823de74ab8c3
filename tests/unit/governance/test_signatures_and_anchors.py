"""Signed actions and anchors on a real SQLite audit log: who wrote a record, and whether the
chain was rewritten since an anchor was kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from modelops.governance.audit_anchors import anchor_problems, new_anchor
from modelops.governance.audit_records import AuditEvent
from modelops.governance.signatures import (
    Signer,
    load_private_key,
    new_private_key,
    signature_problems,
    signing_as,
    write_private_key,
)
from modelops.resources.audit_sqlite import SqliteAuditLog
from modelops.spec.roles import RolesFile

pytestmark = pytest.mark.unit

VALIDATOR = "val@bank.example"


def person_key(tmp_path: Path, name: str) -> tuple[Signer, str]:
    pem, public = new_private_key()
    path = tmp_path / f"{name}.pem"
    write_private_key(path, pem)
    return Signer(email=VALIDATOR, key_id=name, private_key=load_private_key(path)), public


def roles_with(*keys: tuple[str, str], retired: datetime | None = None) -> RolesFile:
    return RolesFile.model_validate(
        {
            "people": [
                {
                    "email": VALIDATOR,
                    "roles": ["model_validator"],
                    "keys": [
                        {"id": key_id, "public_key": public, "retired_at": retired}
                        for key_id, public in keys
                    ],
                }
            ]
        }
    )


def approval(reason: str = "VR-1") -> AuditEvent:
    return AuditEvent(
        event="approval", actor=VALIDATOR, use_case="uc", reason=reason, model_version="1",
        details={"role": "model_validator"},
    )  # fmt: skip


def test_a_signed_approval_verifies_and_an_unsigned_one_is_forged(tmp_path: Path):
    signer, public = person_key(tmp_path, "val-1")
    log = SqliteAuditLog(path=str(tmp_path / "audit.db"))
    with signing_as(signer):
        log.append(approval())
        log.append(AuditEvent(event="training", actor="trainer@bank.example", use_case="uc"))
    log.append(approval("inserted"))  # no key in hand

    problems = signature_problems(log.records(), roles_with(("val-1", public)))

    assert len(problems) == 1 and "record 3" in problems[0]
    assert f"FORGED or altered: no signature by {VALIDATOR}" in problems[0]
    assert "signature" not in log.records()[1].details  # a training is not a signed kind


def test_a_signature_by_an_unregistered_or_retired_key_or_over_other_content_fails(
    tmp_path: Path,
):
    signer, public = person_key(tmp_path, "val-1")
    stranger, _ = person_key(tmp_path, "val-2")
    log = SqliteAuditLog(path=str(tmp_path / "audit.db"))
    with signing_as(stranger):
        log.append(approval())
    problems = signature_problems(log.records(), roles_with(("val-1", public)))
    assert "signed with key 'val-2', not one registered" in problems[0]

    signed = signer.sign(approval())
    altered = AuditEvent(**{**signed.__dict__, "reason": "changed after signing"})
    log.append(altered)
    problems = signature_problems(log.records(), roles_with(("val-1", public)))
    assert "does not match the content" in problems[-1]

    retired = datetime.now(UTC) - timedelta(days=1)
    with signing_as(signer):
        log.append(approval("after retirement"))
    problems = signature_problems(log.records(), roles_with(("val-1", public), retired=retired))
    assert "retired at" in problems[-1]


def test_records_before_signatures_were_required_are_not_judged(tmp_path: Path):
    log = SqliteAuditLog(path=str(tmp_path / "audit.db"))
    log.append(approval())
    roles = RolesFile(signatures_required_since=datetime.now(UTC) + timedelta(seconds=5))
    assert signature_problems(log.records(), roles) == []


def test_anchors_name_a_rewritten_or_deleted_record_and_a_forged_anchor(tmp_path: Path):
    signer, public = person_key(tmp_path, "anchor-1")
    log = SqliteAuditLog(path=str(tmp_path / "audit.db"))
    log.append(approval())
    anchor = new_anchor(log.head(), signer.private_key, "anchor-1")
    roles = RolesFile.model_validate({"anchor_keys": [{"id": "anchor-1", "public_key": public}]})
    records = log.records()
    assert anchor_problems(records, [anchor], roles.anchor_keys) == []

    rewritten = [r.__class__(**{**r.to_dict(), "hash": "f" * 64}) for r in records]
    (problem,) = anchor_problems(rewritten, [anchor], roles.anchor_keys)
    assert "record 1" in problem and "another hash than the one anchored" in problem
    (problem,) = anchor_problems([], [anchor], roles.anchor_keys)
    assert "no longer in the log" in problem
    forged = anchor.model_copy(update={"hash": "e" * 64})
    (problem,) = anchor_problems(records, [forged], roles.anchor_keys)
    assert "forged anchor" in problem


def test_a_private_key_others_can_read_is_refused(tmp_path: Path):
    from modelops.governance.signatures import SigningKeyError

    pem, _ = new_private_key()
    path = tmp_path / "shared.pem"
    path.write_bytes(pem)
    path.chmod(0o644)
    with pytest.raises(SigningKeyError, match="readable by others"):
        load_private_key(path)
