"""A production month classified before it is scored: a data incident (something broke
upstream) or not. Population drift (valid values moving gradually) is not an incident; it is
what the drift step measures.

The rules (thresholds in `monitoring.incidents`, severities in `spec.incidents.SEVERITY`):

- scale_change: a numeric input's median moved by `scale_factor` or more, up or down, against
  the training median (a unit change: thousands delivered instead of units). Skipped where the
  training median is 0 (the range rule still applies) or the month has under `MIN_VALUES`.
- out_of_range: more than `out_of_range_share` of an input's values lie outside the training
  range, below its minimum or above its maximum.
- category_swap: a training category holding at least `category_share` of the rows vanishes
  while values never seen in training (valid, or quarantined as not allowed) reach that share:
  a rename upstream.
- all_null, quarantine (more rows quarantined than the schema allows), duplicate_ids.
"""

from __future__ import annotations

import polars as pl

from modelops.formatting import cell, table
from modelops.ml.data_profile import DataProfile
from modelops.ml.incident_record import Incident, MonthIncidents
from modelops.ml.training import MISSING_CATEGORY
from modelops.spec import UseCaseSpec
from modelops.spec.incidents import SEVERITY, IncidentKind

MIN_VALUES = 30
"""Fewer values in a month say nothing about its median or range."""


def classify_month(
    profile: DataProfile | None,
    features: pl.DataFrame,
    spec: UseCaseSpec,
    *,
    month: str,
    rows: int,
    quarantine_failures: pl.DataFrame,
    all_null: list[str],
    duplicate_ids: int,
) -> MonthIncidents:
    """The month's incidents and what the spec makes of them. `features`: the valid rows;
    `rows`: every row of the batch; `quarantine_failures`: validation's failures table
    (`column`, `check`, `rows`, `example`). Without a `profile` (no champion) only the rules
    that need none apply."""
    assert spec.monitoring is not None
    rules = spec.monitoring.incidents
    found: list[Incident] = []

    def add(
        kind: IncidentKind, evidence: str, column: str | None = None, share: float | None = None
    ):
        found.append(Incident(kind=kind, severity=SEVERITY[kind], column=column,
                              evidence=evidence, share=share))  # fmt: skip

    if profile is not None:
        for name, numbers in profile.numeric.items():
            if name in all_null or name not in features.columns:
                continue
            values = features.get_column(name).cast(pl.Float64).fill_nan(None).drop_nulls()
            if values.len() < MIN_VALUES:
                continue
            median = float(values.median())  # type: ignore[arg-type]
            trained = numbers.median
            if trained and median and (median / trained > 0):
                factor = median / trained
                if factor >= rules.scale_factor or factor <= 1 / rules.scale_factor:
                    add("scale_change", f"{name}: median {median:,.4g} against {trained:,.4g} "
                        f"in training (a factor of {factor:,.3g})", name)  # fmt: skip
            if numbers.minimum is not None and numbers.maximum is not None:
                below = float((values < numbers.minimum).mean())  # type: ignore[arg-type]
                above = float((values > numbers.maximum).mean())  # type: ignore[arg-type]
                if below + above > rules.out_of_range_share:
                    side = "below the training minimum" if below >= above else "above the maximum"
                    add("out_of_range", f"{name}: {below + above:.1%} of values outside the "
                        f"training range [{numbers.minimum:,.4g}, {numbers.maximum:,.4g}], "
                        f"mostly {side}", name, below + above)  # fmt: skip
        found += _category_swaps(profile, features, quarantine_failures, rows, rules.category_share)
    for name in all_null:
        add("all_null", f"{name}: every value of the month is missing", name, 1.0)
    limit = spec.data_schema.max_quarantine_share
    if rows and rows - features.height > limit * rows:
        share = (rows - features.height) / rows
        add("quarantine", f"{share:.1%} of the month's rows were quarantined "
            f"(limit {limit:.0%})", None, share)  # fmt: skip
    if rows and duplicate_ids / rows > rules.duplicate_share:
        add("duplicate_ids", f"{duplicate_ids} row(s) repeat an application id already seen",
            spec.monitoring.id_column, duplicate_ids / rows)  # fmt: skip
    worst = "critical" if any(i.severity == "critical" for i in found) else "warning"
    action = getattr(rules.actions, worst) if found else "score"
    return MonthIncidents(month=month, rows=rows, incidents=tuple(found), action=action)


def _category_swaps(
    profile: DataProfile,
    features: pl.DataFrame,
    failures: pl.DataFrame,
    rows: int,
    minimum: float,
) -> list[Incident]:
    """Training categories that vanished while unseen values appeared, per input."""
    refused = (
        failures.filter(pl.col("check").str.starts_with("isin"))
        if failures.height
        else pl.DataFrame(schema={"column": pl.String, "rows": pl.Int64, "example": pl.String})
    )
    found = []
    for name, categories in profile.categorical.items():
        if name not in features.columns or not rows:
            continue
        counts = dict(
            features.get_column(name).cast(pl.String).fill_null(MISSING_CATEGORY)
            .value_counts().iter_rows()
        )  # fmt: skip
        vanished = [
            c for c, share in categories.shares.items()
            if c != MISSING_CATEGORY and share >= minimum and not counts.get(c)
        ]  # fmt: skip
        unseen = {c: n for c, n in counts.items() if c not in categories.shares}
        for _, count, example in (
            refused.filter(pl.col("column") == name).select("column", "rows", "example").iter_rows()
        ):
            unseen[str(example)] = unseen.get(str(example), 0) + int(count)
        new = {c: n for c, n in unseen.items() if n / rows >= minimum}
        if vanished and new:
            share = sum(new.values()) / rows
            found.append(
                Incident(
                    kind="category_swap",
                    severity=SEVERITY["category_swap"],
                    column=name,
                    evidence=f"{name}: {', '.join(map(repr, vanished))} vanished while "
                    f"{', '.join(map(repr, new))} appeared ({share:.1%} of rows)",
                    share=share,
                )
            )
    return found


def incident_lines(record: MonthIncidents) -> list[str]:
    """Markdown for the UI and the alert: the headline and one row per incident."""
    lines = [f"**{cell(record.headline())}**"]
    if record.incidents:
        rows = [
            [i.kind, i.severity, i.column or "", "" if i.share is None else f"{i.share:.1%}",
             i.evidence]
            for i in record.incidents
        ]  # fmt: skip
        lines += ["", *table(["incident", "severity", "column", "share", "evidence"], rows)]
        lines += ["", f"Action (monitoring.incidents.actions): **{record.action}**. An incident "
                  "month never joins training data or drift references unless a person "
                  "releases it for that (`modelops incident release --teach`)."]  # fmt: skip
    return lines
