"""What the serving bundle costs at training: seconds to build and store it, bytes on disk, and
seconds to load and verify it, on synthetic applications of several sizes.

    uv run python benchmarks/serving_bundle.py --rows 100000 1000000

The data are the synthetic German credit applications `pipeline_overhead.py` uses (the same
files in benchmarks/output/), validated, featured and split as the pipeline does; the spec's
model is fitted once (its time is shown for scale). Then, best of `--repeat`:

- build: `ServingBundle.build` (reason codes, outlier model, drift reference, reference sample,
  holdout scores), and each of those parts on its own;
- store: `to_files` (the pipeline's skops dump, every part's bytes and their digests);
- load: `from_files` (every file checked against the digest, then deserialised), which is what
  a scoring process does instead of refitting.

Results: benchmarks/output/serving_bundle.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline_overhead import OUTPUT, SPEC, synthetic_source


def best(repeat: int, fn: Callable[[], object]) -> tuple[float, object]:
    """The fastest of `repeat` calls, and the last call's result."""
    seconds, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - start)
    return min(seconds), result


def measure(rows: int, repeat: int) -> dict:
    import polars as pl

    from modelops.ml.drift import DriftReference, sample_rows
    from modelops.ml.features import build_features
    from modelops.ml.scoring import OutlierModel, ReasonCodes
    from modelops.ml.serving_bundle import ServingBundle
    from modelops.ml.split import split_train_holdout
    from modelops.ml.training import fit_model, predict_scores
    from modelops.ml.validation import validate_batch
    from modelops.spec import load_spec

    spec = load_spec(SPEC)
    data, _ = synthetic_source(rows)
    features = build_features(validate_batch(pl.read_parquet(data), spec).valid, spec)
    train, holdout = split_train_holdout(features, spec)
    numeric, categorical = spec.numeric_features, spec.categorical_features

    start = time.perf_counter()
    pipeline = fit_model(train, spec)
    fit_seconds = time.perf_counter() - start

    parts = {
        "reason codes": lambda: ReasonCodes.fit(pipeline, train, spec),
        "outlier model": lambda: OutlierModel.fit(train, spec),
        "drift reference": lambda: DriftReference.fit(
            train, numeric=numeric, categorical=categorical
        ),
        "reference sample": lambda: sample_rows(
            train.select(spec.model_inputs), spec.drift.max_rows, spec.split.seed
        ),
        "holdout scores": lambda: predict_scores(pipeline, holdout, spec),
    }
    part_seconds = {name: best(repeat, fn)[0] for name, fn in parts.items()}

    def build() -> ServingBundle:
        return ServingBundle.build(
            spec,
            model_version="1",
            pipeline=pipeline,
            training=train,
            holdout=holdout,
            model_sha256="benchmark",
        )

    build_seconds, bundle = best(repeat, build)
    store_seconds, files = best(repeat, bundle.to_files)
    digest = ServingBundle.digest_of(files)
    load_seconds, _ = best(
        repeat, lambda: ServingBundle.from_files(files.__getitem__, expected_sha256=digest)
    )
    return {
        "rows": rows,
        "training_rows": train.height,
        "holdout_rows": holdout.height,
        "model_fit_s": fit_seconds,
        "build_s": build_seconds,
        "build_parts_s": part_seconds,
        "to_files_s": store_seconds,
        "from_files_s": load_seconds,
        "bytes": {name: len(content) for name, content in files.items()},
        "total_bytes": sum(len(content) for content in files.values()),
    }


def report(result: dict) -> None:
    print(
        f"\n== {result['rows']:,} rows ({result['training_rows']:,} training, "
        f"{result['holdout_rows']:,} holdout); the model's own fit "
        f"{result['model_fit_s']:.2f} s =="
    )
    print(f"{'build':<26}{result['build_s']:7.2f} s")
    for name, seconds in result["build_parts_s"].items():
        print(f"  {name:<24}{seconds:7.2f} s")
    print(f"{'to_files':<26}{result['to_files_s']:7.2f} s")
    print(f"{'from_files':<26}{result['from_files_s']:7.2f} s (load and verify)")
    print(f"{'bytes':<26}{result['total_bytes']:>12,}")
    for name, size in result["bytes"].items():
        print(f"  {name:<24}{size:>12,}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUTPUT / "serving_bundle.json")
    args = parser.parse_args(argv)

    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    measure(2_000, 1)  # imports and first calls
    results = []
    for rows in args.rows:
        result = measure(rows, args.repeat)
        report(result)
        results.append(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
