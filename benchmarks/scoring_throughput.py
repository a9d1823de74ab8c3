"""What reason codes, outlier scores and validation cost at scoring time: raw `predict_proba`
vs the full production path, on synthetic applications.

    uv run python benchmarks/scoring_throughput.py --rows 1000000

The model is fitted on the real German credit training split; the batch is `--rows` synthetic
applications with the real file's headers (`modelops.simulation.synthetic`, calibrated on
data/german_credit.csv), without the outcome column, as production receives them.

- raw: `pipeline.predict_proba(model_input_frame(features))` on an already built feature table
  (what scoring cost before monitoring);
- full: `validate_batch` + `build_features` + `score_batch` (score, decision, reason codes,
  outlier score and flag, version and timestamp) from the raw batch, with the pipeline, reason
  codes and outlier model of a serving bundle built at training and loaded back (verified), as
  monthly scoring has them.

Both run in this process, alternating, `--repeat` times after a warm-up; the fastest run of
each is compared (target of the monitoring issue: full ≥ 0.9 × raw throughput). A per-stage
breakdown of one `score_batch` follows, and `score_batch` with scikit-learn's own encoder
(`fast_transform=False`) shows what reasons and outliers cost on top of the same encoding.
Results go to benchmarks/output/scoring_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from modelops.ml import training
from modelops.ml.features import build_features
from modelops.ml.scoring import compiled_preprocess, score_batch
from modelops.ml.serving_bundle import OUTLIERS, PIPELINE, REASONS, ServingBundle
from modelops.ml.split import split_train_holdout
from modelops.ml.training import fit_model, model_input_frame
from modelops.ml.validation import validate_batch
from modelops.simulation.synthetic import SyntheticApplications
from modelops.spec import ModelSpec, load_spec

PROJECT = Path(__file__).resolve().parents[1]
OUTPUT = PROJECT / "benchmarks" / "output"
SPEC = PROJECT / "assets" / "german_credit.yaml"
DATA = PROJECT / "data" / "german_credit.csv"
TARGET_RATIO = 0.9

# The spec's scorecard, and the gradient-boosting alternative its YAML documents.
FAMILIES = {
    "scorecard": None,
    "native": ModelSpec(
        estimator="sklearn.ensemble.HistGradientBoostingClassifier",
        params={"max_iter": 200, "learning_rate": 0.05, "max_leaf_nodes": 15, "random_state": 0},
        preprocessing="native",
    ),
}


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def breakdown(features: pl.DataFrame, pipeline, reasons, outliers, spec, top_k: int) -> dict:
    """Seconds per stage of one `score_batch`, re-enacted stage by stage on the same slices."""
    stages = dict.fromkeys(
        [
            "check + verify",
            "encode (compiled)",
            "predict_proba",
            "contributions",
            "top reasons",
            "outlier score",
            "encode (scikit-learn, for comparison)",
        ],
        0.0,
    )
    start = time.perf_counter()
    reasons.check(pipeline, spec)
    compiled = compiled_preprocess(pipeline, spec, features, reasons.probe)
    stages["check + verify"] = time.perf_counter() - start
    assert compiled is not None, "the compiled encoder should cover the families benchmarked"
    model = pipeline[-1]
    for part in features.iter_slices(training.SCORING_BATCH_ROWS):
        seconds, matrix = timed(lambda part=part: compiled.transform(part))
        stages["encode (compiled)"] += seconds
        seconds, _ = timed(lambda part=part: pipeline[0].transform(model_input_frame(part, spec)))
        stages["encode (scikit-learn, for comparison)"] += seconds
        seconds, _ = timed(lambda matrix=matrix: model.predict_proba(matrix))
        stages["predict_proba"] += seconds
        seconds, contributions = timed(lambda matrix=matrix: reasons.contributions(matrix))
        stages["contributions"] += seconds
        seconds, _ = timed(
            lambda contributions=contributions: reasons.top_reasons(contributions, top_k)
        )
        stages["top reasons"] += seconds
        seconds, _ = timed(lambda part=part: outliers.score(part))
        stages["outlier score"] += seconds
    return stages


def run_family(family: str, rows: int, repeat: int, top_k: int, seed: int) -> dict:
    spec = load_spec(SPEC)
    real = pl.read_csv(DATA, infer_schema=False)
    train, holdout = split_train_holdout(
        build_features(validate_batch(real, spec).valid, spec), spec
    )
    fitted = fit_model(train, spec, FAMILIES[family])
    # Scored with the objects as a scoring process has them: the serving bundle written at
    # training, read back and verified.
    files = ServingBundle.build(
        spec,
        model_version="1",
        pipeline=fitted,
        training=train,
        holdout=holdout,
        model_sha256="benchmark",
    ).to_files()
    load_seconds, bundle = timed(
        lambda: ServingBundle.from_files(
            files.__getitem__, expected_sha256=ServingBundle.digest_of(files)
        )
    )
    pipeline, reasons, outliers = bundle.pipeline, bundle.reasons, bundle.outliers

    generator = SyntheticApplications.fit(pl.read_csv(DATA, infer_schema_length=10_000), spec)
    target = spec.data_schema.column(spec.target.column).header
    raw = generator.sample(rows, seed=seed).drop(target)
    features = build_features(
        validate_batch(raw, spec, labelled=False).valid, spec, with_label=False
    )
    stamp = datetime.now(UTC)

    def raw_path() -> None:
        pipeline.predict_proba(model_input_frame(features, spec))

    def full_path(batch: pl.DataFrame, fast: bool = True) -> dict[str, float]:
        seconds = {}
        start = time.perf_counter()
        outcome = validate_batch(batch, spec, labelled=False)
        seconds["validate_batch"] = time.perf_counter() - start
        start = time.perf_counter()
        built = build_features(outcome.valid, spec, with_label=False)
        seconds["build_features"] = time.perf_counter() - start
        start = time.perf_counter()
        out = score_batch(
            built,
            pipeline=pipeline,
            reasons=reasons,
            outliers=outliers,
            spec=spec,
            model_version="1",
            threshold=spec.evaluation.operating_threshold,
            top_k=top_k,
            scored_at=stamp,
            fast_transform=fast,
        )
        seconds["score_batch"] = time.perf_counter() - start
        assert out.height == built.height
        seconds["total"] = sum(seconds.values())
        return seconds

    # Warm-up: imports, pandera's schema, thread pools.
    small = raw.head(20_000)
    full_path(small)
    pipeline.predict_proba(model_input_frame(features.head(20_000), spec))

    raw_runs, full_runs, sklearn_runs = [], [], []
    for _ in range(repeat):
        raw_runs.append(timed(raw_path)[0])
        full_runs.append(full_path(raw))
        sklearn_runs.append(full_path(raw, fast=False)["score_batch"])
    best_raw = min(raw_runs)
    best_full = min(full_runs, key=lambda r: r["total"])
    stages = breakdown(features, pipeline, reasons, outliers, spec, top_k)
    return {
        "family": family,
        "rows": rows,
        "valid_rows": features.height,
        "reason_method": reasons.method,
        "reason_fidelity": {"r2": reasons.fidelity.r2, "spearman": reasons.fidelity.spearman},
        "bundle_bytes": {name: len(content) for name, content in files.items()},
        "load_seconds": load_seconds,
        "raw_seconds": raw_runs,
        "full_seconds": [r["total"] for r in full_runs],
        "raw_rows_per_s": rows / best_raw,
        "full_rows_per_s": rows / best_full["total"],
        "ratio": best_raw / best_full["total"],
        "meets_target": best_raw / best_full["total"] >= TARGET_RATIO,
        "full_stages_best_run": best_full,
        "score_batch_rows_per_s": rows / best_full["score_batch"],
        "score_batch_sklearn_encoder_seconds": sklearn_runs,
        "score_batch_sklearn_encoder_ratio": best_raw / min(sklearn_runs),
        "score_batch_stages": stages,
    }


def report(result: dict) -> None:
    print(f"\n== {result['family']}: {result['rows']:,} rows ==")
    fidelity = result["reason_fidelity"]
    print(
        f"reason codes: {result['reason_method']} "
        f"(fidelity on training: R² {fidelity['r2']:.3f}, Spearman {fidelity['spearman']:.3f})"
    )
    sizes = result["bundle_bytes"]
    print(
        f"serving bundle: {sum(sizes.values()):,} B (pipeline {sizes[PIPELINE]:,} B, reason codes "
        f"{sizes[REASONS]:,} B, outlier model {sizes[OUTLIERS]:,} B), loaded and verified in "
        f"{result['load_seconds'] * 1000:.0f} ms"
    )
    print(f"raw predict_proba:  {result['raw_rows_per_s']:>12,.0f} rows/s")
    print(f"full path:          {result['full_rows_per_s']:>12,.0f} rows/s")
    verdict = "meets" if result["meets_target"] else "MISSES"
    print(f"ratio full / raw:   {result['ratio']:>12.2f}×  ({verdict} the {TARGET_RATIO}× target)")
    print(
        "score_batch with scikit-learn's encoder instead: "
        f"{result['score_batch_sklearn_encoder_ratio']:.2f}× raw (score_batch alone)"
    )
    print("full path, best run (s):")
    for stage, seconds in result["full_stages_best_run"].items():
        print(f"  {stage:<40} {seconds:7.3f}")
    print("score_batch stages (s):")
    for stage, seconds in result["score_batch_stages"].items():
        print(f"  {stage:<40} {seconds:7.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--family", nargs="+", choices=sorted(FAMILIES), default=list(FAMILIES))
    parser.add_argument("--out", type=Path, default=OUTPUT / "scoring_throughput.json")
    parser.add_argument(
        "--threads",
        type=int,
        help="limit OpenMP/BLAS threads (boosting's predict_proba spins badly on a busy machine)",
    )
    args = parser.parse_args(argv)
    if args.threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)

    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    results = []
    for family in args.family:
        result = run_family(family, args.rows, args.repeat, args.top_k, args.seed)
        report(result)
        results.append(result)
    out = args.out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    machine = {
        "cpus": os.cpu_count(),
        "threads_limit": args.threads,
        "load_average_at_end": os.getloadavg(),
        "python": platform.python_version(),
    }
    payload = {"when": datetime.now(UTC).isoformat(), "machine": machine, "results": results}
    out.write_text(json.dumps(payload, indent=2, default=float))
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
