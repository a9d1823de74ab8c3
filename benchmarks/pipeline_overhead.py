"""What Dagster costs: the German credit pipeline as Dagster assets vs the same computations
in a bare script, at several sizes, in one process.

    uv run python benchmarks/pipeline_overhead.py --rows 100000 1000000

The data are synthetic applications with the German credit schema, calibrated on the real
data (`modelops.simulation.synthetic`), written once to benchmarks/output/. The bare script
calls the same `modelops.ml` and `modelops.governance` functions in sequence and writes the
same final outputs (quarantine; MLflow run and model version; the serving bundle, model record
and gate plan beside the version; evaluation, drift, fairness and gate reports; the audit
records of training, gates and release; the challenger alias; the card) but hands tables from
step to step in memory.
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
"""Steps as Dagster names them; the bare script builds the serving bundle in its
`trained_model` step (timed apart as a part) and does fairness, gates and the challenger alias
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
    parts: dict[str, float] = field(default_factory=dict)
    """Seconds of named parts inside a step (the bare side only: e.g. the serving bundle)."""
    start_rss: int = 0
    peak_rss: int = 0

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.time()
        yield
        self.steps[name] = (start, time.time())

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.parts[name] = time.perf_counter() - start


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
            "MODELOPS_SOURCE_ROOTS": str(data.parent),  # the generated data's folder
        }
    )


def run_bare(settings, profile: RunProfile) -> None:
    """The pipeline as one would script it without an orchestrator: the same `modelops.ml`
    and `modelops.governance` calls as the assets, the same stored outputs and audit records,
    tables handed over in memory."""
    from datetime import UTC, datetime

    import polars as pl

    from modelops.formatting import json_document
    from modelops.governance.card_publisher import CardInputs, publish_model_card
    from modelops.governance.gate_review import GateReview, record_gate_review
    from modelops.governance.model_record import ModelRecord, write_model_record
    from modelops.governance.release_desk import ReleaseDesk
    from modelops.ml.drift import build_drift_report, score_psi
    from modelops.ml.evaluation import (
        build_evaluation_report,
        calibration_plot_png,
        evaluation_markdown,
        roc_plot_png,
    )
    from modelops.ml.fairness import fairness_report
    from modelops.ml.features import build_features
    from modelops.ml.metrics import binary_metrics
    from modelops.ml.release_gates import (
        check_feature_availability,
        evaluate_release_gates,
        gate_plan,
        gates_markdown,
    )
    from modelops.ml.serving_bundle import ServingBundle
    from modelops.ml.split import split_train_holdout
    from modelops.ml.training import (
        fit_baseline,
        fit_model,
        input_example,
        labels,
        predict_scores,
    )
    from modelops.ml.validation import validate_batch
    from modelops.names import GATE_PLAN_FILE, MODEL, SERVING_BUNDLE_PREFIX
    from modelops.resources.environment import resources_for
    from modelops.resources.tracking import DatasetRef
    from modelops.spec import load_specs
    from modelops.spec.risk import load_risk_policy

    spec = load_specs(settings.specs_dir)[0]
    resources = resources_for(settings)
    source, store, tracking, audit_log = (
        resources.source,
        resources.store,
        resources.tracking,
        resources.audit_log,
    )
    uc, actor = spec.id, "bare-script"
    policy = load_risk_policy()
    assessment = policy.assess(spec.risk, spec.data_schema.protected_attributes)

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
        # What `governance.training_record.train_and_register` does, on the tables in memory.
        pipeline = fit_model(train, spec)
        fit = binary_metrics(labels(train), predict_scores(pipeline, train, spec))
        plan = gate_plan(spec, assessment, policy.for_tier(assessment.tier))
        registered = tracking.record_training(
            use_case=uc,
            registered_name=spec.registered_model_name,
            model=pipeline,
            input_example=input_example(train, spec),
            params={"estimator": spec.model.estimator, **spec.model.params},
            metrics={f"train_{k}": v for k, v in fit.as_dict().items()},
            tags={"modelops.use_case": uc, "modelops.gate_plan_sha256": plan.fingerprint()},
            datasets=[
                (DatasetRef(f"{uc}/training_set", "memory", "bare", "training"), train.head(1000))
            ],
            run_name="bare",
        )
        version = registered.version
        with profile.part("serving_bundle"):
            bundle = ServingBundle.build(
                spec,
                model_version=version,
                pipeline=pipeline,
                training=train,
                holdout=holdout,
                model_sha256=registered.artifact_sha256,
            )
            bundle_files = bundle.to_files()
            for filename, content in bundle_files.items():
                store.write_bytes(uc, MODEL, version, f"{SERVING_BUNDLE_PREFIX}{filename}", content)
        record = ModelRecord(
            registered_name=registered.name,
            version=version,
            run_id=registered.run_id,
            experiment_id=registered.experiment_id,
            model_uri=registered.model_uri,
            training_set_version="bare",
            holdout_set_version="bare",
            trained_at=datetime.now(UTC),
            training_rows=train.height,
            training_positive_rate=fit.positives / fit.n,
            estimator=spec.model.estimator,
            code_version="bare",
            git_commit="bare",
            lock_sha256="bare",
            trained_by=actor,
            artifact_sha256=registered.artifact_sha256,
            risk_tier=assessment.tier,
            serving_bundle_sha256=ServingBundle.digest_of(bundle_files),
            spec=spec.model_dump(mode="json", by_alias=True),
        )
        plan_bytes = json_document(plan.to_dict())
        store.write_bytes(uc, MODEL, version, GATE_PLAN_FILE, plan_bytes)
        write_model_record(store, uc, record)
        tracking.log_files(registered.run_id, {GATE_PLAN_FILE: plan_bytes}, folder="governance")
        for event, details in (
            (
                "training",
                {
                    "artifact_sha256": record.artifact_sha256,
                    "serving_bundle_sha256": record.serving_bundle_sha256,
                    "risk_tier": record.risk_tier,
                },
            ),
            ("gate_thresholds", {"plan": plan.to_dict(), "plan_fingerprint": plan.fingerprint()}),
        ):
            audit_log.append(
                record.audit_event(event, actor=actor, use_case=uc, reason="bare", details=details)
            )
        store.publish(uc, MODEL, version)
    with profile.step("evaluation_report"):
        baseline = fit_baseline(train, spec)
        report = build_evaluation_report(
            use_case=uc,
            model_version=version,
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
            thresholds={
                "min_auc": spec.evaluation.min_auc,
                "min_ks": spec.evaluation.min_ks,
                "max_brier": spec.evaluation.max_brier,
            },
        )
        evaluation_files = {
            "evaluation.json": json_document(report.to_dict()),
            "evaluation.md": evaluation_markdown(report).encode(),
            "roc.png": roc_plot_png(report),
            "calibration.png": calibration_plot_png(report),
        }
        for name, content in evaluation_files.items():
            store.write_bytes(uc, "evaluation_report", "bare", name, content)
        tracking.log_files(registered.run_id, evaluation_files, folder="evaluation")
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
        drift_files = {
            "drift.json": json_document(drift.to_dict()),
            "drift.md": drift.to_markdown().encode(),
            "drift.html": (drift.html or "").encode(),
        }
        for name, content in drift_files.items():
            store.write_bytes(uc, "drift_report", "bare", name, content)
    with profile.step("release_gates"):
        # What the fairness_report, release_gates and model_release assets do.
        holdout_scores = predict_scores(pipeline, holdout, spec)
        fairness = fairness_report(
            labels(holdout),
            holdout_scores,
            {a: holdout.get_column(a).cast(pl.String).to_numpy() for a in plan.fairness_attributes},
            threshold=spec.evaluation.operating_threshold,
            min_group_size=plan.min_group_size,
            min_outcome_count=plan.min_outcome_count,
        )
        fairness_files = {
            "fairness.json": json_document(fairness.to_dict()),
            "fairness.md": fairness.to_markdown().encode(),
        }
        for name, content in fairness_files.items():
            store.write_bytes(uc, "fairness_report", "bare", name, content)
        tracking.log_files(registered.run_id, fairness_files, folder="fairness")
        results = evaluate_release_gates(
            plan,
            evaluation=report,
            fairness=fairness,
            score_psi=score_psi(predict_scores(pipeline, train, spec), holdout_scores).psi,
            fitted_inputs=[str(c) for c in getattr(pipeline, "feature_names_in_", [])],
            availability=check_feature_availability(spec, raw.head(10_000), "source"),
        )
        review = GateReview(version, plan.tier, plan.fingerprint(), tuple(results))
        gates_files = {
            "gates.json": json_document(review.to_dict()),
            "gates.md": gates_markdown(review.results).encode(),
        }
        for name, content in gates_files.items():
            store.write_bytes(uc, "release_gates", "bare", name, content)
        tracking.log_files(registered.run_id, gates_files, folder="governance")
        record_gate_review(
            review, record, use_case=uc, actor=actor, tracking=tracking, audit_log=audit_log
        )
        desk = ReleaseDesk(spec, policy, tracking, audit_log)
        if review.passed:
            desk.release_candidate(version, actor)
    with profile.step("model_card"):
        publish_model_card(
            desk,
            store,
            tracking,
            version,
            CardInputs(
                model=record,
                evaluation=json.loads(evaluation_files["evaluation.json"]),
                drift=json.loads(drift_files["drift.json"]),
                fairness_markdown=fairness_files["fairness.md"].decode(),
            ),
        )


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
    from modelops.progress import Progress

    data, table_bytes = synthetic_source(rows)
    profiles: dict[str, list[RunProfile]] = {"bare": [], "dagster": []}
    progress = Progress(2 * repeat)
    for attempt in range(repeat):
        order = ["bare", "dagster"] if attempt % 2 == 0 else ["dagster", "bare"]
        for label in order:
            with progress.step(f"{rows:,} rows, attempt {attempt + 1}/{repeat}: {label} run"):
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
    for name, seconds in bare.parts.items():
        print(f"  of which {name} (bare): {seconds:.2f} s")
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
        "bare_parts_s": bare.parts,
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
