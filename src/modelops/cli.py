"""The `modelops` command: run the pipeline on the embedded default and check specs.

modelops run                  materialize every use case, print a summary
modelops run -u german_credit one use case
modelops validate             load settings and every spec, report problems
modelops init                 create the local Dagster instance (before `dagster dev`)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

from modelops.settings import Settings, SettingsError
from modelops.spec import SpecError


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
        default="new_segment",
        help="drift scenario (amount_inflation, new_segment, broken_feature, default_rate_shift)",
    )
    demo.add_argument(
        "--scenario-start",
        type=int,
        default=6,
        help="0-based month the scenario starts in (default 6: the 7th month)",
    )
    commands.add_parser("validate", help="check settings and every use-case spec")
    commands.add_parser("init", help="create the local Dagster instance")
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
        return _run(settings, args.use_case)
    except (SettingsError, SpecError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _init(settings: Settings) -> int:
    from modelops.defs.instance import prepare_dagster_home

    home = prepare_dagster_home(settings.dagster_home)
    print(f"Dagster instance ready at {home}")
    return 0


def _validate(settings: Settings) -> int:
    from modelops.definitions import build_definitions

    defs = build_definitions(settings)
    keys = sorted(k.to_user_string() for k in defs.resolve_all_asset_keys())
    print(f"settings ok (environment {settings.environment}); {len(keys)} assets:")
    for key in keys:
        print(f"  {key}")
    return 0


def _run(settings: Settings, use_case: str | None) -> int:
    from modelops.definitions import build_definitions
    from modelops.defs.instance import local_instance
    from modelops.defs.jobs import MAIN_JOB
    from modelops.defs.run_summary import summarize_run

    defs = build_definitions(settings)
    job_name = f"{use_case}_pipeline" if use_case else MAIN_JOB
    try:
        job = defs.resolve_job_def(job_name)
    except Exception:
        print(f"error: no use case '{use_case}'", file=sys.stderr)
        return 2
    _quiet_libraries()
    instance = local_instance(settings.dagster_home)
    storage = type(instance.run_storage).__name__.removesuffix("RunStorage")
    print(f"Running job '{job_name}' on the {storage} instance at {instance.root_directory}")
    started = time.perf_counter()
    result = job.execute_in_process(
        instance=instance,
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    summary = summarize_run(result, settings, time.perf_counter() - started)
    print(summary.text)
    return 0 if result.success else 1


def _quiet_libraries() -> None:
    """MLflow narrates every registration and warns that the venv has no pip; the summary
    says what matters. (Read by MLflow when it is first imported, inside the run.)"""
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")


if __name__ == "__main__":
    sys.exit(main())
