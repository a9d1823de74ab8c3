"""Who may do what, on the real platform (trained once for the module, approved on copies):

- the model's developer cannot approve it by any choice of command-line arguments, whether
  authenticated by an ID token (OIDC, verified against the provider's keys) or as an OS user
  mapped in the roles file;
- the authenticated validator's approval works, is signed with their key and verifies;
- `audit verify` names an approval inserted directly in the database (well chained, unsigned)
  as forged, and a consistent rewrite of the whole chain against the anchors kept outside it.
"""

from __future__ import annotations

import os
import pwd
import sqlite3
from pathlib import Path

import pytest
import yaml

from modelops.governance.audit_records import AuditEvent, record_hash, row_record
from modelops.resources.audit_sqlite import SqliteAuditLog
from modelops.settings import Settings
from support.identities import identity_provider, oidc_settings
from support.monthly_platform import UC, trained_platform
from support.platform_cli import cli, copy_platform

pytestmark = pytest.mark.integration

DEVELOPER = "anna.berg@bank.example"  # the spec's owner
VALIDATOR = "val@bank.example"
APPROVE = ("approve", "-u", UC, "--version", "1", "--reason", "VR-9")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Version 1 trained by its developer and approved, then version 2 waiting (the fixture
    approves v1 through the validator, as `trained_platform` does)."""
    return trained_platform(tmp_path_factory.mktemp("identities"))


@pytest.fixture
def platform(trained: Settings, tmp_path: Path) -> Settings:
    copied = copy_platform(trained, tmp_path)
    ran = cli(copied, "run", "-u", UC, env={"MODELOPS_ACTOR": "trainer@bank.example"})
    assert ran.code == 0, ran.printed
    return copied


def as_person(settings: Settings, email: str, roles: list[str]) -> dict[str, str]:
    """The person's own login: their token and their key, nobody else's."""
    return identity_provider().env(settings, email, roles)


APPROVE_V2 = ("approve", "-u", UC, "--version", "2", "--reason", "VR-10")


def test_the_developer_cannot_approve_by_any_choice_of_arguments(platform: Settings):
    anna = as_person(platform, DEVELOPER, ["model_validator"])
    for extra in (
        (),
        ("--role", "model_validator"),
        ("--by", VALIDATOR, "--role", "model_validator"),  # typing a colleague's address
        ("--role", "head_of_model_risk"),  # a role the token does not give
        ("--by", DEVELOPER, "--role", "model_validator", "--no-promote"),
    ):
        refused = cli(platform, *APPROVE_V2, *extra, env=anna)
        assert refused.code == 3, (extra, refused.printed)
        assert "refused:" in refused.err
    log = SqliteAuditLog(path=str(platform.audit_log_path))
    assert not [r for r in log.records(events=["approval"]) if r.model_version == "2"]
    refusals = [r for r in log.records(events=["refusal"]) if r.actor == DEVELOPER]
    assert any("names someone else" in r.reason for r in refusals)  # the attempt is on record
    assert any("does not hold the role" in r.reason for r in refusals)
    # A token minted by someone without the provider's key is refused, whatever it says.
    from cryptography.hazmat.primitives.asymmetric import rsa

    forged_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = {
        **anna,
        "MODELOPS_ID_TOKEN": identity_provider().token(
            VALIDATOR, ["model_validator"], key=forged_key
        ),
    }
    refused = cli(platform, *APPROVE_V2, "--role", "model_validator", env=forged)
    assert refused.code == 3 and "ID token was refused" in refused.err, refused.printed


def test_the_validator_approves_signed_and_a_forged_approval_is_named(platform: Settings):
    approved = cli(
        platform, *APPROVE_V2, "--role", "model_validator",
        env=as_person(platform, VALIDATOR, ["model_validator"]),
    )  # fmt: skip
    assert approved.code == 0, approved.printed
    log = SqliteAuditLog(path=str(platform.audit_log_path))
    (approval,) = [r for r in log.records(events=["approval"]) if r.model_version == "2"]
    assert approval.actor == VALIDATOR
    assert approval.details["signature"]["key_id"].startswith("val-")
    verified = cli(platform, "audit", "verify", env=oidc_settings(identity_provider()))
    assert verified.code == 0, verified.printed
    assert "anchor(s)" in verified.out and "signatures checked" in verified.out

    # Someone with write access to the audit database appends a well-chained approval.
    log.append(
        AuditEvent(
            event="approval",
            actor=VALIDATOR,
            use_case=UC,
            reason="rubber stamp",
            model_version="2",
            details={"role": "model_validator"},
        )
    )
    forged = cli(platform, "audit", "verify", env=oidc_settings(identity_provider()))
    assert forged.code == 1, forged.printed
    assert "FORGED" in forged.out and f"no signature by {VALIDATOR}" in forged.out


def test_a_consistent_rewrite_of_the_whole_chain_is_named_against_the_anchors(
    platform: Settings,
):
    approved = cli(
        platform, *APPROVE_V2, "--role", "model_validator",
        env=as_person(platform, VALIDATOR, ["model_validator"]),
    )  # fmt: skip
    assert approved.code == 0, approved.printed
    anchors = [
        yaml.safe_load(line)
        for line in (platform.home_dir / "audit-anchors.jsonl").read_text().splitlines()
    ]
    assert anchors and anchors[-1]["signature"]

    # The database's owner rewrites an early training record's reason and recomputes every
    # hash after it and the head: the chain itself is consistent again.
    connection = sqlite3.connect(platform.audit_log_path)
    for trigger in ("records_no_update", "head_forward_only"):
        connection.execute(f"DROP TRIGGER IF EXISTS audit_{trigger}")
    columns = [c[1] for c in connection.execute("PRAGMA table_info(audit_records)")][1:]
    rows = connection.execute(
        f"SELECT {', '.join(columns)} FROM audit_records ORDER BY seq"
    ).fetchall()
    previous = None
    for index, row in enumerate(rows):
        record = row_record(dict(zip(columns, row, strict=True))).to_dict()
        if index == 0:
            record["reason"] = "rewritten"
        if previous is not None:
            record["prev_hash"] = previous
        record["hash"] = record_hash(record)
        previous = record["hash"]
        connection.execute(
            "UPDATE audit_records SET reason = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            (record["reason"], record["prev_hash"], record["hash"], record["seq"]),
        )
    connection.execute("UPDATE audit_head SET hash = ? WHERE id = 1", (previous,))
    connection.commit()
    connection.close()
    assert SqliteAuditLog(path=str(platform.audit_log_path)).verify().ok  # the chain holds

    rewritten = cli(platform, "audit", "verify", env=oidc_settings(identity_provider()))
    assert rewritten.code == 1, rewritten.printed
    assert "has another hash than the one anchored" in rewritten.out
    assert "rewritten" in rewritten.out


def test_os_users_are_people_through_the_roles_file(platform: Settings):
    """The embedded default's identity: the OS user (from the kernel), mapped in the roles
    file; a developer there is refused, the same user as validator approves."""
    user = pwd.getpwuid(os.geteuid()).pw_name
    roles_file = platform.home_dir / "os-roles.yaml"
    key_file = identity_provider().key_file("os.person@bank.example")
    identity_provider().register(platform, "os.person@bank.example")
    registered = yaml.safe_load(platform.roles_file.read_text())
    key = next(p for p in registered["people"] if p["email"] == "os.person@bank.example")["keys"]

    def mapped(roles: list[str]) -> dict[str, str]:
        person = {
            "email": "os.person@bank.example",
            "os_users": [user],
            "roles": roles,
            "keys": key,
        }
        roles_file.write_text(yaml.safe_dump({"people": [person]}))
        return {
            "MODELOPS_IDENTITY": "os",
            "MODELOPS_ROLES_FILE": str(roles_file),
            "MODELOPS_SIGNING_KEY_FILE": str(key_file),
        }

    developer = cli(platform, *APPROVE_V2, "--role", "model_validator",
                    env=mapped(["model_developer", "model_validator"]))  # fmt: skip
    assert developer.code == 3 and "separation of duties" in developer.err, developer.printed
    whoami = cli(platform, "identity", "whoami", env=mapped(["model_validator"]))
    assert f"os.person@bank.example (OS user {user})" in whoami.out, whoami.printed
    validator = cli(platform, *APPROVE_V2, env=mapped(["model_validator"]))
    assert validator.code == 0, validator.printed
    nobody = mapped([])
    roles_file.write_text(yaml.safe_dump({"people": []}))
    unknown = cli(platform, *APPROVE_V2, env=nobody)
    assert unknown.code == 3 and f"OS user {user!r} is not in the roles file" in unknown.err
