"""`modelops backfill`: score a range of production months from the terminal, with progress.

    modelops backfill -u UC --from 2025-01 --to 2025-06 [--labels]

Each month whose batch file is there runs the monthly scoring job for that partition (and,
with `--labels`, the labels job where outcomes have landed), one after the other, each
announced and timed; the monitoring history is rebuilt once at the end. A month without a
file is skipped and said; a month that fails is named with the step that failed, and the
months before it keep what they produced. The UI's backfill (Dagster's own) does the same
work in parallel runs; this is for the operator at a terminal or in a script.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import dagster as dg

    from modelops.operator import Platform
    from modelops.settings import Settings
    from modelops.spec import UseCaseSpec

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def add_parser(commands: argparse._SubParsersAction) -> None:
    backfill = commands.add_parser(
        "backfill", help="score a range of production months, with progress"
    )
    backfill.add_argument("-u", "--use-case", required=True)
    backfill.add_argument("--from", dest="first", required=True, help="first month (YYYY-MM)")
    backfill.add_argument("--to", dest="last", help="last month (YYYY-MM; default: --from)")
    backfill.add_argument(
        "--labels", action="store_true", help="also the months' outcomes, where they landed"
    )
    backfill.set_defaults(handler=run)


def months_between(first: str, last: str) -> list[str]:
    """Inclusive calendar months, 'YYYY-MM'."""
    year, month = map(int, first.split("-"))
    months = []
    while f"{year:04d}-{month:02d}" <= last:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Exit 0 when every month with a file was scored, 1 when one failed, 3 when refused."""
    from modelops.operator import OperatorError, Platform

    last = args.last or args.first
    bad = [m for m in (args.first, last) if not MONTH.match(m)]
    if bad:
        print(f"refused: months are written YYYY-MM, not {bad[0]!r}", file=sys.stderr)
        return 3
    if last < args.first:
        print(f"refused: --to {last} is before --from {args.first}", file=sys.stderr)
        return 3
    try:
        platform = Platform(settings)
        spec = platform.spec(args.use_case)
    except OperatorError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 3
    if spec.monitoring is None:
        print(f"refused: {spec.id} declares no monitoring section to score", file=sys.stderr)
        return 3
    if args.first < spec.monitoring.start_month:
        print(
            f"refused: {spec.id}'s months start at {spec.monitoring.start_month} "
            "(monitoring.start_month)",
            file=sys.stderr,
        )
        return 3
    return _backfill(platform, spec, months_between(args.first, last), labels=args.labels)


def _backfill(platform: Platform, spec: UseCaseSpec, months: list[str], *, labels: bool) -> int:
    from modelops.definitions import build_definitions
    from modelops.names import ACTOR_TAG, history_job, labels_job, scoring_job
    from modelops.progress import Progress
    from modelops.run_recovery import worker_tags

    assert spec.monitoring is not None
    settings, source = platform.settings, platform.resources.source
    defs = build_definitions(settings)
    instance = platform.instance()
    actor = os.environ.get("MODELOPS_ACTOR")
    tags = {**worker_tags(), **({ACTOR_TAG: actor} if actor else {})}

    def execute(job: str, partition: str | None = None) -> dg.ExecuteInProcessResult:
        return defs.resolve_job_def(job).execute_in_process(
            instance=instance,
            partition_key=partition,
            raise_on_error=False,
            tags=tags,
            run_config=QUIET,
        )

    present = [
        m for m in months if source.probe(spec.monitoring.batches.source_for(m, spec.source))
    ]
    missing = [m for m in months if m not in present]
    progress = Progress(len(present) + 1, write=print)
    if missing:
        progress.note(f"no batch file for {', '.join(missing)}: skipped")
    failed: list[str] = []
    for month in present:
        label_source = (
            spec.monitoring.labels.source_for(month, spec.source)
            if labels and spec.monitoring.labels is not None
            else None
        )
        with_labels = label_source is not None and source.probe(label_source) is not None
        with progress.step(f"{month}: scoring" + (", outcomes" if with_labels else "")):
            results = [execute(scoring_job(spec.id), f"{month}-01")]
            if with_labels:
                results.append(execute(labels_job(spec.id), f"{month}-01"))
        for result in results:
            if not result.success:
                failed.append(f"{month} (run {result.run_id}): {_failure(result)}")
                progress.note(f"{month} failed at {_failure(result)}")
    with progress.step("monitoring history"):
        history = execute(history_job(spec.id))
    if not history.success:
        failed.append(f"history (run {history.run_id}): {_failure(history)}")
    scored = len(present) - len({f.split(" ")[0] for f in failed if not f.startswith("history")})
    print(
        f"{spec.id}: {scored} of {len(months)} month(s) scored in "
        f"{progress.elapsed:.1f} s" + (f"; {len(missing)} without a file" if missing else "")
    )
    for failure in failed:
        print(f"  FAILED {failure}")
    return 1 if failed else 0


def _failure(result: dg.ExecuteInProcessResult) -> str:
    steps = [
        f"{e.step_key}: {_first_line(e.event_specific_data.error.message)}"  # type: ignore[union-attr]
        for e in result.all_events
        if e.is_step_failure
    ]
    return "; ".join(steps) or "the run did not succeed"


def _first_line(message: str) -> str:
    return (message.strip().splitlines() or ["(no message)"])[0]
