"""The limits a release is held to, fixed when the model is trained and stored with it.

Fixed before anyone sees the holdout results, so a limit cannot be loosened after the fact to
let a disappointing model through; the fingerprint proves later that the plan was not changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from pydantic import JsonValue

from modelops.ml.explanations.faithfulness import faithfulness_minimum
from modelops.spec import UseCaseSpec
from modelops.spec.risk import GATE_NAMES, RiskAssessment, TierPolicy

LATER_FIELDS = frozenset(
    {
        "min_slice_bads",
        "min_slice_goods",
        "fail_only_when_interval_excludes_limit",
        "reason_faithfulness_min",
    }
)
"""Fields a plan recorded before they existed does not hold (read as None: the old rule)."""


@dataclass(frozen=True)
class GatePlan:
    """Every limit a release is held to, recorded when the model is trained."""

    use_case: str
    tier: str
    rationale: tuple[str, ...]
    required_gates: tuple[str, ...]
    min_auc: float | None
    min_ks: float | None
    max_brier: float | None
    baseline_margin: float
    champion_tolerance: float
    max_demographic_parity_difference: float
    max_equalized_odds_difference: float
    min_group_size: int
    min_outcome_count: int
    min_slice_auc: float
    min_slice_rows: int
    max_score_psi: float
    fairness_attributes: tuple[str, ...]
    model_inputs: tuple[str, ...]
    protected_attributes: tuple[str, ...]
    allow_protected_features: bool
    # Added with issue 13; None in plans recorded before (their fingerprint must not change,
    # so `to_dict` leaves a None out and `from_dict` reads an absent key as None = the old rule).
    min_slice_bads: int | None = None
    min_slice_goods: int | None = None
    fail_only_when_interval_excludes_limit: bool | None = None
    reason_faithfulness_min: float | None = None
    """Share of holdout rows whose stated reasons must be their largest true contributions
    (None: not gated for this tier and spec)."""

    def __post_init__(self) -> None:
        unknown = [g for g in self.required_gates if g not in GATE_NAMES]
        if unknown:
            raise ValueError(f"unknown gate(s) {unknown}; gates are {', '.join(GATE_NAMES)}")

    def to_dict(self) -> dict[str, JsonValue]:
        return {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in asdict(self).items()
            if not (k in LATER_FIELDS and v is None)
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GatePlan:
        """The plan stored with a model; a missing or unknown key raises (a damaged plan)."""
        names = {f.name for f in fields(cls)}
        if not names - LATER_FIELDS <= set(data) <= names:
            raise ValueError(
                f"not a gate plan: missing {sorted(names - LATER_FIELDS - set(data))}, "
                f"unknown {sorted(set(data) - names)}"
            )
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    def fingerprint(self) -> str:
        """sha256 of the canonical JSON, to prove later that the plan was not changed."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def gate_plan(spec: UseCaseSpec, assessment: RiskAssessment, policy: TierPolicy) -> GatePlan:
    """The plan of a use case at its assessed tier: the spec's metric thresholds and inputs,
    the tier policy's gates and limits."""
    return GatePlan(
        use_case=spec.id,
        tier=assessment.tier,
        rationale=tuple(assessment.rationale),
        required_gates=tuple(policy.required_gates),
        min_auc=spec.evaluation.min_auc,
        min_ks=spec.evaluation.min_ks,
        max_brier=spec.evaluation.max_brier,
        baseline_margin=policy.baseline_margin,
        champion_tolerance=policy.champion_tolerance,
        max_demographic_parity_difference=policy.fairness.max_demographic_parity_difference,
        max_equalized_odds_difference=policy.fairness.max_equalized_odds_difference,
        min_group_size=policy.fairness.min_group_size,
        min_outcome_count=policy.fairness.min_outcome_count,
        min_slice_auc=policy.slice_floors.min_auc,
        min_slice_rows=policy.slice_floors.min_rows,
        max_score_psi=policy.max_score_psi,
        fairness_attributes=tuple(spec.fairness_attributes),
        model_inputs=tuple(spec.model_inputs),
        protected_attributes=tuple(spec.data_schema.protected_attributes),
        allow_protected_features=spec.model.allow_protected_features,
        min_slice_bads=policy.min_slice_bads,
        min_slice_goods=policy.min_slice_goods,
        fail_only_when_interval_excludes_limit=policy.fail_only_when_interval_excludes_limit,
        reason_faithfulness_min=faithfulness_minimum(spec, policy),
    )
