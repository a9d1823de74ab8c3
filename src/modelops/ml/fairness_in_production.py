"""Fairness after release: is each protected group's share of applicants moving, and do the
release's fairness limits still hold on the months whose outcomes are known?

Protected attributes are usually not model inputs, so input drift never sees them; yet the
fairness figures depend on who applies. Each month's group mix is compared with the version's
training data (PSI per attribute, the same band as input drift), and once a month's outcomes
arrive its decisions are measured per group (fairlearn, as at release) against the limits the
version was released with: same gaps, same minimum group size and outcome counts, so a small
group's noise never raises an alarm.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, JsonValue

from modelops.formatting import table
from modelops.ml.fairness import FairnessReport

_FLOOR = 1e-4
"""Share given to a group absent on one side, so PSI stays finite (the usual convention)."""


class GroupShare(BaseModel):
    model_config = ConfigDict(frozen=True)

    group: str
    training_share: float
    month_share: float


class AttributeMix(BaseModel):
    """One protected attribute's group shares in training and in the month."""

    model_config = ConfigDict(frozen=True)

    attribute: str
    groups: tuple[GroupShare, ...]
    psi: float
    shifted: bool


class FairnessBreach(BaseModel):
    model_config = ConfigDict(frozen=True)

    attribute: str
    measure: str
    value: float
    limit: float

    def text(self) -> str:
        return f"{self.attribute}: {self.measure} {self.value:.3f} above the limit {self.limit:g}"


class MonthFairness(BaseModel):
    """What `production_fairness` stores for a labelled month (`fairness.json`)."""

    model_config = ConfigDict(frozen=True)

    month: str
    model_version: str
    labelled_rows: int
    threshold: float
    max_parity_gap: float
    """The largest decline-rate gap the version was released with."""
    mix: tuple[AttributeMix, ...]
    breaches: tuple[FairnessBreach, ...]
    report: dict[str, JsonValue]
    """The month's `FairnessReport.to_dict()` (rates per group, gaps)."""

    def problems(self) -> list[str]:
        shifted = [
            f"{m.attribute}: group mix moved (PSI {m.psi:.2f})" for m in self.mix if m.shifted
        ]
        return [b.text() for b in self.breaches] + shifted

    def markdown(self) -> str:
        lines = [
            f"**{self.month}**, version {self.model_version}: {self.labelled_rows:,} labelled "
            f"applications, decisions at threshold {self.threshold:.3g}.",
            "",
            "**Verdict:** "
            + ("; ".join(self.problems()) if self.problems() else "within the release's limits"),
            "",
            "### Group mix against training",
            "",
        ]
        rows = [
            [
                m.attribute,
                g.group,
                f"{g.training_share:.1%}",
                f"{g.month_share:.1%}",
                f"{m.psi:.3f}",
            ]
            for m in self.mix
            for g in m.groups
        ]
        lines += table(["attribute", "group", "training", "month", "PSI"], rows, align="llrrr")
        lines += ["", FairnessReport.from_dict(self.report).to_markdown()]
        return "\n".join(lines)


def group_shares(values: Sequence[object]) -> dict[str, float]:
    """Each group's share of `values` (a missing value is the group "(missing)")."""
    labels = np.array(["(missing)" if v is None else str(v) for v in values], dtype=object)
    if labels.size == 0:
        return {}
    groups, counts = np.unique(labels, return_counts=True)
    return {str(g): float(c) / labels.size for g, c in zip(groups, counts, strict=True)}


def attribute_mix(
    attribute: str,
    training: Mapping[str, float],
    month: Mapping[str, float],
    *,
    psi_limit: float,
) -> AttributeMix:
    """The month's group shares against training's, with their PSI."""
    names = sorted(set(training) | set(month))
    expected = np.array([max(training.get(n, 0.0), _FLOOR) for n in names])
    actual = np.array([max(month.get(n, 0.0), _FLOOR) for n in names])
    psi = float(np.sum((actual - expected) * np.log(actual / expected)))
    groups = tuple(
        GroupShare(group=n, training_share=training.get(n, 0.0), month_share=month.get(n, 0.0))
        for n in names
    )
    return AttributeMix(attribute=attribute, groups=groups, psi=psi, shifted=psi >= psi_limit)


def fairness_breaches(
    report: FairnessReport, *, max_parity_gap: float, max_odds_gap: float
) -> list[FairnessBreach]:
    """The attributes whose gaps between gated groups exceed the release's limits (groups too
    small to be gated take no part in the gaps: `fairness_report`)."""
    found = []
    for a in report.attributes:
        for measure, value, limit in (
            ("demographic parity difference", a.demographic_parity_difference, max_parity_gap),
            ("equalized odds difference", a.equalized_odds_difference, max_odds_gap),
        ):
            if value is not None and value > limit:
                found.append(
                    FairnessBreach(attribute=a.attribute, measure=measure, value=value, limit=limit)
                )
    return found
