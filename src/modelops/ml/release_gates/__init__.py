"""The release gates a candidate model must pass before it may become champion.

The limits are fixed in a `GatePlan` when the model is trained, before anyone sees its
holdout results, and stored with the model. The gates are then evaluated against that recorded
plan, not against the current spec or policy: a limit cannot be loosened after the fact to let
a disappointing model through, and a validator can see exactly which bar the model was held to.

- `plan`: the limits, fixed at training (`GatePlan`, `gate_plan`);
- `availability`: what production really provides (`check_feature_availability`);
- `gates`: the gate rules, one function each (`slice_gate` and `fairness_gate` hold the two
  that judge slices and groups, with their minimum of bads and goods);
- `intervals`: the 95% confidence interval beside every gated figure, and the interval rule;
- `results`: every gate judged against the plan, and the verdicts' markdown.
"""

from modelops.ml.release_gates.availability import FeatureAvailability, check_feature_availability
from modelops.ml.release_gates.plan import GatePlan, gate_plan
from modelops.ml.release_gates.results import GateResult, evaluate_release_gates, gates_markdown

__all__ = [
    "FeatureAvailability",
    "GatePlan",
    "GateResult",
    "check_feature_availability",
    "evaluate_release_gates",
    "gate_plan",
    "gates_markdown",
]
