"""The person behind an operator command: authenticated by the environment, never typed.

Every acting command (approve, reject, promote, rollback, stop, resume, exception grant,
incident release) runs as the identity the platform proves (`resources.identity`): `--by`
may only confirm it, `--role` may only choose among the roles the roles file or the
identity provider give. While the command acts, the person's key signs what they record,
and afterwards the audit log's head is anchored outside its database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from modelops.governance.signatures import signing_as
from modelops.operator import OperatorError
from modelops.resources.identity import Identity, IdentityError, identity_provider

if TYPE_CHECKING:
    from modelops.operator import Platform

DEVELOPER_ROLE = "model_developer"


def authenticate(
    platform: Platform, use_case: str, *, by: str | None, role: str | None
) -> Identity:
    """Who runs this command, checked against what they typed."""
    try:
        identity = identity_provider(platform.settings).current()
    except IdentityError as exc:
        raise OperatorError(f"not authenticated: {exc}") from None
    if by and by.strip().lower() != identity.email:
        raise OperatorError(
            f"you are authenticated as {identity.email} ({identity.how}); --by {by.strip()} "
            "names someone else: the platform acts only as the person it authenticates"
        )
    if not identity.acts_for(use_case):
        raise OperatorError(
            f"{identity.email} acts for {', '.join(identity.use_cases)}, not {use_case} "
            "(roles file)"
        )
    if role and role not in identity.roles:
        held = ", ".join(identity.roles) or "none"
        raise OperatorError(
            f"{identity.email} does not hold the role {role!r} (held: {held}); roles come "
            "from the roles file or the identity provider, not from the command line"
        )
    return identity


def acting_role(identity: Identity, role: str | None, *, what: str) -> str:
    """The role named, or the person's only role; a choice to make when they hold several."""
    if role:
        return role
    if len(identity.roles) == 1:
        return identity.roles[0]
    held = ", ".join(identity.roles) or "none"
    raise OperatorError(f"name the role you {what} in with --role (you hold: {held})")


def refuse_developer(identity: Identity, use_case: str, version: str | None) -> None:
    """Separation of duties from the roles file: a developer of the use case never approves."""
    if DEVELOPER_ROLE in identity.roles:
        raise OperatorError(
            f"{identity.email} is a {DEVELOPER_ROLE} of {use_case} (roles file): separation "
            f"of duties: a developer cannot approve version {version or '(latest)'}"
        )


@contextmanager
def acting_as(platform: Platform, identity: Identity) -> Iterator[None]:
    """The person's key signs their records; the head is anchored afterwards, whatever
    happened (a refusal is recorded too)."""
    from modelops.resources.audit_anchor_store import anchor_store_for

    provider = identity_provider(platform.settings)
    try:
        signer = provider.signer(identity)
    except IdentityError as exc:
        raise OperatorError(str(exc)) from None
    try:
        with signing_as(signer):
            yield
    finally:
        anchor_store_for(platform.settings).anchor(
            platform.resources.audit_log, provider.roles()
        )
