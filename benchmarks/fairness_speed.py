"""The release's fairness figures: the grouped pass (`ml.fairness.group_rates`) against
fairlearn's MetricFrame, side by side in one process, at 1M rows by default.

    uv run python benchmarks/fairness_speed.py --rows 1000000 5000000

Data: `rows` holdout-like rows, 30% bads, decisions more likely for bads, and three
protected attributes like german_credit's (2, 4 and 5 groups, one small). Both sides compute
selection rate, TPR and FPR per group for every attribute; the best of `--repeat` is kept,
after a warm-up. Printed: each side's time, the speed-up, and the largest difference between
their figures (it must be ~1e-15: fairlearn stays the reference).
"""

from __future__ import annotations

import argparse
import json
import time
from functools import partial
from pathlib import Path

import numpy as np

from modelops.ml.fairness import group_rates
from modelops.progress import Progress

OUTPUT = Path(__file__).resolve().parent / "output" / "fairness_speed.json"
ATTRIBUTES = {
    "foreign_worker": (["yes", "no"], [0.96, 0.04]),
    "personal_status_and_sex": (
        ["m single", "f div/sep/mar", "m mar/wid", "m div/sep"],
        [0.55, 0.31, 0.09, 0.05],
    ),
    "age_band": (
        ["under_25", "25_39", "40_59", "60_plus", "(missing)"],
        [0.15, 0.5, 0.27, 0.07, 0.01],
    ),
}


def data(rows: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    y = (rng.random(rows) < 0.3).astype(int)
    selected = (rng.random(rows) < 0.2 + 0.4 * y).astype(int)
    groups = {a: rng.choice(np.array(v), rows, p=p) for a, (v, p) in ATTRIBUTES.items()}
    return y, selected, groups


def with_fairlearn(y, selected, groups) -> dict[tuple[str, str], tuple[float, float, float]]:
    from fairlearn.metrics import (
        MetricFrame,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )

    out = {}
    for attribute, labels in groups.items():
        frame = MetricFrame(
            metrics={
                "selection_rate": partial(selection_rate, pos_label=1),
                "tpr": partial(true_positive_rate, pos_label=1),
                "fpr": partial(false_positive_rate, pos_label=1),
            },
            y_true=y,
            y_pred=selected,
            sensitive_features=labels,
        ).by_group
        for group, row in frame.iterrows():
            out[(attribute, str(group))] = (row["selection_rate"], row["tpr"], row["fpr"])
    return out


def with_grouped_pass(y, selected, groups) -> dict[tuple[str, str], tuple[float, float, float]]:
    out = {}
    for attribute, labels in groups.items():
        for r in group_rates(attribute, y, selected, labels, min_size=30):
            out[(attribute, r.group)] = (r.selection_rate, r.tpr or 0.0, r.fpr or 0.0)
    return out


def best_of(repeat: int, run, *args) -> tuple[float, dict]:
    times, result = [], {}
    for _ in range(repeat):
        started = time.perf_counter()
        result = run(*args)
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warm = data(20_000)
    with_fairlearn(*warm), with_grouped_pass(*warm)
    results = []
    progress = Progress(len(args.rows))
    for rows in args.rows:
        with progress.step(f"{rows:,} rows: fairlearn, then the grouped pass"):
            sample = data(rows)
            reference_s, reference = best_of(args.repeat, with_fairlearn, *sample)
            fast_s, fast = best_of(args.repeat, with_grouped_pass, *sample)
        difference = max(
            abs(a - b) for key in reference for a, b in zip(reference[key], fast[key], strict=True)
        )
        results.append(
            {"rows": rows, "fairlearn_s": reference_s, "grouped_s": fast_s,
             "speedup": reference_s / fast_s, "max_difference": difference}
        )  # fmt: skip
        print(
            f"{rows:>10,} rows  fairlearn {reference_s:7.3f} s  grouped pass {fast_s:7.3f} s  "
            f"speed-up {reference_s / fast_s:6.1f}x  largest difference {difference:.1e}"
        )
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
