"""Who is running this command, as the platform can prove it, never as typed.

Two ways, one interface, chosen by the environment (`MODELOPS_IDENTITY`):
- `os` (the embedded default): the operating-system user the kernel says runs the process,
  mapped to a person and their roles by the roles file;
- `oidc` (production): an ID token from the bank's identity provider, its signature checked
  against the provider's published keys (JWKS), its issuer, audience and expiry checked; the
  person's email and roles come from the token's claims (and the roles file, where it names
  the person too).
The private signing key of the person is found beside their identity (`signer`).
"""

from __future__ import annotations

import json
import os
import pwd
from pathlib import Path

import dagster as dg
from pydantic import BaseModel, ConfigDict

from modelops.governance.signatures import (
    Signer,
    SigningKeyError,
    load_private_key,
    public_key_text,
)
from modelops.settings import Settings
from modelops.spec.roles import RolesFile, RolesFileError, load_roles_file

TOKEN_VARIABLE = "MODELOPS_ID_TOKEN"
TOKEN_FILE_VARIABLE = "MODELOPS_ID_TOKEN_FILE"
KEY_FILE_VARIABLE = "MODELOPS_SIGNING_KEY_FILE"


class IdentityError(ValueError):
    """The person cannot be authenticated, or holds no such role; the message says why."""


class Identity(BaseModel):
    model_config = ConfigDict(frozen=True)

    email: str
    roles: tuple[str, ...]
    use_cases: tuple[str, ...] = ("*",)
    how: str
    """How it was proven, for messages and the audit record: "OS user vera", "OIDC token
    from https://login.bank.example"."""

    def acts_for(self, use_case: str) -> bool:
        return "*" in self.use_cases or use_case in self.use_cases


def default_key_file(email: str) -> Path:
    """Where a person's private key lives by default: in their own home, not the platform's."""
    return Path.home() / ".config" / "modelops" / "keys" / f"{email.lower()}.pem"


class IdentityProvider(dg.ConfigurableResource):
    roles_file: str | None = None
    """The roles file (people, roles, public keys); None: nobody is known."""

    def current(self) -> Identity:
        raise NotImplementedError

    def roles(self) -> RolesFile:
        if not self.roles_file or not Path(self.roles_file).exists():
            return RolesFile()
        try:
            return load_roles_file(Path(self.roles_file))
        except RolesFileError as exc:
            raise IdentityError(str(exc)) from None

    def signer(self, identity: Identity) -> Signer:
        """The person's key, matched to a key the roles file registers for them."""
        person = self.roles().person(identity.email)
        active = [k for k in (person.keys if person else ()) if k.retired_at is None]
        if not active:
            raise IdentityError(
                f"{identity.email} has no signing key registered in the roles file "
                f"({self.roles_file}): run `modelops identity keygen` and register its public key"
            )
        path = Path(os.environ.get(KEY_FILE_VARIABLE) or default_key_file(identity.email))
        try:
            private = load_private_key(path)
        except SigningKeyError as exc:
            raise IdentityError(f"cannot sign as {identity.email}: {exc}") from None
        public = public_key_text(private)
        key = next((k for k in active if k.public_key == public), None)
        if key is None:
            raise IdentityError(
                f"the key in {path} is not one the roles file registers for {identity.email}"
            )
        return Signer(email=identity.email, key_id=key.id, private_key=private)


class OsIdentity(IdentityProvider):
    """The operating-system user of this process (from the kernel, not $USER)."""

    def current(self) -> Identity:
        user = pwd.getpwuid(os.geteuid()).pw_name
        person = self.roles().person_of_os_user(user)
        if person is None:
            raise IdentityError(
                f"OS user {user!r} is not in the roles file ({self.roles_file or 'none set'}): "
                "ask the platform team to add you (docs/security.md)"
            )
        return Identity(
            email=person.email.lower(),
            roles=person.roles,
            use_cases=person.use_cases,
            how=f"OS user {user}",
        )


class OidcIdentity(IdentityProvider):
    """An ID token verified against the identity provider's keys."""

    issuer: str
    audience: str
    jwks_file: str | None = None
    """The provider's published keys, as a JWKS document on disk (refreshed by deployment)."""
    jwks_url: str | None = None
    """Or fetched from the provider (its `jwks_uri`)."""
    roles_claim: str = "roles"
    email_claim: str = "email"

    def current(self) -> Identity:
        import jwt

        token = self._token()
        try:
            header = jwt.get_unverified_header(token)
            key = self._key(header.get("kid"))
            claims = jwt.decode(
                token,
                key=key,
                algorithms=["RS256", "ES256", "EdDSA"],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise IdentityError(f"the ID token was refused: {exc}") from None
        email = str(claims.get(self.email_claim) or "").lower()
        if "@" not in email:
            raise IdentityError(f"the ID token carries no email in claim {self.email_claim!r}")
        roles = claims.get(self.roles_claim) or []
        if not isinstance(roles, list):
            raise IdentityError(f"claim {self.roles_claim!r} is not a list of roles")
        person = self.roles().person(email)
        known = tuple(dict.fromkeys([*map(str, roles), *(person.roles if person else ())]))
        return Identity(
            email=email,
            roles=known,
            use_cases=person.use_cases if person else ("*",),
            how=f"OIDC token from {self.issuer}",
        )

    def _token(self) -> str:
        token = os.environ.get(TOKEN_VARIABLE)
        if not token and os.environ.get(TOKEN_FILE_VARIABLE):
            token = Path(os.environ[TOKEN_FILE_VARIABLE]).read_text().strip()
        if not token:
            raise IdentityError(
                f"no ID token: log in with the bank's identity provider and set {TOKEN_VARIABLE} "
                f"(or {TOKEN_FILE_VARIABLE})"
            )
        return token

    def _key(self, kid: str | None) -> object:
        import jwt

        if self.jwks_url:
            return jwt.PyJWKClient(self.jwks_url).get_signing_key(kid).key
        if not self.jwks_file:
            raise IdentityError("no identity-provider keys configured (MODELOPS_OIDC_JWKS_FILE)")
        keys = jwt.PyJWKSet.from_json(Path(self.jwks_file).read_text()).keys
        match = [k for k in keys if kid is None or k.key_id == kid]
        if not match:
            raise IdentityError(f"the ID token is signed with key {kid!r}, unknown to the provider")
        return match[0].key


def jwks_document(public_keys: dict[str, object]) -> str:
    """A JWKS document for `kid -> public key` (what a test's identity provider publishes)."""
    import jwt

    keys = []
    for kid, key in public_keys.items():
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key))
        keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
    return json.dumps({"keys": keys})


def identity_provider(settings: Settings) -> IdentityProvider:
    """The environment's way of knowing who runs a command (`MODELOPS_IDENTITY`)."""
    config = settings.identity
    roles = str(settings.roles_file)
    if config.kind == "os":
        return OsIdentity(roles_file=roles)
    missing = [
        variable
        for variable, value in (
            ("MODELOPS_OIDC_ISSUER", config.oidc_issuer),
            ("MODELOPS_OIDC_AUDIENCE", config.oidc_audience),
            (
                "MODELOPS_OIDC_JWKS_URL (or MODELOPS_OIDC_JWKS_FILE)",
                config.oidc_jwks_url or config.oidc_jwks_file,
            ),
        )
        if not value
    ]
    if missing:
        raise IdentityError(
            "MODELOPS_IDENTITY=oidc needs the identity provider's settings: " + ", ".join(missing)
        )
    return OidcIdentity(
        roles_file=roles,
        issuer=config.oidc_issuer or "",
        audience=config.oidc_audience or "",
        jwks_file=config.oidc_jwks_file,
        jwks_url=config.oidc_jwks_url,
    )
