"""A low-default loan book for the onboarding tutorial, calibrated on the German credit data.

Real credit data rarely arrives ready to model: the outcome is a loan status with several
values, some numbers carry sentinel codes for "unknown", a yes/no flag comes as 0.0/1.0 and
there is free text. This writes such a file — the German credit applications re-sampled by
the project's calibrated generator at a bank-like bad rate, with those features added — so
the tutorial in docs/onboarding.md can show each of them declared in a spec instead of fixed
by a script. Deterministic for a seed; nothing is downloaded.

    uv run python -m modelops.simulation.loan_book --rows 20000 --out data/loan_book.csv
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import polars as pl

from modelops.simulation.synthetic import SyntheticApplications

PROJECT = Path(__file__).resolve().parents[3]
GERMAN_SPEC = PROJECT / "assets" / "german_credit.yaml"
GERMAN_DATA = PROJECT / "data" / "german_credit.csv"

BAD_STATUSES = ("Charged Off", "Default", "Late (31-120 days)")
GOOD_STATUSES = ("Fully Paid",)
INDETERMINATE = ("Current", "In Grace Period")
UNKNOWN_CREDITS = 99
"""The sentinel `existing_credits` carries when the bureau had no answer."""
TITLES = (
    "nurse",
    "teacher",
    "driver",
    "sales assistant",
    "engineer",
    "clerk",
    "owner",
    "software developer",
    "mechanic",
    "cook",
    "accountant",
    "Nurse",
    "TEACHER",
    "self employed",
)


def loan_book(rows: int, *, bad_rate: float = 0.014, seed: int = 7) -> pl.DataFrame:
    """`rows` applications with a multi-valued `loan_status`, sentinel codes, a 0.0/1.0 flag
    and a free-text employer title."""
    from modelops.spec import load_spec

    spec = load_spec(GERMAN_SPEC)
    types = {"int": pl.Int64, "float": pl.Float64}
    real = pl.read_csv(GERMAN_DATA, infer_schema=False).with_columns(
        pl.col(c.header).cast(types[c.type], strict=False)
        for c in spec.data_schema.columns
        if c.type in types
    )
    generator = SyntheticApplications.fit(real, spec)
    bad = int(np.flatnonzero(generator.classes.to_numpy() == "bad")[0])
    prior = np.full(len(generator.prior), (1 - bad_rate) / (len(generator.prior) - 1))
    prior[bad] = bad_rate
    book = dataclasses.replace(generator, prior=prior).sample(rows, seed=seed)
    rng = np.random.default_rng(seed)
    is_bad = book.get_column("creditability").to_numpy() == "bad"
    status = np.where(
        is_bad,
        rng.choice(BAD_STATUSES, size=rows, p=(0.6, 0.1, 0.3)),
        rng.choice((*GOOD_STATUSES, *INDETERMINATE), size=rows, p=(0.7, 0.27, 0.03)),
    )
    credits = book.get_column("number_of_existing_credits_at_this_bank").to_numpy()
    unknown = rng.random(rows) < 0.04
    telephone = book.get_column("telephone").to_numpy() != "none"
    return book.drop("creditability", "telephone").with_columns(
        pl.Series("loan_status", status),
        pl.Series(
            "number_of_existing_credits_at_this_bank", np.where(unknown, UNKNOWN_CREDITS, credits)
        ),
        pl.Series("has_telephone", np.where(telephone, "1.0", "0.0")),
        pl.Series("employer_title", rng.choice(TITLES, size=rows)),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--bad-rate", type=float, default=0.014)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=PROJECT / "data" / "loan_book.csv")
    args = parser.parse_args(argv)
    book = loan_book(args.rows, bad_rate=args.bad_rate, seed=args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    book.write_csv(args.out)
    counts = book.get_column("loan_status").value_counts(sort=True)
    print(f"wrote {book.height:,} applications to {args.out}")
    for status, n in counts.iter_rows():
        print(f"  {status}: {n:,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
