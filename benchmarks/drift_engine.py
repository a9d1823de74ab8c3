"""The fast drift engine against Evidently's DataDriftPreset, in one process, at 1M and 5M rows.

    uv run python benchmarks/drift_engine.py --rows 1000000 5000000
    uv run python benchmarks/drift_engine.py --rows 1000000 --skip-evidently-above 0   # quick

Data: synthetic applications with the German credit schema (`SyntheticApplications` fitted on
data/german_credit.csv with assets/german_credit.yaml): the 20 application attributes (7 numeric,
4 of which have at most 5 values, and 13 categorical) plus one continuous engineered feature
(`credit_amount_per_month`), 21 columns. Reference and current each have `rows` rows, drawn
with different seeds; the current batch then gets 5 drifted columns (amounts +25 %, ages +4
years, 30 % of purposes set to "business", installment rate 1 -> 4, amount per month with
the drifted amount). The dataset drift threshold is Evidently's default (half of the columns).

Timing: a warm-up on 20,000 rows pays imports and first-call costs for both sides; then the
engine runs `fit` + `compare` and `compare` alone with the cached reference (best of
`--repeat`), then Evidently runs `DataDriftPreset` once on pandas frames prepared beforehand
(conversion timed separately, as the drift report converts: float64 numbers, str labels).
Memory: this process's RSS is sampled every 5 ms; each side's peak above the RSS just before it
started is reported. The engine runs before Evidently, so Evidently's freed memory (which the
allocator keeps) cannot hide the engine's peak. Results: benchmarks/output/drift_engine.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

os.environ.setdefault("DO_NOT_TRACK", "1")

PROJECT = Path(__file__).resolve().parents[1]
OUTPUT = PROJECT / "benchmarks" / "output"
SPEC = PROJECT / "assets" / "german_credit.yaml"
WARMUP_ROWS = 20_000
TARGET = "creditability"


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


def make_frames(rows: int) -> tuple[pl.DataFrame, pl.DataFrame, list[str], list[str]]:
    """Reference and drifted current batch with the German credit schema."""
    from modelops.simulation.synthetic import SyntheticApplications
    from modelops.spec import load_spec

    spec = load_spec(SPEC)
    real = pl.read_csv(PROJECT / spec.source.path, infer_schema_length=10_000)
    generator = SyntheticApplications.fit(real, spec)

    def with_ratio(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.drop(TARGET).with_columns(
            (pl.col("credit_amount") / pl.col("duration_in_month")).alias("credit_amount_per_month")
        )

    reference = with_ratio(generator.sample(rows, seed=1))
    current = generator.sample(rows, seed=2)
    rng = np.random.default_rng(3)
    current = with_ratio(
        current.with_columns(
            (pl.col("credit_amount") * 1.25).round().cast(pl.Int64),
            pl.col("age_in_years") + 4,
            pl.when(pl.Series(rng.random(rows) < 0.3))
            .then(pl.lit("business"))
            .otherwise(pl.col("purpose"))
            .alias("purpose"),
            pl.col("installment_rate_in_percentage_of_disposable_income").replace(1, 4),
        )
    )
    numeric = [c for c, t in reference.schema.items() if t.is_numeric()]
    categorical = [c for c in reference.columns if c not in numeric]
    return reference, current, numeric, categorical


def run_engine(reference, current, numeric, categorical, repeat: int, sampler) -> dict[str, Any]:
    from modelops.ml.drift import DriftReference

    gc.collect()
    before = sampler.rss()
    start_wall = time.time()
    t0 = time.perf_counter()
    drift_reference = DriftReference.fit(reference, numeric=numeric, categorical=categorical)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = drift_reference.compare(current)
    first_compare_s = time.perf_counter() - t0
    compare_runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        again = drift_reference.compare(current)
        compare_runs.append(time.perf_counter() - t0)
    assert again.to_dict() == result.to_dict(), "compare is not deterministic"
    peak = sampler.peak(start_wall, time.time()) - before
    fit_compare = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        DriftReference.fit(reference, numeric=numeric, categorical=categorical).compare(current)
        fit_compare.append(time.perf_counter() - t0)
    return {
        "fit_s": fit_s,
        "compare_s": min([first_compare_s, *compare_runs]),
        "fit_plus_compare_s": min([fit_s + first_compare_s, *fit_compare]),
        "peak_extra_rss_mb": peak / 1e6,
        "reference_bytes": len(drift_reference.to_bytes()),
        "result": result,
    }


def run_evidently(reference, current, numeric, categorical, sampler) -> dict[str, Any]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    from modelops.ml.drift.evidently_report import evidently_frame

    gc.collect()
    before = sampler.rss()
    start_wall = time.time()
    t0 = time.perf_counter()
    ref_pd = evidently_frame(reference, numeric, categorical)
    cur_pd = evidently_frame(current, numeric, categorical)
    convert_s = time.perf_counter() - t0
    definition = DataDefinition(
        numerical_columns=numeric,
        categorical_columns=categorical,
        text_columns=[],
        datetime_columns=[],
        unknown_columns=[],
        list_columns=[],
    )
    t0 = time.perf_counter()
    # include_tests makes Evidently attach its own drifted / not drifted verdict to each column
    report = Report([DataDriftPreset(columns=[*numeric, *categorical])], include_tests=True)
    snapshot = report.run(
        current_data=Dataset.from_pandas(cur_pd, data_definition=definition),
        reference_data=Dataset.from_pandas(ref_pd, data_definition=definition),
    )
    run_s = time.perf_counter() - t0
    peak = sampler.peak(start_wall, time.time()) - before
    result = snapshot.dict()
    status = {t["metric_config"]["metric_id"]: t["status"] for t in result["tests"]}
    columns: dict[str, dict[str, Any]] = {}
    share = None
    for metric in result["metrics"]:
        config = metric["config"]
        if config.get("type") == "evidently:metric_v2:ValueDrift":
            columns[config["column"]] = {
                "method": config["method"],
                "score": float(metric["value"]),
                "threshold": float(config["threshold"]),
                "drifted": status[metric["id"]] == "FAIL",
            }
        elif config.get("type") == "evidently:metric_v2:DriftedColumnsCount":
            share = float(metric["value"]["share"])
    return {
        "convert_s": convert_s,
        "run_s": run_s,
        "peak_extra_rss_mb": peak / 1e6,
        "columns": columns,
        "drifted_share": share,
    }


def agreement(engine_result, evidently: dict[str, Any]) -> dict[str, Any]:
    """Column by column: same method, same verdict, and the score difference."""
    disagreements = []
    max_rel = 0.0
    for feature in engine_result.features:
        theirs = evidently["columns"][feature.column]
        rel = abs(feature.score - theirs["score"]) / max(abs(theirs["score"]), 1e-12)
        max_rel = max(max_rel, rel)
        if feature.method != theirs["method"] or feature.drifted != theirs["drifted"]:
            disagreements.append(
                {
                    "column": feature.column,
                    "engine": [feature.method, feature.score, feature.drifted],
                    "evidently": [theirs["method"], theirs["score"], theirs["drifted"]],
                }
            )
    return {
        "all_decisions_agree": not disagreements,
        "disagreements": disagreements,
        "max_relative_score_difference": max_rel,
        "drifted_share_agrees": evidently["drifted_share"] == engine_result.drifted_share,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument(
        "--skip-evidently-above",
        type=int,
        default=None,
        help="run Evidently only up to this many rows (quick runs)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="engine repetitions (best kept)")
    parser.add_argument("--out", type=Path, default=OUTPUT / "drift_engine.json")
    args = parser.parse_args(argv)

    out: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "polars": pl.__version__,
        "setup": "reference and current each have `rows` rows; 21 columns, 5 drifted",
        "runs": [],
    }
    with RssSampler() as sampler:
        print(f"warm-up on {WARMUP_ROWS:,} rows ...", flush=True)
        reference, current, numeric, categorical = make_frames(WARMUP_ROWS)
        run_engine(reference, current, numeric, categorical, 1, sampler)
        run_evidently(reference, current, numeric, categorical, sampler)

        for rows in args.rows:
            t0 = time.perf_counter()
            reference, current, numeric, categorical = make_frames(rows)
            print(
                f"\n== {rows:,} rows x {reference.width} columns "
                f"({len(numeric)} numeric, {len(categorical)} categorical; generated in "
                f"{time.perf_counter() - t0:.1f} s, {reference.estimated_size() / 1e6:,.0f} MB "
                "per frame)",
                flush=True,
            )
            engine = run_engine(reference, current, numeric, categorical, args.repeat, sampler)
            result = engine.pop("result")
            print(
                f"engine:    fit {engine['fit_s']:.2f} s, compare {engine['compare_s']:.2f} s, "
                f"fit + compare {engine['fit_plus_compare_s']:.2f} s, peak extra RSS "
                f"{engine['peak_extra_rss_mb']:,.0f} MB, reference "
                f"{engine['reference_bytes'] / 1e3:,.0f} kB serialised",
                flush=True,
            )
            print(f"engine drifted: {result.drifted_columns} (share {result.drifted_share:.3f})")
            record: dict[str, Any] = {"rows": rows, "columns": reference.width, "engine": engine}
            record["engine_result"] = result.to_dict()
            if args.skip_evidently_above is None or rows <= args.skip_evidently_above:
                evidently = run_evidently(reference, current, numeric, categorical, sampler)
                check = agreement(result, evidently)
                speedup_compare = evidently["run_s"] / engine["compare_s"]
                speedup_total = evidently["run_s"] / engine["fit_plus_compare_s"]
                print(
                    f"evidently: DataDriftPreset {evidently['run_s']:.1f} s (+ pandas conversion "
                    f"{evidently['convert_s']:.1f} s), peak extra RSS "
                    f"{evidently['peak_extra_rss_mb']:,.0f} MB"
                )
                print(
                    f"speed-up:  {speedup_total:.0f}x (fit + compare), {speedup_compare:.0f}x "
                    "(compare with cached reference)"
                )
                print(
                    f"decisions: {'all agree' if check['all_decisions_agree'] else 'DISAGREE'}; "
                    f"max relative score difference {check['max_relative_score_difference']:.1e}"
                )
                for d in check["disagreements"]:
                    print(f"  disagreement: {d}")
                evidently.pop("columns")
                record |= {
                    "evidently": evidently,
                    "speedup_fit_plus_compare": speedup_total,
                    "speedup_compare": speedup_compare,
                    "agreement": check,
                }
            out["runs"].append(record)
            del reference, current
            gc.collect()

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
