"""The person behind an operator command: authenticated by the environment, never typed.

Every acting command (approve, reject, promote, rollback, stop, resume, exception grant,
incident release) runs as the identity the platform proves (`resources.identity`): `--by`
may only confirm it, `--role` may only choose among the roles the roles file or the
identity provider give. While the command acts, the person's key signs what they record,
and afterwards the audit log's head is anchored outside its database.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from modelops.governance.signatures import signing_as
from modelops.operator import OperatorError
from modelops.resources.identity import (
    Identity,
    IdentityError,
    IdentityProvider,
    identity_provider,
)

if TYPE_CHECKING:
    from modelops.operator import Platform

DEVELOPER_ROLE = "model_developer"


def authenticate(
    platform: Platform, use_case: str, *, by: str | None, role: str | None, action: str = ""
) -> Identity:
    """Who runs this command, checked against what they typed. A known person refused here
    (naming someone else, a role they do not hold) is recorded like any refusal."""
    try:
        identity = identity_provider(platform.settings).current()
    except IdentityError as exc:
        raise OperatorError(f"not authenticated: {exc}") from None
    problem = None
    if by and by.strip().lower() != identity.email:
        problem = (
            f"you are authenticated as {identity.email} ({identity.how}); --by {by.strip()} "
            "names someone else: the platform acts only as the person it authenticates"
        )
    elif not identity.acts_for(use_case):
        problem = (
            f"{identity.email} acts for {', '.join(identity.use_cases)}, not {use_case} "
            "(roles file)"
        )
    elif role and role not in identity.roles:
        held = ", ".join(identity.roles) or "none"
        problem = (
            f"{identity.email} does not hold the role {role!r} (held: {held}); roles come "
            "from the roles file or the identity provider, not from the command line"
        )
    if problem:
        _record_refusal(platform, identity, use_case, action, problem, typed_by=by, role=role)
        raise OperatorError(problem)
    return identity


def _record_refusal(
    platform: Platform,
    identity: Identity,
    use_case: str,
    action: str,
    problem: str,
    **typed: str | None,
) -> None:
    from modelops.governance.audit_records import AuditEvent

    platform.resources.audit_log.append(
        AuditEvent(
            event="refusal",
            actor=identity.email,
            use_case=use_case,
            reason=problem,
            details={"action": action, "authenticated_by": identity.how, **typed},
        )
    )


def acting_role(identity: Identity, role: str | None, *, what: str) -> str:
    """The role named, or the person's only role; a choice to make when they hold several."""
    if role:
        return role
    if len(identity.roles) == 1:
        return identity.roles[0]
    held = ", ".join(identity.roles) or "none"
    raise OperatorError(f"name the role you {what} in with --role (you hold: {held})")


def refuse_developer(
    platform: Platform, identity: Identity, use_case: str, version: str | None
) -> None:
    """Separation of duties from the roles file: a developer of the use case never approves."""
    if DEVELOPER_ROLE in identity.roles:
        problem = (
            f"{identity.email} is a {DEVELOPER_ROLE} of {use_case} (roles file): separation "
            f"of duties: a developer cannot approve version {version or '(latest)'}"
        )
        _record_refusal(platform, identity, use_case, "approve", problem, version=version)
        raise OperatorError(problem)


@contextmanager
def acting_as(platform: Platform, identity: Identity) -> Iterator[None]:
    """The person's key signs their records; the head is anchored afterwards, whatever
    happened (a refusal is recorded too)."""
    provider = identity_provider(platform.settings)
    try:
        signer = provider.signer(identity)
    except IdentityError as exc:
        raise OperatorError(str(exc)) from None
    from modelops.governance.release_desk import ReleaseRefused

    try:
        with signing_as(signer):
            yield
    except (OperatorError, ReleaseRefused):  # a refusal is recorded: anchor it too
        _anchor(platform, provider)
        raise
    _anchor(platform, provider)  # (an error elsewhere, e.g. an unreadable log: nothing to anchor)


def _anchor(platform: Platform, provider: IdentityProvider) -> None:
    from modelops.resources.audit_anchor_store import anchor_store_for

    anchors = anchor_store_for(platform.settings)
    try:
        anchors.anchor(platform.resources.audit_log, provider.roles())
    except Exception as exc:  # the action stands; the nightly export anchors it later
        print(
            f"warning: the audit head could not be anchored in {anchors.location()}: "
            f"{type(exc).__name__}: {exc}; the nightly audit_export will anchor it",
            file=sys.stderr,
        )
