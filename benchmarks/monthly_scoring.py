"""What scoring a production month costs in a fresh process: the first month a process scores
(with whatever it must prepare first) and a second month in the same process.

    uv run python benchmarks/monthly_scoring.py --history-rows 100000 1000000 --rows 100000

Setup, in a child process and not timed: the demo's own code path (`modelops.demo.run_demo`)
in a fresh platform home: `--history-rows` synthetic past applications, the spec's model
trained on them, gated, approved and made champion, and two production months of `--rows`
applications (no drift scenario inside them, no outcomes yet). Then, `--repeat` times, a fresh
process runs the monthly scoring job (production_batch, production_features, predictions,
monthly_drift) for the first month and then for the second, on that home's SQLite instance;
step times come from each run's event log, the process's own time from its start.

Only entry points that every platform version since the demo has (`Settings`, `run_demo`,
`build_definitions`, the `<use case>_monthly_scoring` job) are used, so this file measures an
older commit as well: check it out in a worktree and run this file with
`PYTHONPATH=<worktree>/src` and `--project <worktree>`.
Results: benchmarks/output/monthly_scoring.json (or `--out`).
"""

from __future__ import annotations

import time

PROCESS_START = time.perf_counter()

import argparse  # noqa: E402  (the process's start is taken before anything is imported)
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

os.environ.setdefault("DO_NOT_TRACK", "1")

PROJECT = Path(__file__).resolve().parents[1]
OUTPUT = PROJECT / "benchmarks" / "output"
UC = "german_credit"
MONTHS = ("2025-01", "2025-02")
STEPS = ("production_batch", "production_features", "predictions", "monthly_drift")
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def _environment(home: Path, project: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MODELOPS_", "DAGSTER_"))},
        "MODELOPS_PROJECT_DIR": str(project),
        "MODELOPS_HOME": str(home),
        "MODELOPS_SPECS_DIR": str(home / "specs"),
        "DAGSTER_HOME": str(home / "dagster"),
    }


def setup_child(workdir: Path, project: Path, history_rows: int, rows: int) -> None:
    """A sandbox with a champion and two scored months; prints its home."""
    from modelops.demo import demo_home, run_demo
    from modelops.settings import Settings

    settings = Settings.from_env(
        {"MODELOPS_PROJECT_DIR": str(project), "MODELOPS_HOME": str(workdir)}
    )
    run_demo(
        settings,
        months=len(MONTHS),
        rows=rows,
        scenario="new_segment",
        scenario_start=len(MONTHS),  # after the months played: no drift in them
        label_delay=12,  # no outcomes, so no realised performance or retraining
        history_rows=history_rows,
        say=lambda line: print(line, file=sys.stderr),
    )
    print(json.dumps({"home": str(demo_home(settings))}))


def score_child() -> None:
    """In this fresh process: score the first month, then the second; print the timings."""
    import dagster as dg

    from modelops.definitions import build_definitions
    from modelops.settings import Settings

    settings = Settings.from_env()
    instance = dg.DagsterInstance.get()  # DAGSTER_HOME is the sandbox's instance
    job = build_definitions(settings).resolve_job_def(f"{UC}_monthly_scoring")
    ready = time.perf_counter()
    months = []
    for month in MONTHS:
        started = time.perf_counter()
        result = job.execute_in_process(
            instance=instance, partition_key=f"{month}-01", run_config=QUIET
        )
        assert result.success
        wall = time.perf_counter() - started
        starts: dict[str, float] = {}
        steps: dict[str, float] = {}
        for entry in instance.all_logs(result.run_id):
            event = entry.dagster_event
            if event is None or event.step_key is None:
                continue
            name = event.step_key.split("__", 1)[-1]
            if event.event_type_value == "STEP_START":
                starts[name] = entry.timestamp
            elif event.event_type_value == "STEP_SUCCESS":
                steps[name] = entry.timestamp - starts[name]
        months.append({"month": month, "run_s": wall, "steps": steps})
    print(
        json.dumps(
            {
                "definitions_loaded_s": ready - PROCESS_START,
                "first_month_done_s": ready - PROCESS_START + months[0]["run_s"],
                "months": months,
            }
        )
    )


def _run(args: list[str], env: dict[str, str]) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, env=env, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(project: Path, history_rows: int, rows: int, repeat: int) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="bench-scoring-"))
    try:
        started = time.perf_counter()
        setup = ["--setup-child", str(workdir), "--project", str(project)]
        sizes = ["--history-rows", str(history_rows), "--rows", str(rows)]
        env = {**os.environ, "DAGSTER_HOME": str(workdir / "dagster")}
        home = Path(_run([*setup, *sizes], env)["home"])
        setup_s = time.perf_counter() - started
        runs = [_run(["--score-child"], _environment(home, project)) for _ in range(repeat)]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    def median(values: list[float]) -> float:
        return statistics.median(values)

    summary = {
        "history_rows": history_rows,
        "rows": rows,
        "setup_s": setup_s,
        "definitions_loaded_s": median([r["definitions_loaded_s"] for r in runs]),
        "first_month_done_s": median([r["first_month_done_s"] for r in runs]),
        "months": [
            {
                "month": month,
                "run_s": median([r["months"][i]["run_s"] for r in runs]),
                "steps": {
                    step: median([r["months"][i]["steps"].get(step, 0.0) for r in runs])
                    for step in STEPS
                },
            }
            for i, month in enumerate(MONTHS)
        ],
        "runs": runs,
    }
    return summary


def report(label: str, result: dict) -> None:
    print(
        f"\n== {label}: champion trained on {result['history_rows']:,} past applications; "
        f"months of {result['rows']:,} applications (median of {len(result['runs'])} fresh "
        f"processes; setup {result['setup_s']:.0f} s) =="
    )
    print(f"definitions loaded {result['definitions_loaded_s']:.2f} s after the process started")
    print(f"{'step':<22}" + "".join(f"{m['month'] + ' s':>12}" for m in result["months"]))
    for step in STEPS:
        print(f"{step:<22}" + "".join(f"{m['steps'][step]:>12.2f}" for m in result["months"]))
    print(f"{'run':<22}" + "".join(f"{m['run_s']:>12.2f}" for m in result["months"]))
    print(f"first month scored {result['first_month_done_s']:.2f} s after the process started")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history-rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--rows", type=int, default=100_000, help="applications per month")
    parser.add_argument("--repeat", type=int, default=3, help="fresh scoring processes")
    parser.add_argument("--project", type=Path, default=PROJECT, help="the checkout to measure")
    parser.add_argument("--label", default="this checkout")
    parser.add_argument("--out", type=Path, default=OUTPUT / "monthly_scoring.json")
    parser.add_argument("--setup-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--score-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.setup_child:
        setup_child(args.setup_child, args.project.resolve(), args.history_rows[0], args.rows)
        return 0
    if args.score_child:
        score_child()
        return 0

    import modelops

    print(f"modelops imported from {Path(modelops.__file__).parent}; project {args.project}")
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    results = []
    for history_rows in args.history_rows:
        result = measure(args.project.resolve(), history_rows, args.rows, args.repeat)
        report(args.label, result)
        results.append(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"label": args.label, "results": results}, indent=2) + "\n")
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
