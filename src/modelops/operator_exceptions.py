"""The operator commands behind `modelops exception grant | list`: a recorded, time-limited
exception to one blocking release gate (governance/gate_exceptions.py), then the version's
card re-rendered and Dagster told, as for an approval.

    modelops exception grant -u UC --version N --gate GATE --role ROLE \\
        --days D --reason TEXT
    modelops exception list -u UC

Exit codes as the other operator commands: 0 done, 2 the platform cannot do it here, 3 the
governance refused it (the message says why; the refusal is recorded in the audit log).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelops.settings import Settings


def add_parser(commands: argparse._SubParsersAction) -> None:
    """`modelops exception ...`, dispatched by `args.handler`."""
    exception = commands.add_parser(
        "exception", help="grant or list time-limited exceptions to a blocking release gate"
    )
    actions = exception.add_subparsers(dest="exception_command", required=True)
    grant = actions.add_parser("grant", help="let one blocking gate of a version not block")
    grant.add_argument("-u", "--use-case", required=True)
    grant.add_argument("--version", required=True, help="the blocked model version")
    grant.add_argument("--gate", required=True, help="the blocking gate, e.g. slice_floors")
    grant.add_argument("--by", help="your email, to confirm it (you act as who you are)")
    grant.add_argument("--role", required=True, help="the tier's exception approver role")
    grant.add_argument("--days", type=int, required=True, help="how long it lasts")
    grant.add_argument("--reason", required=True, help="why; recorded in the audit log")
    listing = actions.add_parser("list", help="every exception of a use case")
    listing.add_argument("-u", "--use-case", required=True)
    exception.set_defaults(handler=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    from modelops.governance.release_desk import ReleaseRefused
    from modelops.operator import OperatorError
    from modelops.resources.audit_log import AuditLogError

    try:
        print(_carry_out(settings, args))
        return 0
    except (ReleaseRefused, OperatorError) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 3
    except AuditLogError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _carry_out(settings: Settings, args: argparse.Namespace) -> str:
    from modelops.governance.audit_records import AuditEvent
    from modelops.governance.gate_exceptions import exceptions_of, grant_exception
    from modelops.governance.release_desk import ReleaseRefused
    from modelops.operator import Platform, _report
    from modelops.operator_identity import acting_as, authenticate

    platform = Platform(settings)
    desk = platform.desk(args.use_case)
    log = platform.resources.audit_log
    if args.exception_command == "list":
        found = exceptions_of(list(log.records(use_case=args.use_case)), args.use_case)
        return "\n".join(e.line() for e in found) or f"{args.use_case}: no gate exception"
    person = authenticate(
        platform, args.use_case, by=args.by, role=args.role, action="gate_exception"
    )
    with acting_as(platform, person):
        try:
            granted = grant_exception(
                desk,
                args.version,
                gate=args.gate,
                granted_by=person.email,
                role=args.role,
                days=args.days,
                reason=args.reason,
            )
        except ReleaseRefused as refusal:  # a refused attempt is part of the record too
            log.append(
                AuditEvent(
                    event="refusal",
                    actor=person.email,
                    use_case=args.use_case,
                    reason=str(refusal),
                    model_version=args.version,
                    details={"action": "gate_exception", "role": args.role, "gate": args.gate},
                )
            )
            raise
    _report(platform, desk, [str(args.version)], action="gate_exception", actor=person.email)
    return (
        granted.line()
        + f"\n  next: the usual approval (modelops approve -u {args.use_case} --version "
        f"{args.version} ...); the gate blocks again after {granted.until[:10]}"
    )
