"""The `modelops` command: run the pipeline on the embedded default and check specs.

modelops run                  materialize every use case, print a summary
modelops run -u german_credit one use case
modelops validate             load settings and every spec, report problems
modelops init                 create the local Dagster instance (before `dagster dev`)

Release governance (every action is recorded in the hash-chained audit log):
modelops status -u UC [--at TIME]         release state, champion history, champion at TIME
modelops approve -u UC --version N --role ROLE --reason TEXT
modelops reject  -u UC --version N --role ROLE --reason TEXT
modelops promote -u UC --version N --reason TEXT
modelops rollback -u UC --reason TEXT
modelops stop -u UC --reason TEXT    every door answers 'refer' (human oversight)
modelops resume -u UC --reason TEXT  the champion answers again
modelops exception grant|list -u UC ...   time-limited exception to a blocking gate
modelops incident list|release -u UC ...  data-incident months; release one to be scored
modelops backfill -u UC --from M [--to M] [--labels]   score production months, with progress
modelops quarantine -u UC [--month M]     the rejected rows with their reasons
modelops alerts list [--undelivered] | alerts retry   alerts, deliveries; resend undelivered
modelops audit verify | audit show [-u UC] | audit export FILE
modelops identity whoami | identity keygen   who you are to the platform; your signing key
modelops reproduce -u UC [--version N]    retrain from the record, compare
modelops inventory                        every use case, owner, tier, champion, review date

modelops serve -u UC [--host H] [--port P] [--workers N] [--poll-seconds S]
                                          the online scoring service (docs/serving.md)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator, Sequence

from modelops import (
    local_identities,
    operator_alerts,
    operator_backfill,
    operator_exceptions,
    operator_incidents,
    operator_quarantine,
    report_server,
)
from modelops.settings import Settings, SettingsError
from modelops.spec import SpecError
from modelops.spec.risk import RiskPolicyError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="modelops", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="materialize the asset graph and print a summary")
    run.add_argument("-u", "--use-case", help="only this use case (default: all)")
    demo = commands.add_parser(
        "demo",
        help="simulate a year of production traffic and show "
        "monitoring, drift, retraining and promotion at work",
    )
    demo.add_argument("-u", "--use-case", default="german_credit")
    demo.add_argument("--months", type=int, default=12)
    demo.add_argument("--rows", type=int, default=5_000, help="applications per month")
    demo.add_argument(
        "--scenario",
        default="unit_change@3+population_shift@6",
        help="scenario(s): amount_inflation, new_segment, broken_feature, default_rate_shift, "
        "unit_change, renamed_category, population_shift; several as name@month+name@month",
    )
    demo.add_argument(
        "--scenario-start",
        type=int,
        default=6,
        help="0-based month the scenario starts in (default 6: the 7th month)",
    )
    commands.add_parser("validate", help="check settings and every use-case spec")
    commands.add_parser("init", help="create the local Dagster instance")
    _serve_parser(commands)
    _governance_parsers(commands)
    operator_exceptions.add_parser(commands)
    operator_incidents.add_parser(commands)
    report_server.add_parser(commands)
    operator_quarantine.add_parser(commands)
    operator_alerts.add_parser(commands)
    operator_backfill.add_parser(commands)
    local_identities.add_parser(commands)
    args = parser.parse_args(argv)

    try:
        settings = Settings.from_env()
        if args.command == "init":
            return _init(settings)
        if args.command == "validate":
            return _validate(settings)
        if args.command == "demo":
            from modelops.demo import run_demo

            _quiet_libraries()
            run_demo(
                settings,
                use_case=args.use_case,
                months=args.months,
                rows=args.rows,
                scenario=args.scenario,
                scenario_start=args.scenario_start,
            )
            return 0
        if args.command == "run":
            return _run(settings, args.use_case)
        if args.command == "serve":
            return _serve(settings, args)
        return getattr(args, "handler", _governance)(settings, args)
    except (SettingsError, SpecError, RiskPolicyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _serve_parser(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser(
        "serve", help="the online scoring service of a use case (HTTP, 127.0.0.1:8000)"
    )
    serve.add_argument("-u", "--use-case", required=True)
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--poll-seconds",
        type=float,
        help="how often the audit log is read for the champion and the stop switch "
        "(default: $MODELOPS_SERVING_POLL_SECONDS, else 1)",
    )


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    """Exit 2 when the service cannot start as asked (unknown use case, address in use)."""
    from modelops.operator import OperatorError
    from modelops.serving.app import poll_seconds_from_env
    from modelops.serving.server import ServeRefused, serve

    _quiet_libraries()
    try:
        serve(
            settings,
            args.use_case,
            host=args.host or "127.0.0.1",
            port=args.port,
            workers=args.workers,
            poll_seconds=args.poll_seconds or poll_seconds_from_env(),
            host_given=args.host is not None,
        )
    except (OperatorError, ServeRefused) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _governance_parsers(commands: argparse._SubParsersAction) -> None:
    def with_use_case(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument("-u", "--use-case", required=True)
        return parser

    def as_actor(parser: argparse.ArgumentParser, *, role: bool) -> None:
        parser.add_argument(
            "--by",
            help="your email, to confirm it: the platform acts as the person it authenticates "
            "(OS user or ID token, docs/security.md)",
        )
        if role:
            parser.add_argument(
                "--role", help="the role you act in, among yours (e.g. model_validator)"
            )
        parser.add_argument("--reason", required=True, help="why; recorded in the audit log")

    status = with_use_case(
        commands.add_parser("status", help="release state and champion history of a use case")
    )
    status.add_argument("--at", help="also say which version was champion at this ISO time")
    approve = with_use_case(
        commands.add_parser("approve", help="approve a challenger (promotes it when complete)")
    )
    approve.add_argument("--version", help="model version (default: the challenger)")
    approve.add_argument(
        "--no-promote", action="store_true", help="record the approval only; promote later"
    )
    as_actor(approve, role=True)
    reject = with_use_case(commands.add_parser("reject", help="reject a model version"))
    reject.add_argument("--version", help="model version (default: the challenger)")
    as_actor(reject, role=True)
    promote = with_use_case(
        commands.add_parser("promote", help="make a version champion if the policy allows")
    )
    promote.add_argument("--version", help="model version (default: the challenger)")
    as_actor(promote, role=False)
    rollback = with_use_case(commands.add_parser("rollback", help="restore the previous champion"))
    as_actor(rollback, role=False)
    stop = with_use_case(
        commands.add_parser("stop", help="stop the model: every door answers 'refer'")
    )
    as_actor(stop, role=False)
    resume = with_use_case(commands.add_parser("resume", help="undo a stop: the model answers"))
    as_actor(resume, role=False)
    audit = commands.add_parser("audit", help="verify, show or export the audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    audit_commands.add_parser("verify", help="check the hash chain; exit 1 if tampered")
    show = audit_commands.add_parser("show", help="list records")
    show.add_argument("-u", "--use-case")
    show.add_argument("--event", help="only this event (approval, promotion, ...)")
    show.add_argument("--limit", type=int, default=50)
    export = audit_commands.add_parser("export", help="write the log as JSON lines")
    export.add_argument("file")
    reproduce = with_use_case(
        commands.add_parser("reproduce", help="retrain a version from its record and compare")
    )
    reproduce.add_argument("--version", help="model version (default: the champion)")
    reproduce.add_argument("--tolerance", type=float, default=1e-6)
    reproduce.add_argument("--by", default=os.environ.get("MODELOPS_ACTOR", "operator"))
    commands.add_parser("inventory", help="every use case: owner, tier, champion, next review")


def _governance(settings: Settings, args: argparse.Namespace) -> int:
    """An operator command. Exit codes: 0 done; 1 a check found a problem (the audit log is
    tampered with, a version did not reproduce); 2 the platform cannot do it here (no audit
    log, an unreadable one, an unwritable export file, MLflow unreachable or failing); 3 the
    governance refused it (the message says why). Never a traceback for any of these."""
    from modelops.governance.release_desk import ReleaseRefused
    from modelops.operator import OperatorError
    from modelops.resources.audit_log import AuditLogError
    from modelops.resources.tracking_server import TrackingUnavailableError
    from modelops.settings import redact

    _quiet_libraries()
    try:
        with _bounded_mlflow_requests():
            return _operator_command(settings, args)
    except (ReleaseRefused, OperatorError) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 3
    except (AuditLogError, TrackingUnavailableError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if not type(exc).__module__.startswith("mlflow"):
            raise
        # MLflow answered with an error, or stopped answering in the middle of the command.
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        print(
            f"error: MLflow at {redact(settings.mlflow_tracking_uri)} failed: {redact(lines[0])}",
            file=sys.stderr,
        )
        return 2


def _operator_command(settings: Settings, args: argparse.Namespace) -> int:
    from modelops.operator import (
        OperatorError,
        Platform,
        audit_export,
        audit_show,
        audit_verify,
        inventory_text,
        release_action,
        status_text,
    )
    from modelops.operator_identity import (
        acting_as,
        acting_role,
        authenticate,
        refuse_developer,
    )
    from modelops.operator_switch import switch_action

    platform = Platform(settings)
    if args.command in ("stop", "resume"):
        try:
            platform.spec(args.use_case)
        except OperatorError as exc:  # a typo, not a refusal: like `run` and `serve`
            print(f"error: {exc}", file=sys.stderr)
            return 2
        person = authenticate(platform, args.use_case, by=args.by, role=None, action=args.command)
        with acting_as(platform, person):
            print(
                switch_action(
                    platform, args.command, args.use_case, actor=person.email, reason=args.reason
                )
            )
        return 0
    if args.command in ("approve", "reject", "promote", "rollback"):
        role = getattr(args, "role", None)
        person = authenticate(platform, args.use_case, by=args.by, role=role, action=args.command)
        if args.command in ("approve", "reject"):
            role = acting_role(person, role, what=args.command)
        if args.command == "approve":
            refuse_developer(platform, person, args.use_case, getattr(args, "version", None))
        with acting_as(platform, person):
            print(
                release_action(
                    platform,
                    args.command,
                    args.use_case,
                    version=getattr(args, "version", None),
                    actor=person.email,
                    reason=args.reason,
                    role=role,
                    promote=not getattr(args, "no_promote", False),
                )
            )
        return 0
    if args.command == "status":
        print(status_text(platform, args.use_case, args.at))
        return 0
    if args.command == "inventory":
        print(inventory_text(platform))
        return 0
    if args.command == "reproduce":
        from modelops.operator_reproduction import reproduce

        matches, text = reproduce(platform, args.use_case, args.version, args.tolerance, args.by)
        print(text)
        return 0 if matches else 1
    if args.audit_command == "verify":
        ok, text = audit_verify(platform)
        print(text)
        return 0 if ok else 1
    if args.audit_command == "export":
        print(audit_export(platform, args.file))
        return 0
    print(audit_show(platform, args.use_case, args.event, args.limit))
    return 0


def _init(settings: Settings) -> int:
    from modelops.instance import local_instance
    from modelops.local_identities import ensure_local_roles
    from modelops.run_recovery import close_orphaned_runs

    instance = local_instance(settings.dagster_home)
    roles = ensure_local_roles(settings)
    if roles:
        print(roles)
    # Run before `dagster dev` (`make ui`): a run left STARTED by a killed `dagster dev` is
    # failed here; the UI's failed-run sensor then ends its MLflow runs.
    for closed in close_orphaned_runs(instance, None):
        print(closed.text)
    print(f"Dagster instance ready at {settings.dagster_home}")
    return 0


def _validate(settings: Settings) -> int:
    """Everything a run would refuse that is known without reading data or training: what
    the specs' loading refuses (names, types, allow-lists, roots, expressions), then each
    spec's estimators built with their parameters (only allowed classes are imported) and
    its local source file. Problems as `SpecError`s: file, field and reason."""
    from modelops.definitions import build_definitions
    from modelops.ml.training import estimator_problems
    from modelops.spec.loader import load_spec_files

    defs = build_definitions(settings)
    errors = []
    for path, spec in load_spec_files(settings.specs_dir, settings.spec_allowances).items():
        problems = estimator_problems(spec)
        if spec.source.path is not None:
            missing = settings.readable_roots.absence(spec.source.path)
            problems += [("source.path", missing)] if missing else []
        errors += [SpecError(path, problems)] if problems else []
    if errors:
        raise SpecError.of_all(settings.specs_dir, errors)
    keys = sorted(k.to_user_string() for k in defs.resolve_all_asset_keys())
    print(f"settings ok (environment {settings.environment}); {len(keys)} assets:")
    for key in keys:
        print(f"  {key}")
    return 0


def _run(settings: Settings, use_case: str | None) -> int:
    from modelops.definitions import build_definitions
    from modelops.instance import local_instance
    from modelops.names import ACTOR_TAG, MAIN_JOB, training_job
    from modelops.run_recovery import close_orphaned_runs, worker_tags
    from modelops.run_summary import summarize_run

    defs = build_definitions(settings)
    job_name = training_job(use_case) if use_case else MAIN_JOB
    try:
        job = defs.resolve_job_def(job_name)
    except Exception:
        print(f"error: no use case '{use_case}'", file=sys.stderr)
        return 2
    _quiet_libraries()
    instance = local_instance(settings.dagster_home)
    storage = type(instance.run_storage).__name__.removesuffix("RunStorage")
    # A run killed earlier (kill -9, a crash) would otherwise stay STARTED for ever, and its
    # MLflow run RUNNING.
    with _bounded_mlflow_requests():
        for closed in close_orphaned_runs(instance, settings.mlflow_tracking_uri):
            print(closed.text)
    print(f"Running job '{job_name}' on the {storage} instance at {instance.root_directory}")
    started = time.perf_counter()
    # Who trained: recorded with the model, so that person cannot also approve it.
    actor = os.environ.get("MODELOPS_ACTOR")
    result = job.execute_in_process(
        instance=instance,
        raise_on_error=False,
        # Which process runs it, so that the next run can tell if it was killed.
        tags={**worker_tags(), **({ACTOR_TAG: actor} if actor else {})},
        # Dagster logs a failed step with its stack trace; the summary names it with its message.
        run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
    )
    summary = summarize_run(result, settings, time.perf_counter() - started)
    print(summary.text)
    return 0 if result.success else 1


@contextlib.contextmanager
def _bounded_mlflow_requests() -> Iterator[None]:
    """An operator command's few MLflow calls: a server that stops answering is reported within
    a minute, not after MLflow's default retries (~5 min); a setting already made wins."""
    bounds = {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
    }
    added = [name for name in bounds if name not in os.environ]
    os.environ.update({name: bounds[name] for name in added})
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def _quiet_libraries() -> None:
    """MLflow narrates every registration (read at its import); the summary says what matters."""
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")


if __name__ == "__main__":
    sys.exit(main())
