"""Identities: an ID token is believed only when the provider's key signed it for this
audience and issuer and it has not expired; the roles file names the file and field it
refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelops.resources.identity import IdentityError, OidcIdentity
from modelops.spec.roles import RolesFileError, load_roles_file
from support.identities import AUDIENCE, ISSUER, identity_provider

pytestmark = pytest.mark.unit


@pytest.fixture
def oidc(monkeypatch: pytest.MonkeyPatch) -> OidcIdentity:
    monkeypatch.delenv("MODELOPS_ID_TOKEN_FILE", raising=False)
    return OidcIdentity(
        issuer=ISSUER, audience=AUDIENCE, jwks_file=str(identity_provider().jwks_file)
    )


def test_a_valid_token_gives_the_person_and_the_roles_it_carries(oidc, monkeypatch):
    token = identity_provider().token("Val@Bank.example", ["model_validator"])
    monkeypatch.setenv("MODELOPS_ID_TOKEN", token)
    person = oidc.current()
    assert person.email == "val@bank.example" and person.roles == ("model_validator",)
    assert person.how == f"OIDC token from {ISSUER}"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"lifetime": -60}, "expired"),
        ({"audience": "another-app"}, "audience"),
        ({"issuer": "https://evil.example"}, "issuer"),
    ],
)
def test_an_expired_or_misdirected_token_is_refused(oidc, monkeypatch, change, reason):
    import time

    import jwt

    idp = identity_provider()
    claims = {
        "iss": change.get("issuer", ISSUER),
        "aud": change.get("audience", AUDIENCE),
        "email": "val@bank.example",
        "roles": ["model_validator"],
        "exp": int(time.time()) + change.get("lifetime", 600),
    }
    token = jwt.encode(claims, idp.key, algorithm="RS256", headers={"kid": "test-idp-1"})
    monkeypatch.setenv("MODELOPS_ID_TOKEN", token)
    with pytest.raises(IdentityError, match="the ID token was refused") as refused:
        oidc.current()
    assert reason in str(refused.value).lower()


def test_no_token_says_how_to_log_in(oidc, monkeypatch):
    monkeypatch.delenv("MODELOPS_ID_TOKEN", raising=False)
    with pytest.raises(IdentityError, match="no ID token: log in"):
        oidc.current()


def test_the_roles_file_names_the_field_it_refuses(tmp_path: Path):
    path = tmp_path / "roles.yaml"
    path.write_text(
        "people:\n"
        "  - {email: a@bank.example, roles: [model_validator], keys: [{id: k1, public_key: "
        + "A"
        * 44
        + "}]}\n"
        "  - {email: A@bank.example, roles: [operator]}\n"
    )
    with pytest.raises(RolesFileError) as refused:
        load_roles_file(path)
    text = str(refused.value)
    assert str(path) in text and "people[0].keys[0].public_key" in text
    path.write_text(
        "people:\n  - {email: a@bank.example, roles: [x]}\n"
        "  - {email: A@bank.example, roles: [y]}\n"
    )
    with pytest.raises(RolesFileError, match="email listed for more than one entry"):
        load_roles_file(path)
