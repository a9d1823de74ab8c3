"""What Dagster costs: the German credit pipeline as Dagster assets vs the same computations
in a bare script, at several sizes, in one process.

    uv run python benchmarks/pipeline_overhead.py --rows 100000 1000000

The data are synthetic applications with the German credit schema, calibrated on the real
data (`modelops.simulation.synthetic`), written once to benchmarks/output/. The bare script
calls the same `modelops.ml` functions in sequence and writes the same final outputs (quarantine,
MLflow run and model version, reports, card) but hands tables from step to step in memory.
The Dagster run is what `modelops run` does: the main job in process on a SQLite instance
(created beforehand, as `make setup` does), every intermediate table versioned on disk.

Wall time: both sides run in this process, alternating, `--repeat` times each after a warm-up
that pays the imports; the fastest run of each side is compared. Memory: each side runs once
more in a fresh process (a process's allocator keeps freed memory, so runs in one process
would hide each other's peaks); the peak RSS above the post-import level is compared with the
raw table's in-memory size.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

os.environ.setdefault("DO_NOT_TRACK", "1")

PROJECT = Path(__file__).resolve().parents[1]
OUTPUT = PROJECT / "benchmarks" / "output"
SPEC = PROJECT / "assets" / "german_credit.yaml"
STEPS = (
    "raw_dataset",
    "validate",
    "features",
    "split",
    "trained_model",
    "evaluation_report",
    "drift_report",
    "fairness_report",
    "release_gates",
    "model_release",
    "model_card",
)
"""Steps as Dagster names them; the bare script does fairness, gates and the challenger alias
in its `release_gates` step."""


class RssSampler:
    """Samples this process's resident memory so peaks can be attributed to time windows."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> int:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * self._page

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), self.rss()))
            time.sleep(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self, start: float, end: float) -> int:
        inside = [rss for t, rss in self.samples if start <= t <= end]
        return max(inside, default=self.rss())


@dataclass
class RunProfile:
    label: str
    total: float = 0.0
    steps: dict[str, tuple[float, float]] = field(default_factory=dict)  # name -> (start, end)
    start_rss: int = 0
    peak_rss: int = 0

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.time()
        yield
        self.steps[name] = (start, time.time())


def _settings(workdir: Path, data: Path):
    from modelops.settings import Settings

    spec = yaml.safe_load(SPEC.read_text())
    spec["source"] = {"path": str(data), "format": "parquet"}
    specs = workdir / "specs"
    specs.mkdir(parents=True, exist_ok=True)
    (specs / "german_credit.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return Settings.from_env(
        {
            "MODELOPS_PROJECT_DIR": str(PROJECT),
            "MODELOPS_SPECS_DIR": str(specs),
            "MODELOPS_HOME": str(workdir / "home"),
        }
    )


def run_bare(settings, profile: RunProfile) -> None:
    """The pipeline as one would script it without an orchestrator."""
    import polars as pl

    from modelops.ml.drift import build_drift_report
    from modelops.ml.evaluation import (
        build_evaluation_report,
        calibration_plot_png,
        evaluation_markdown,
        roc_plot_png,
    )
    from modelops.ml.features import build_features
    from modelops.ml.metrics import binary_metrics
    from modelops.ml.model_card import ModelCardInputs, render_html, render_model_card
    from modelops.ml.split import split_train_holdout
    from modelops.ml.training import (
        fit_baseline,
        fit_model,
        input_example,
        labels,
        predict_scores,
    )
    from modelops.ml.validation import validate_batch
    from modelops.resources.environment import resources_for
    from modelops.resources.tracking import DatasetRef
    from modelops.spec import load_specs

    spec = load_specs(settings.specs_dir)[0]
    resources = resources_for(settings)
    source, store, tracking = resources["source"], resources["store"], resources["tracking"]
    uc = spec.id

    with profile.step("raw_dataset"):
        raw = source.read(spec.source)
    with profile.step("validate"):
        outcome = validate_batch(raw, spec)
        store.write_table(uc, "quarantined_rows", "bare", outcome.quarantined)
    with profile.step("features"):
        features = build_features(outcome.valid, spec)
    with profile.step("split"):
        train, holdout = split_train_holdout(features, spec)
    with profile.step("trained_model"):
        pipeline = fit_model(train, spec)
        fit = binary_metrics(labels(train), predict_scores(pipeline, train, spec))
        registered = tracking.record_training(
            use_case=uc,
            registered_name=spec.registered_model_name,
            model=pipeline,
            input_example=input_example(train, spec),
            params={"estimator": spec.model.estimator, **spec.model.params},
            metrics={f"train_{k}": v for k, v in fit.as_dict().items()},
            tags={"modelops.use_case": uc},
            datasets=[
                (DatasetRef(f"{uc}/training_set", "memory", "bare", "training"), train.head(1000))
            ],
            run_name="bare",
        )
    with profile.step("evaluation_report"):
        baseline = fit_baseline(train, spec)
        report = build_evaluation_report(
            use_case=uc,
            model_version=registered.version,
            labels=labels(holdout),
            candidate_scores=predict_scores(pipeline, holdout, spec),
            baseline_scores=predict_scores(baseline, holdout, spec),
            baseline_name="baseline",
            champion=None,
            segments={
                s: holdout.get_column(s).cast(pl.String).to_numpy()
                for s in spec.evaluation.segments
            },
            threshold=spec.evaluation.operating_threshold,
            calibration_bins=spec.evaluation.calibration_bins,
            thresholds={"min_auc": spec.evaluation.min_auc},
        )
        files = {
            "evaluation.json": json.dumps(report.to_dict()).encode(),
            "evaluation.md": evaluation_markdown(report).encode(),
            "roc.png": roc_plot_png(report),
            "calibration.png": calibration_plot_png(report),
        }
        for name, content in files.items():
            store.write_bytes(uc, "evaluation_report", "bare", name, content)
        tracking.log_files(registered.run_id, files, folder="evaluation")
        tracking.log_metrics(
            registered.run_id, {f"holdout_{k}": v for k, v in report.candidate.as_dict().items()}
        )
    with profile.step("drift_report"):
        drift = build_drift_report(
            train,
            holdout,
            numeric=spec.numeric_features,
            categorical=spec.categorical_features,
            drift_share=spec.drift.drift_share,
            stattest_threshold=spec.drift.stattest_threshold,
            max_rows=spec.drift.max_rows,
            seed=spec.split.seed,
        )
        store.write_bytes(uc, "drift_report", "bare", "drift.html", drift.html.encode())
    with profile.step("release_gates"):
        # What the fairness_report, release_gates and model_release assets compute.
        from modelops.ml.drift import score_psi
        from modelops.ml.fairness import fairness_report
        from modelops.ml.release_gates import (
            check_feature_availability,
            evaluate_release_gates,
            gate_plan,
        )
        from modelops.spec.risk import load_risk_policy

        policy = load_risk_policy()
        assessment = policy.assess(spec.risk, spec.data_schema.protected_attributes)
        plan = gate_plan(spec, assessment, policy.for_tier(assessment.tier))
        holdout_scores = predict_scores(pipeline, holdout, spec)
        fairness = fairness_report(
            labels(holdout),
            holdout_scores,
            {a: holdout.get_column(a).cast(pl.String).to_numpy() for a in plan.fairness_attributes},
            threshold=spec.evaluation.operating_threshold,
            min_group_size=plan.min_group_size,
            min_outcome_count=plan.min_outcome_count,
        )
        gates = evaluate_release_gates(
            plan,
            evaluation=report,
            fairness=fairness,
            score_psi=score_psi(predict_scores(pipeline, train, spec), holdout_scores).psi,
            fitted_inputs=list(getattr(pipeline, "feature_names_in_", [])),
            availability=check_feature_availability(spec, raw.head(10_000), "source"),
        )
        store.write_bytes(
            uc, "release_gates", "bare", "gates.json",
            json.dumps([g.to_dict() for g in gates]).encode(),
        )  # fmt: skip
        tracking.set_alias(registered.name, "challenger", registered.version)
    with profile.step("model_card"):
        card = render_model_card(
            ModelCardInputs(
                spec=spec,
                model_ref={
                    "version": registered.version,
                    "registered_name": registered.name,
                    "model_uri": registered.model_uri,
                    "estimator": spec.model.estimator,
                    "run_id": registered.run_id,
                },
                evaluation=report.to_dict(),
                drift=drift.to_dict(),
                training_rows=train.height,
                training_positive_rate=float(train.get_column("label").mean()),
            )
        )
        store.write_bytes(uc, "model_card", "bare", "model_card.html", render_html(card).encode())
        tracking.describe_version(registered.name, registered.version, card)


def run_dagster(settings, profile: RunProfile) -> None:
    """`modelops run`: the main job, in process, on the SQLite instance."""
    from modelops.definitions import build_definitions
    from modelops.instance import local_instance

    instance = local_instance(settings.dagster_home)
    job = build_definitions(settings).resolve_job_def("all_use_cases")
    result = job.execute_in_process(
        instance=instance,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    assert result.success
    starts: dict[str, float] = {}
    for entry in instance.all_logs(result.run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        name = event.step_key.split("__", 1)[-1]
        if event.event_type_value == "STEP_START":
            starts[name] = entry.timestamp
        elif event.event_type_value == "STEP_SUCCESS":
            profile.steps[name] = (starts[name], entry.timestamp)


def profile_run(label: str, runner, settings, sampler: RssSampler) -> RunProfile:
    gc.collect()
    profile = RunProfile(label, start_rss=sampler.rss())
    started = time.time()
    runner(settings, profile)
    ended = time.time()
    profile.total = ended - started
    profile.peak_rss = sampler.peak(started, ended)
    return profile


def synthetic_source(rows: int) -> tuple[Path, int]:
    """The benchmark's input file (generated once) and its table's size in memory."""
    import polars as pl

    from modelops.simulation.synthetic import write_synthetic_source
    from modelops.spec import load_spec

    OUTPUT.mkdir(parents=True, exist_ok=True)
    data = OUTPUT / f"credit_{rows}.parquet"
    if not data.exists():
        write_synthetic_source(
            PROJECT / "data" / "german_credit.csv", load_spec(SPEC), rows, data, seed=rows
        )
    return data, pl.read_parquet(data).estimated_size()


def run_once(label: str, data: Path, sampler: RssSampler) -> RunProfile:
    """One run of one side in a fresh platform home (instance created first, as `make setup`)."""
    from modelops.instance import local_instance

    runner = {"bare": run_bare, "dagster": run_dagster}[label]
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{label}-"))
    try:
        settings = _settings(workdir, data)
        local_instance(settings.dagster_home)
        return profile_run(label, runner, settings, sampler)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def time_both(rows: int, repeat: int, sampler: RssSampler) -> dict:
    """Alternate bare and Dagster runs in this process; the fastest of each is compared."""
    data, table_bytes = synthetic_source(rows)
    profiles: dict[str, list[RunProfile]] = {"bare": [], "dagster": []}
    for attempt in range(repeat):
        order = ["bare", "dagster"] if attempt % 2 == 0 else ["dagster", "bare"]
        for label in order:
            profiles[label].append(run_once(label, data, sampler))
    bare = min(profiles["bare"], key=lambda p: p.total)
    dagster = min(profiles["dagster"], key=lambda p: p.total)
    mb = 1024 * 1024
    print(f"\n== {rows:,} rows; raw table {table_bytes / mb:.0f} MB in memory ==")
    print(f"{'step':<20}{'bare s':>9}{'dagster s':>11}{'overhead s':>12}")
    steps = {}
    for name in STEPS:
        b, d = bare.steps.get(name), dagster.steps.get(name)
        steps[name] = {"bare_s": b[1] - b[0] if b else 0.0, "dagster_s": d[1] - d[0] if d else 0.0}
        row = steps[name]
        print(
            f"{name:<20}{row['bare_s']:>9.2f}{row['dagster_s']:>11.2f}"
            f"{row['dagster_s'] - row['bare_s']:>12.2f}"
        )
    outside = dagster.total - sum(r["dagster_s"] for r in steps.values())
    print(f"{'(outside steps)':<20}{'':>9}{outside:>11.2f}{outside:>12.2f}")
    ratio = dagster.total / bare.total
    # Each attempt runs the two sides back to back: the median of those paired ratios is
    # less sensitive to a slow stretch of the machine than the ratio of the two minimums.
    paired = statistics.median(
        d.total / b.total for b, d in zip(profiles["bare"], profiles["dagster"], strict=True)
    )
    print(
        f"{'total':<20}{bare.total:>9.2f}{dagster.total:>11.2f}{dagster.total - bare.total:>12.2f}"
    )
    print(
        f"Dagster / bare wall time: {ratio:.3f}x best vs best, {paired:.3f}x median of pairs "
        f"(target <= 1.05x at 1M rows); all runs: "
        f"bare {[round(p.total, 1) for p in profiles['bare']]}, "
        f"dagster {[round(p.total, 1) for p in profiles['dagster']]}"
    )
    return {
        "rows": rows,
        "table_mb": table_bytes / mb,
        "bare_s": bare.total,
        "dagster_s": dagster.total,
        "ratio": ratio,
        "median_paired_ratio": paired,
        "steps": steps,
        "all_bare_s": [p.total for p in profiles["bare"]],
        "all_dagster_s": [p.total for p in profiles["dagster"]],
    }


def memory_child(label: str, rows: int) -> None:
    """In a fresh process: warm up on a tiny batch, then report one run's peak memory."""
    with RssSampler() as sampler:
        run_once(label, synthetic_source(2_000)[0], sampler)
        data, table_bytes = synthetic_source(rows)
        profile = run_once(label, data, sampler)
    peaks = {
        name: (sampler.peak(*window) - profile.start_rss) / table_bytes
        for name, window in profile.steps.items()
    }
    print(
        json.dumps(
            {
                "label": label,
                "rows": rows,
                "table_bytes": table_bytes,
                "peak_x_table": (profile.peak_rss - profile.start_rss) / table_bytes,
                "steps_x_table": peaks,
            }
        )
    )


def measure_memory(rows: int) -> dict:
    """Peak RSS above the post-import level, each side in its own process (a process's
    allocator keeps freed memory, so same-process runs would hide each other's peaks)."""
    results = {}
    for label in ("bare", "dagster"):
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", label, "--rows", str(rows)],
            capture_output=True,
            text=True,
            check=True,
        )
        results[label] = json.loads(out.stdout.strip().splitlines()[-1])
    table_mb = results["bare"]["table_bytes"] / (1024 * 1024)
    print(
        f"Peak memory above the post-import level, MB (fresh process per side; "
        f"raw table {table_mb:.0f} MB):"
    )
    print(f"{'step':<20}{'bare':>9}{'dagster':>11}")
    for name in STEPS:
        bare, dagster = (results[s]["steps_x_table"].get(name) for s in ("bare", "dagster"))
        print(
            f"{name:<20}"
            + "".join(
                f"{x * table_mb:>{w}.0f}" if x is not None else f"{'-':>{w}}"
                for x, w in ((bare, 9), (dagster, 11))
            )
        )
    print(
        f"Run peak: bare {results['bare']['peak_x_table']:.2f}x, dagster "
        f"{results['dagster']['peak_x_table']:.2f}x the raw table (target <= 3x)"
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=5, help="runs per side")
    parser.add_argument("--memory-child", choices=["bare", "dagster"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.rows[0])
        return
    results = []
    with RssSampler() as sampler:
        # Pay every import once before measuring, so neither side is charged for it.
        run_once("bare", synthetic_source(2_000)[0], sampler)
        run_once("dagster", synthetic_source(2_000)[0], sampler)
        for rows in args.rows:
            result = time_both(rows, args.repeat, sampler)
            result["memory"] = measure_memory(rows)
            results.append(result)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "pipeline_overhead.json").write_text(json.dumps(results, indent=2))
    print(f"\nResults written to {OUTPUT / 'pipeline_overhead.json'}")


if __name__ == "__main__":
    main()
