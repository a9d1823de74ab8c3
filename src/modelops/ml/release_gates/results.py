"""Every gate judged against the recorded plan, and the verdicts as the release review reads
them.

Every gate is evaluated, whatever the tier; the plan's `required_gates` decide which failures
block the release. A failed gate that is not required is a warning.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import JsonValue

from modelops.formatting import finite, table
from modelops.ml.release_gates import gates
from modelops.ml.release_gates.gates import Figure, Verdict
from modelops.spec.risk import GATE_NAMES

if TYPE_CHECKING:
    from modelops.ml.evaluation import EvaluationReport
    from modelops.ml.explanations.faithfulness import FaithfulnessRecord
    from modelops.ml.fairness import FairnessReport
    from modelops.ml.release_gates.availability import FeatureAvailability
    from modelops.ml.release_gates.intervals import HoldoutIntervals
    from modelops.ml.release_gates.plan import GatePlan


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict, with the figures and limits a validator needs to check it."""

    name: str
    passed: bool
    required: bool
    summary: str
    measured: dict[str, Figure]
    limits: dict[str, Figure]
    details_markdown: str

    @property
    def blocking(self) -> bool:
        """A failed required gate blocks the release; a failed optional one only warns."""
        return self.required and not self.passed

    def to_dict(self) -> dict[str, JsonValue]:
        return {
            "name": self.name,
            "passed": self.passed,
            "required": self.required,
            "summary": self.summary,
            "measured": {k: _stored(v) for k, v in self.measured.items()},
            "limits": {k: _stored(v) for k, v in self.limits.items()},
            "details_markdown": self.details_markdown,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateResult:
        return cls(
            name=data["name"],
            passed=bool(data["passed"]),
            required=bool(data["required"]),
            summary=data["summary"],
            measured=dict(data["measured"]),
            limits=dict(data["limits"]),
            details_markdown=data["details_markdown"],
        )


def evaluate_release_gates(
    plan: GatePlan,
    *,
    evaluation: EvaluationReport,
    fairness: FairnessReport,
    score_psi: float | None,
    fitted_inputs: Sequence[str],
    availability: FeatureAvailability,
    intervals: HoldoutIntervals | None = None,
    faithfulness: FaithfulnessRecord | None = None,
) -> list[GateResult]:
    """Every gate against the recorded plan, one result per gate in `GATE_NAMES` order.

    `evaluation` is the candidate's report (`EvaluationReport.from_dict` reads a stored one);
    `fitted_inputs` are the feature names the fitted model actually consumes (after
    preprocessing), not the ones the spec declares. `intervals` (from the holdout's scores)
    put a 95% interval beside every gated figure; without them the figures stand alone.
    `faithfulness` is the evaluation's measure of the stated reasons (None: not measured).
    """
    from modelops.ml.release_gates.fairness_gate import fairness as fairness_gate
    from modelops.ml.release_gates.faithfulness_gate import reason_faithfulness
    from modelops.ml.release_gates.slice_gate import slice_floors

    ci = intervals
    rules: dict[str, Callable[[], Verdict]] = {
        "minimum_performance": lambda: gates.minimum_performance(plan, evaluation, ci),
        "beats_baseline": lambda: gates.beats_baseline(plan, evaluation, ci),
        "no_worse_than_champion": lambda: gates.no_worse_than_champion(plan, evaluation, ci),
        "fairness": lambda: fairness_gate(plan, fairness, ci is not None),
        "slice_floors": lambda: slice_floors(plan, evaluation, ci),
        "score_stability": lambda: gates.score_stability(
            plan, score_psi, ci.score_psi if ci else None
        ),
        "feature_availability": lambda: gates.feature_availability(availability),
        "protected_attributes_not_inputs": lambda: gates.protected_attributes_not_inputs(
            plan, fitted_inputs
        ),
        "reason_faithfulness": lambda: reason_faithfulness(plan, faithfulness),
    }
    missing = [name for name in GATE_NAMES if name not in rules]
    if missing:
        raise NotImplementedError(f"no rule for gate(s) {missing}")
    results = []
    for name in GATE_NAMES:
        verdict = rules[name]()
        results.append(
            GateResult(
                name=name,
                passed=verdict.passed,
                required=name in plan.required_gates,
                summary=verdict.summary,
                measured=verdict.measured,
                limits=verdict.limits,
                details_markdown=verdict.details,
            )
        )
    return results


def gates_markdown(results: Sequence[GateResult]) -> str:
    """One line per gate for the release review: whether it is required and its verdict."""
    rows = [
        [
            r.name,
            "yes" if r.required else "no",
            "PASS" if r.passed else ("FAIL" if r.required else "WARN"),
            r.summary,
        ]
        for r in results
    ]
    blocking = [r.name for r in results if r.blocking]
    verdict = (
        f"**Blocked** by {', '.join(blocking)}." if blocking else "**No blocking gate failed.**"
    )
    lines = [
        "## Release gates",
        "",
        verdict,
        "",
        *table(["Gate", "Required", "Result", "Summary"], rows),
    ]
    return "\n".join(lines) + "\n"


def _stored(value: Figure) -> Figure:
    """Plain JSON values: ints stay ints (counts), other numbers become floats or None."""
    if isinstance(value, str) or value is None:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    return finite(value)
