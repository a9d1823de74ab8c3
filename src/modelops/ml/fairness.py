"""Group fairness of a candidate's decisions on the holdout, in one grouped pass (fairlearn is the
reference the tests hold it to).

Credit convention: the positive class (label 1) is the bad outcome, and a row is *selected*
when the model predicts it positive at the operating threshold (score >= threshold), i.e. the
application is flagged or declined. So a group's selection rate is its decline rate, its TPR
the share of its actual bads that are caught and its FPR the share of its actual goods that
are declined by mistake.

For every protected attribute the report gives each group's rates and two gaps between groups:
the demographic parity difference (largest gap in selection rate) and the equalized odds
difference (the larger of the largest TPR gap and the largest FPR gap). Groups with fewer rows
than `min_group_size` are reported but left out of both gaps: their rates are noise and would
make the gate fail (or pass) by chance. Null group values form their own "(missing)" group, so
rows without the attribute are visible instead of silently dropped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import JsonValue

from modelops.formatting import cell, finite, number, table
from modelops.ml.evaluation import category_labels


@dataclass(frozen=True)
class GroupRates:
    """One group of one attribute at the operating threshold."""

    attribute: str
    group: str
    n: int
    positives: int
    """Actual positives (bads) in the group."""
    selection_rate: float
    tpr: float | None
    """None when the group holds no actual positive (the rate is undefined, not 0)."""
    fpr: float | None
    """None when the group holds no actual negative."""
    gated: bool
    """n >= min_group_size: the group takes part in the differences."""


@dataclass(frozen=True)
class AttributeFairness:
    """Every group of one attribute and the gaps between its gated groups."""

    attribute: str
    groups: tuple[GroupRates, ...]
    demographic_parity_difference: float | None
    """Over gated groups only; None when fewer than two groups are gated."""
    equalized_odds_difference: float | None
    """Over gated groups holding both outcomes; None when fewer than two do."""
    note: str | None

    def to_markdown(self, heading: str = "###") -> str:
        rows = [
            [
                g.group,
                g.n,
                g.positives,
                number(g.selection_rate),
                number(g.tpr),
                number(g.fpr),
                "yes" if g.gated else "no",
            ]
            for g in self.groups
        ]
        header = ["Group", "Rows", "Actual bads", "Selection rate", "TPR", "FPR", "Gated"]
        lines = [
            f"{heading} {cell(self.attribute)}",
            "",
            *table(header, rows),
            "",
            f"Demographic parity difference: {number(self.demographic_parity_difference)}  ",
            f"Equalized odds difference: {number(self.equalized_odds_difference)}",
        ]
        if self.note:
            lines += ["", f"Note: {cell(self.note)}"]
        return "\n".join(lines)


@dataclass(frozen=True)
class FairnessReport:
    """Fairness of the candidate's decisions for every compared attribute."""

    threshold: float
    min_group_size: int
    attributes: tuple[AttributeFairness, ...]
    min_outcome_count: int = 1
    """Equalized odds compares groups with at least this many actual bads and goods: a TPR
    measured on two bads is noise."""

    def attribute(self, name: str) -> AttributeFairness | None:
        return next((a for a in self.attributes if a.attribute == name), None)

    def to_dict(self) -> dict[str, JsonValue]:
        """JSON-serialisable: plain Python numbers, undefined values as None."""
        return {
            "threshold": finite(self.threshold),
            "min_group_size": int(self.min_group_size),
            "min_outcome_count": int(self.min_outcome_count),
            "attributes": [
                {
                    "attribute": a.attribute,
                    "groups": [
                        {
                            "attribute": g.attribute,
                            "group": g.group,
                            "n": int(g.n),
                            "positives": int(g.positives),
                            "selection_rate": finite(g.selection_rate),
                            "tpr": finite(g.tpr),
                            "fpr": finite(g.fpr),
                            "gated": bool(g.gated),
                        }
                        for g in a.groups
                    ],
                    "demographic_parity_difference": finite(a.demographic_parity_difference),
                    "equalized_odds_difference": finite(a.equalized_odds_difference),
                    "note": a.note,
                }
                for a in self.attributes
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FairnessReport:
        """The report stored by `to_dict` (e.g. beside the model), read back unchanged."""
        return cls(
            threshold=float(data["threshold"]),
            min_group_size=int(data["min_group_size"]),
            min_outcome_count=int(data.get("min_outcome_count", 1)),
            attributes=tuple(
                AttributeFairness(
                    attribute=a["attribute"],
                    groups=tuple(GroupRates(**g) for g in a["groups"]),
                    demographic_parity_difference=a["demographic_parity_difference"],
                    equalized_odds_difference=a["equalized_odds_difference"],
                    note=a["note"],
                )
                for a in data["attributes"]
            ),
        )

    def to_markdown(self) -> str:
        lines = [
            f"## Fairness at threshold {self.threshold:g}",
            "",
            f"Selected = predicted bad (score >= {self.threshold:g}): flagged or declined. "
            f"Groups with fewer than {self.min_group_size} rows are reported but not gated.",
        ]
        if not self.attributes:
            lines += ["", "No attribute compared."]
        for attribute in self.attributes:
            lines += ["", attribute.to_markdown("###")]
        return "\n".join(lines) + "\n"


def fairness_report(
    labels: np.ndarray,
    scores: np.ndarray,
    groups: Mapping[str, np.ndarray],
    *,
    threshold: float,
    min_group_size: int,
    min_outcome_count: int = 1,
) -> FairnessReport:
    """Per-group rates and between-group gaps of the decisions `scores >= threshold`.

    `groups` maps each attribute to one value per row; attributes keep the mapping's order.
    """
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"labels must be a 1-D array, got shape {y.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0/1 (1 = the bad outcome)")
    y = y.astype(int)
    p = np.asarray(scores, dtype=float)
    if p.shape != y.shape:
        raise ValueError(f"scores must hold one value per label, shape {y.shape}; got {p.shape}")
    if not math.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold}")
    if min_group_size < 1:
        raise ValueError(f"min_group_size must be at least 1, got {min_group_size}")
    for attribute, values in groups.items():
        if np.shape(values) != y.shape:
            raise ValueError(
                f"group '{attribute}' must hold one value per label, shape {y.shape}; "
                f"got {np.shape(values)}"
            )
    if min_outcome_count < 1:
        raise ValueError(f"min_outcome_count must be at least 1, got {min_outcome_count}")
    selected = (p >= threshold).astype(int)
    return FairnessReport(
        threshold=float(threshold),
        min_group_size=int(min_group_size),
        min_outcome_count=int(min_outcome_count),
        attributes=tuple(
            _attribute_fairness(
                attribute,
                y,
                selected,
                category_labels(values),
                min_group_size,
                min_outcome_count,
            )
            for attribute, values in groups.items()
        ),
    )


def _attribute_fairness(
    attribute: str,
    y: np.ndarray,
    selected: np.ndarray,
    labels: np.ndarray,
    min_size: int,
    min_outcomes: int,
) -> AttributeFairness:
    rates = group_rates(attribute, y, selected, labels, min_size)
    notes: list[str] = []
    small = [r.group for r in rates if not r.gated]
    if small:
        notes.append(
            f"{len(small)} group{'s' if len(small) > 1 else ''} below {min_size} rows "
            f"reported, not gated: {', '.join(small)}"
        )
    gated = [r for r in rates if r.gated]
    dpd = eod = None
    if len(gated) < 2:
        notes.append("fewer than two groups large enough to compare")
    else:
        # fairlearn's between-groups differences, read off the grouped rates above: DPD =
        # largest gap in selection rate; EOD = the larger of the largest TPR gap and the
        # largest FPR gap. tests/unit/ml/test_fairness.py checks both against fairlearn's own
        # functions.
        dpd = _spread([r.selection_rate for r in gated])
        # Equalized odds compares TPR and FPR, so it needs groups holding enough of both
        # outcomes for those rates to mean something.
        both = [
            r for r in gated if r.positives >= min_outcomes and r.n - r.positives >= min_outcomes
        ]
        left_out = [r.group for r in gated if r not in both]
        if left_out:
            notes.append(
                f"equalized odds leaves out groups with fewer than {min_outcomes} actual bads "
                "or goods: " + ", ".join(left_out)
            )
        if len(both) >= 2:
            eod = max(
                _spread([float(r.tpr) for r in both if r.tpr is not None]),
                _spread([float(r.fpr) for r in both if r.fpr is not None]),
            )
        else:
            notes.append("fewer than two gated groups hold both outcomes: no equalized odds")
    return AttributeFairness(
        attribute=attribute,
        groups=tuple(rates),
        demographic_parity_difference=dpd,
        equalized_odds_difference=eod,
        note="; ".join(notes) or None,
    )


def group_rates(
    attribute: str, y: np.ndarray, selected: np.ndarray, labels: np.ndarray, min_size: int
) -> list[GroupRates]:
    """Selection rate, TPR and FPR per group in one grouped pass (bincount over the group
    codes): the figures of fairlearn's MetricFrame, which stays the reference
    (tests/unit/ml/test_fairness.py compares them to 1e-9), at a fraction of its cost at bank
    scale (benchmarks/fairness_speed.py). An undefined rate (no actual bad, or no actual good,
    in the group) is None, not fairlearn's 0, which would read as a perfect or terrible rate."""
    names, codes = np.unique(labels, return_inverse=True)
    size = len(names)
    n = np.bincount(codes, minlength=size)
    positives = np.bincount(codes, weights=y, minlength=size)
    chosen = np.bincount(codes, weights=selected, minlength=size)
    true_pos = np.bincount(codes, weights=selected * y, minlength=size)
    false_pos = chosen - true_pos
    negatives = n - positives
    return [
        GroupRates(
            attribute=attribute,
            group=str(names[i]),
            n=int(n[i]),
            positives=int(positives[i]),
            selection_rate=float(chosen[i] / n[i]),
            tpr=float(true_pos[i] / positives[i]) if positives[i] > 0 else None,
            fpr=float(false_pos[i] / negatives[i]) if negatives[i] > 0 else None,
            gated=int(n[i]) >= min_size,
        )
        for i in range(size)
    ]


def _spread(values: Sequence[float]) -> float:
    return float(max(values) - min(values))
