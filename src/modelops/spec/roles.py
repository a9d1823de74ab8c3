"""Who is who: the declarative roles file mapping authenticated identities to people, their
roles and their signing keys.

Roles come from here (or, in production, from the identity provider's token claims), never
from the command line: `modelops approve` acts as the person the platform authenticated.

    signatures_required_since: 2026-12-05T00:00:00Z
    people:
      - email: val@bank.example
        os_users: [vera]                 # local logins that are this person
        roles: [model_validator]
        use_cases: ["*"]                 # where the roles apply (default: every use case)
        keys:                            # Ed25519 public keys that sign this person's actions
          - id: val-2026
            public_key: MCowBQYDK2VwAyEA...   # base64 of the DER SubjectPublicKeyInfo
            retired_at: null             # rotation: a retired key verifies what it signed before
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from pathlib import Path
from typing import Annotated

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from modelops.spec.policy_files import read_policy


def ed25519_public_key(text: str) -> Ed25519PublicKey:
    """The key in base64 DER (what `modelops identity keygen` prints); ValueError naming why
    it is not one."""
    try:
        key = serialization.load_der_public_key(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error) as exc:
        raise ValueError(f"not a base64 DER public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"an Ed25519 key is required, got {type(key).__name__}")
    return key


class RolesFileError(ValueError):
    """The roles file cannot be read or is invalid; the message names the file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SigningKey(_Strict):
    id: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$")]
    public_key: Annotated[str, Field(min_length=40)]
    """Base64 of the DER SubjectPublicKeyInfo of an Ed25519 key."""
    retired_at: datetime | None = None
    """From then on the key no longer signs; what it signed before still verifies."""

    @field_validator("public_key")
    @classmethod
    def _an_ed25519_key(cls, value: str) -> str:
        ed25519_public_key(value)  # ValueError with the reason
        return value


class Person(_Strict):
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]
    os_users: tuple[str, ...] = ()
    """Local logins (the operating-system user) that authenticate as this person."""
    roles: tuple[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")], ...]
    use_cases: tuple[str, ...] = ("*",)
    keys: tuple[SigningKey, ...] = ()

    def acts_for(self, use_case: str) -> bool:
        return "*" in self.use_cases or use_case in self.use_cases


class RolesFile(_Strict):
    signatures_required_since: datetime | None = None
    """Actions of people recorded from then on must carry a valid signature (earlier records
    predate signatures). None: from the beginning of the log."""
    people: tuple[Person, ...] = ()
    anchor_keys: tuple[SigningKey, ...] = ()
    """Public keys of the platform's anchor signer (audit anchors, docs/security.md)."""

    @model_validator(mode="after")
    def _unique(self) -> RolesFile:
        for what, values in (
            ("email", [p.email.lower() for p in self.people]),
            ("os user", [u for p in self.people for u in p.os_users]),
            (
                "key id",
                [k.id for p in self.people for k in p.keys] + [k.id for k in self.anchor_keys],
            ),
        ):
            twice = sorted({v for v in values if values.count(v) > 1})
            if twice:
                raise ValueError(f"{what} listed for more than one entry: {', '.join(twice)}")
        return self

    def person(self, email: str) -> Person | None:
        wanted = email.strip().lower()
        return next((p for p in self.people if p.email.lower() == wanted), None)

    def person_of_os_user(self, user: str) -> Person | None:
        return next((p for p in self.people if user in p.os_users), None)


def load_roles_file(path: Path) -> RolesFile:
    return read_policy(path, RolesFile, "roles file", RolesFileError)
