"""Signed actions: an approval, rejection, exception, promotion, rollback, stop or incident
release carries its author's Ed25519 signature over the record's content.

The hash chain shows that a record was edited; a signature shows who wrote it. Someone who can
write to the audit database but holds no person's private key can insert a well-chained
record, but not a signed one: `audit verify` names it as forged. Keys are registered in the
roles file (`spec.roles`); the private key stays with its person (a file only they can read,
or the bank's key store), never in the log or the platform's home.
"""

from __future__ import annotations

import base64
import contextvars
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from modelops.governance.audit_records import AuditEvent, AuditRecord, canonical_json, plain_json
from modelops.spec.roles import RolesFile, ed25519_public_key

SIGNED_EVENTS = frozenset(
    {
        "approval",
        "rejection",
        "gate_exception",
        "promotion",
        "rollback",
        "scoring_stopped",
        "scoring_resumed",
        "incident_release",
    }
)
SIGNATURE = "signature"
"""The `details` entry holding {"key_id", "value"}: inside the hashed record, outside what is
signed."""


class SigningKeyError(ValueError):
    """A private key that cannot be used; the message says which file and why."""


def signed_content(item: AuditEvent | AuditRecord) -> bytes:
    """What a signature covers: every field the author decided, not where the log put it
    (an event before it is appended and the record it becomes give the same bytes)."""
    content = {
        "event": item.event,
        "actor": item.actor,
        "use_case": item.use_case,
        "reason": item.reason,
        "model_version": item.model_version,
        "data_versions": {str(k): str(v) for k, v in item.data_versions.items()},
        "code_version": item.code_version,
        "details": {
            k: v for k, v in plain_json(dict(item.details), "details").items() if k != SIGNATURE
        },
    }
    return canonical_json(content).encode("utf-8")


@dataclass(frozen=True)
class Signer:
    """A person with their private key in hand, for the duration of one command."""

    email: str
    key_id: str
    private_key: Ed25519PrivateKey

    def sign(self, event: AuditEvent) -> AuditEvent:
        value = self.private_key.sign(signed_content(event))
        signature = {"key_id": self.key_id, "value": base64.b64encode(value).decode()}
        return replace(event, details={**event.details, SIGNATURE: signature})


_current: contextvars.ContextVar[Signer | None] = contextvars.ContextVar(
    "modelops_signer", default=None
)


@contextmanager
def signing_as(signer: Signer | None) -> Iterator[None]:
    """While inside, the actions this person records are signed with their key."""
    token = _current.set(signer)
    try:
        yield
    finally:
        _current.reset(token)


def sign_if_due(event: AuditEvent) -> AuditEvent:
    """The event signed when it is a signed kind written by the person signing now."""
    signer = _current.get()
    if (
        signer is None
        or event.event not in SIGNED_EVENTS
        or event.actor.strip().lower() != signer.email.lower()
        or SIGNATURE in event.details
    ):
        return event
    return signer.sign(event)


def signature_problems(records: Sequence[AuditRecord], roles: RolesFile) -> list[str]:
    """Each record of a signed kind by a person (an email) recorded since signatures are
    required, whose signature is missing, unknown or wrong: named as forged."""
    since = roles.signatures_required_since
    problems = []
    for record in records:
        if record.event not in SIGNED_EVENTS or "@" not in record.actor:
            continue
        if since is not None and _recorded_at(record) < since:
            continue
        problem = _problem(record, roles)
        if problem:
            problems.append(f"{record.label()}: FORGED or altered: {problem}")
    return problems


def _problem(record: AuditRecord, roles: RolesFile) -> str | None:
    signature = record.details.get(SIGNATURE)
    if not isinstance(signature, dict) or not signature.get("value"):
        return f"no signature by {record.actor}"
    person = roles.person(record.actor)
    key = person and next((k for k in person.keys if k.id == signature.get("key_id")), None)
    if key is None:
        return f"signed with key {signature.get('key_id')!r}, not one registered for {record.actor}"
    if key.retired_at is not None and _recorded_at(record) > key.retired_at:
        return f"signed with key {key.id!r}, retired at {key.retired_at.isoformat()}"
    try:
        ed25519_public_key(key.public_key).verify(
            base64.b64decode(str(signature["value"])), signed_content(record)
        )
    except (InvalidSignature, ValueError):
        return f"the signature does not match the content under {record.actor}'s key {key.id!r}"
    return None


def _recorded_at(record: AuditRecord) -> datetime:
    return datetime.fromisoformat(record.recorded_at.replace("Z", "+00:00"))


def new_private_key() -> tuple[bytes, str]:
    """A fresh key: its PEM (for the person's file) and its public half (for the roles file)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem, public_key_text(key)


def public_key_text(key: Ed25519PrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def write_private_key(path: Path, pem: bytes) -> None:
    """Readable by its owner only (0600), created so: never world-readable for an instant."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The person's key; refused when others can read the file (it would not be theirs)."""
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"{path}: cannot read the signing key: {exc.strerror}") from None
    if mode & 0o077:
        raise SigningKeyError(
            f"{path}: the signing key is readable by others (mode {oct(mode & 0o777)}); "
            "run `chmod 600` on it"
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(f"{path}: not a PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path}: an Ed25519 key is required")
    return key
