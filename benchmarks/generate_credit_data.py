"""Generate synthetic German-credit applications for benchmarks.

    uv run python benchmarks/generate_credit_data.py --rows 1000000 \
        --out benchmarks/output/credit_1m.parquet

Rows are fitted on the real source named by the spec and streamed to parquet (or CSV for any
other suffix) batch by batch, so 10M rows fit in the memory of one batch.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

from modelops.simulation.synthetic import write_synthetic_source
from modelops.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True, help="number of rows to generate")
    parser.add_argument("--out", type=Path, required=True, help=".parquet or .csv output path")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--spec", type=Path, default=ROOT / "assets" / "german_credit.yaml")
    parser.add_argument("--real", type=Path, help="real source (default: the spec's source.path)")
    args = parser.parse_args(argv)

    spec = load_spec(args.spec)
    real = args.real or ROOT / spec.source.path
    start = time.perf_counter()
    out = write_synthetic_source(real, spec, args.rows, args.out, seed=args.seed)
    elapsed = time.perf_counter() - start
    size_mb = out.stat().st_size / 1e6
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # KiB on Linux
    print(f"rows:      {args.rows:,}")
    print(f"wall time: {elapsed:.2f} s ({args.rows / max(elapsed, 1e-9):,.0f} rows/s)")
    print(f"file size: {size_mb:,.1f} MB ({out})")
    print(f"peak RSS:  {peak_mb:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
