"""What each step of the pipeline costs as data grows: one Dagster run per size, each in a
fresh process, printing wall time and peak memory per step (docs/scaling.md).

    uv run python benchmarks/step_costs.py --rows 1000000 10000000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline_overhead import OUTPUT, STEPS, RssSampler, run_once, synthetic_source


def measure(rows: int) -> dict:
    """In this process: warm up on a tiny batch, then one measured run."""
    with RssSampler() as sampler:
        run_once("dagster", synthetic_source(2_000)[0], sampler)
        data, table_bytes = synthetic_source(rows)
        profile = run_once("dagster", data, sampler)
    mb = 1024 * 1024
    steps = {
        name: {
            "seconds": end - start,
            "peak_mb": (sampler.peak(start, end) - profile.start_rss) / mb,
        }
        for name, (start, end) in profile.steps.items()
    }
    return {
        "rows": rows,
        "table_mb": table_bytes / mb,
        "total_s": profile.total,
        "peak_mb": (profile.peak_rss - profile.start_rss) / mb,
        "steps": steps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.rows[0])))
        return
    results = []
    for rows in args.rows:
        out = subprocess.run(
            [sys.executable, __file__, "--child", "--rows", str(rows)],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(result)
        print(
            f"\n== {rows:,} rows (raw table {result['table_mb']:.0f} MB in memory): "
            f"{result['total_s']:.1f} s, peak {result['peak_mb']:.0f} MB above start =="
        )
        print(f"{'step':<20}{'seconds':>9}{'peak MB':>10}")
        for name in STEPS:
            step = result["steps"].get(name)
            if step:
                print(f"{name:<20}{step['seconds']:>9.2f}{step['peak_mb']:>10.0f}")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "step_costs.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
