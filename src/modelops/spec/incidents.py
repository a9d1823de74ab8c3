"""How production months are told apart: a data incident (something broke upstream) versus
population drift (valid values moving), what happens to a month with an incident, and when a
model's performance is judged to decay before and after its labels arrive.

Spec keys under `monitoring`: `incidents`, `performance`. Each rule is explained in
docs/monitoring.md.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from modelops.spec.base import SpecModel

IncidentAction = Literal["score", "refer", "hold"]
"""`score`: the month is scored as usual (the incident is alerted and the month still never
teaches); `refer`: every application of the month is answered `refer` (a person decides);
`hold`: nothing is answered until a person releases the month (`modelops incident release`),
which is recorded in the audit log."""

IncidentSeverity = Literal["warning", "critical"]

DuplicateHandling = Literal["quarantine", "first"]
"""`quarantine`: every row of a duplicated id is quarantined with the reason (nobody is
answered twice, or answered from a guess which row is right); `first`: the first row of the
id is answered, later ones are quarantined as duplicates."""


class IncidentActions(SpecModel):
    """What happens to a month, per the worst severity of its incidents."""

    warning: IncidentAction = "score"
    critical: IncidentAction = "refer"


class Incidents(SpecModel):
    """The rules that classify a month as a data incident, judged against the profile of the
    champion's training data (not only the spec's hand-written limits)."""

    scale_factor: Annotated[float, Field(gt=1)] = 5.0
    """A numeric input whose median moved by this factor or more, up or down (a unit change,
    thousands delivered instead of units), is an incident (critical)."""
    out_of_range_share: Annotated[float, Field(gt=0, le=1)] = 0.2
    """A numeric input with more than this share of its values outside the training range
    (below the training minimum or above the maximum) is an incident (critical)."""
    category_share: Annotated[float, Field(gt=0, lt=1)] = 0.02
    """A training category at least this frequent that vanishes while a category never seen
    in training appears at least this often (a rename upstream) is an incident (critical)."""
    duplicate_share: Annotated[float, Field(ge=0, lt=1)] = 0.0
    """A month with more than this share of rows carrying an id already seen (in the batch or
    within `duplicate_window_months`) is an incident (warning). Duplicates are handled per
    `duplicates` either way."""
    duplicates: DuplicateHandling = "first"
    duplicate_window_months: Annotated[int, Field(ge=0, le=24)] = 3
    """Earlier months whose ids count as already seen (0: within the batch only)."""
    actions: IncidentActions = IncidentActions()


class PerformanceAlerts(SpecModel):
    """Decay judged against the release, with the model's own estimate before labels arrive
    and realised figures after."""

    relative_auc_drop: Annotated[float, Field(gt=0, lt=1)] = 0.05
    """Alert when a month's estimated or realised AUC is this far (absolute AUC points) below
    the AUC the version was released with."""
    calibration_level: Annotated[float, Field(gt=0.5, lt=1)] = 0.95
    """Alert when the observed bad rate falls outside the predicted bad rate's interval at
    this level (calibration drift)."""
    estimate_draws: Annotated[int, Field(ge=50, le=5000)] = 400
    """Draws of the outcomes the estimate simulates from the model's probabilities."""


IncidentKind = Literal[
    "scale_change", "out_of_range", "category_swap", "all_null", "duplicate_ids", "quarantine"
]
SEVERITY: dict[str, IncidentSeverity] = {
    "scale_change": "critical",
    "out_of_range": "critical",
    "category_swap": "critical",
    "all_null": "critical",
    "quarantine": "critical",
    "duplicate_ids": "warning",
}
"""Each kind of incident's severity: critical kinds make the month's data untrustworthy."""
