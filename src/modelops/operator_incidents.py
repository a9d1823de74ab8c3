"""The operator commands behind `modelops incident list | release`: the months classified as
data incidents, and a person's release of one (recorded in the audit log), after which the
month is scored again.

    modelops incident list -u UC
    modelops incident release -u UC --month YYYY-MM --reason TEXT [--teach]

A release lets a held or referred month be scored by the model; with `--teach` the month may
also join labelled production data and drift references (a person judged the data sound).
Exit codes as the other operator commands: 0 done, 2 the platform cannot do it here, 3 refused.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelops.ml.incident_record import MonthIncidents, Release
    from modelops.operator import Platform
    from modelops.settings import Settings

INCIDENT_RELEASED = "incident_release"


def add_parser(commands: argparse._SubParsersAction) -> None:
    """`modelops incident ...`, dispatched by `args.handler`."""
    incident = commands.add_parser(
        "incident", help="list data-incident months, or release one to be scored"
    )
    actions = incident.add_subparsers(dest="incident_command", required=True)
    listing = actions.add_parser("list", help="every month classified as a data incident")
    listing.add_argument("-u", "--use-case", required=True)
    release = actions.add_parser("release", help="let a held or referred month be scored")
    release.add_argument("-u", "--use-case", required=True)
    release.add_argument("--month", required=True, help="YYYY-MM")
    release.add_argument("--by", help="your email, to confirm it (you act as who you are)")
    release.add_argument("--reason", required=True, help="why; recorded in the audit log")
    release.add_argument(
        "--teach",
        action="store_true",
        help="the month may also join training data and drift references",
    )
    incident.set_defaults(handler=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    from modelops.operator import OperatorError
    from modelops.resources.audit_log import AuditLogError

    try:
        print(_carry_out(settings, args))
        return 0
    except OperatorError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 3
    except AuditLogError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _carry_out(settings: Settings, args: argparse.Namespace) -> str:
    from modelops.formatting import json_document
    from modelops.ml.incident_record import RELEASE_FILE, Release
    from modelops.monitoring.history import incident_months, month_incidents
    from modelops.names import INCIDENT_RELEASE, monthly
    from modelops.operator import OperatorError, Platform
    from modelops.operator_identity import acting_as, authenticate

    platform = Platform(settings)
    spec = platform.spec(args.use_case)
    store = platform.resources.store
    if spec.monitoring is None:
        raise OperatorError(f"use case '{spec.id}' has no monitoring section")
    if args.incident_command == "list":
        found = incident_months(store, spec)
        return "\n".join(_line(r) for r in found.values()) or f"{spec.id}: no data incident"
    record = month_incidents(store, spec, args.month)
    if record is None or not record.is_incident:
        raise OperatorError(f"{spec.id} {args.month}: no data incident to release")
    person = authenticate(platform, spec.id, by=args.by, role=None, action="incident_release")
    release = Release(by=person.email, at=datetime.now(UTC), reason=args.reason, teach=args.teach)
    store.store_files(
        spec.id,
        monthly(INCIDENT_RELEASE, args.month),
        {RELEASE_FILE: json_document(release.model_dump(mode="json"))},
    )
    with acting_as(platform, person):
        _record(platform, spec.id, args.month, release, record.headline())
    scored = _score_again(platform, spec.id, args.month)
    teach = "may teach" if release.teach else "still never teaches"
    return f"{spec.id} {args.month}: released by {release.by} ({teach}); {scored}"


def _record(platform: Platform, use_case: str, month: str, release: Release, headline: str) -> None:
    import dagster as dg

    from modelops.governance.audit_records import AuditEvent
    from modelops.names import DATA_INCIDENTS

    platform.resources.audit_log.append(
        AuditEvent(
            event=INCIDENT_RELEASED,
            actor=release.by,
            use_case=use_case,
            reason=release.reason,
            details={"month": month, "incident": headline, "teach": release.teach},
        )
    )
    platform.instance().report_runless_asset_event(
        dg.AssetObservation(
            asset_key=dg.AssetKey([use_case, DATA_INCIDENTS]),
            partition=month,
            metadata={"released_by": release.by, "release_reason": release.reason},
        )
    )


def _score_again(platform: Platform, use_case: str, month: str) -> str:
    """Run the month's scoring job (its checks, predictions and drift) on this instance."""
    from modelops.definitions import build_definitions
    from modelops.names import scoring_job

    defs = build_definitions(platform.settings)
    result = defs.resolve_job_def(scoring_job(use_case)).execute_in_process(
        instance=platform.instance(),
        partition_key=f"{month}-01",
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
    )
    if result.success:
        return f"the month was scored again (run {result.run_id})"
    return f"scoring the month again failed (run {result.run_id}): see the Dagster UI"


def _line(record: MonthIncidents) -> str:
    released = (
        f" released by {record.release.by} ({'teaches' if record.release.teach else 'no teaching'})"
        if record.release
        else ""
    )
    return record.headline() + released
