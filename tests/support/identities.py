"""The bank's identity provider and its roles-file administrator, played by the tests.

A test that runs `modelops approve --by val@bank.example --role model_validator` is that
person logging in: this module mints them an ID token (RS256, signed by a key the test
session generates and publishes as a JWKS file), gives them an Ed25519 signing key of their
own, and registers that key for them in the platform's roles file, as the bank's
administrator would. The platform then verifies all of it the way it does in production
(MODELOPS_IDENTITY=oidc); nothing in the platform trusts the typed `--by`.
"""

from __future__ import annotations

import tempfile
import time
from functools import cache
from pathlib import Path

import jwt
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa

from modelops.governance.signatures import new_private_key, write_private_key
from modelops.local_identities import ensure_key
from modelops.resources.identity import jwks_document
from modelops.settings import Settings

ISSUER = "https://login.bank.example"
AUDIENCE = "modelops"
KID = "test-idp-1"


class BankIdentityProvider:
    """One per test process: its RSA key, its JWKS file and the people's key files."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="modelops-idp-"))
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.jwks_file = self.root / "jwks.json"
        self.jwks_file.write_text(jwks_document({KID: self.key.public_key()}))
        self.public_keys: dict[str, str] = {}

    def token(self, email: str, roles: list[str], *, lifetime: int = 600, key=None) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": email,
            "email": email,
            "roles": roles,
            "iat": now,
            "exp": now + lifetime,
        }
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": KID})

    def key_file(self, email: str) -> Path:
        """The person's own signing key (created once, readable by them only)."""
        path = self.root / "people" / f"{email}.pem"
        if not path.exists():
            pem, public = new_private_key()
            write_private_key(path, pem)
            self.public_keys[email] = public
        return path

    def register(self, settings: Settings, email: str) -> None:
        """The administrator adds the person and their public key to the roles file."""
        self.key_file(email)
        path = settings.roles_file
        document = yaml.safe_load(path.read_text()) if path.exists() else {}
        if "anchor_keys" not in document:  # the platform's anchor signer, set up once
            public = ensure_key(settings.home_dir / "keys" / "anchor.pem")
            document["anchor_keys"] = [{"id": "anchor-1", "public_key": public}]
        people = document.setdefault("people", [])
        if not any(p["email"] == email for p in people):
            key_id = f"{email.split('@')[0]}-{len(people)}"
            people.append(
                {
                    "email": email,
                    "roles": [],
                    "keys": [{"id": key_id, "public_key": self.public_keys[email]}],
                }
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(document, sort_keys=False))

    def env(self, settings: Settings, email: str, roles: list[str]) -> dict[str, str]:
        """What the person's shell holds once logged in."""
        self.register(settings, email)
        return {
            **oidc_settings(self),
            "MODELOPS_ID_TOKEN": self.token(email, roles),
            "MODELOPS_SIGNING_KEY_FILE": str(self.key_file(email)),
        }


def oidc_settings(idp: BankIdentityProvider) -> dict[str, str]:
    return {
        "MODELOPS_IDENTITY": "oidc",
        "MODELOPS_OIDC_ISSUER": ISSUER,
        "MODELOPS_OIDC_AUDIENCE": AUDIENCE,
        "MODELOPS_OIDC_JWKS_FILE": str(idp.jwks_file),
    }


@cache
def identity_provider() -> BankIdentityProvider:
    return BankIdentityProvider()


def login_env(settings: Settings, args: tuple[str, ...]) -> dict[str, str]:
    """For `modelops ARGS`: the person `--by` names logged in, holding the role `--role`
    names (or the operator role); the identity-provider settings alone without `--by`."""
    idp = identity_provider()
    if "--by" not in args:
        return oidc_settings(idp)
    email = args[args.index("--by") + 1]
    roles = [args[args.index("--role") + 1]] if "--role" in args else ["operator"]
    return idp.env(settings, email, roles)
