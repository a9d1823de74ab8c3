"""The risk exercise: a use case's questionnaire, the bank's tier policy, and the tier.

The questionnaire lives in each spec (`risk:`); the policy that turns answers into a tier and
a tier into required gates, fairness limits and approvals lives in one declarative file
(`risk_policy.yaml` beside this module, or the file named by MODELOPS_RISK_POLICY). Both are
validated when the code location loads, so a policy typo stops the platform instead of
silently weakening a gate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from modelops.spec.duration import Duration
from modelops.spec.policy_files import read_policy

Tier = Literal["low", "medium", "high"]
TIERS: tuple[Tier, ...] = ("low", "medium", "high")
"""Ordered from least to most demanding."""

GateName = Literal[
    "minimum_performance",
    "beats_baseline",
    "no_worse_than_champion",
    "fairness",
    "slice_floors",
    "score_stability",
    "feature_availability",
    "protected_attributes_not_inputs",
    "reason_faithfulness",
]
GATE_NAMES: tuple[str, ...] = GateName.__args__  # type: ignore[attr-defined]

DEFAULT_POLICY_FILE = Path(__file__).with_name("risk_policy.yaml")

UseCategory = Literal[
    "credit_scoring",
    "insurance_pricing",
    "employment",
    "fraud_detection",
    "anti_money_laundering",
    "marketing",
    "internal_operations",
    "other",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RiskQuestionnaire(_Strict):
    """The spec's `risk` section: answered by the model owner, reviewed by model risk."""

    business_impact: Literal["low", "medium", "high"]
    """Financial or customer harm if the model is wrong."""
    decision_role: Literal["advisory", "human_in_the_loop", "automated"]
    """How its output is used: information only, a person decides, or the model decides."""
    natural_persons: bool
    """Whether its outputs concern individual people (legal exposure: GDPR, EU AI Act)."""
    use_category: UseCategory
    vulnerable_groups: bool = False
    """Whether vulnerable customers (e.g. in financial difficulty) are among those concerned."""
    notes: str | None = None


FACTS: dict[str, tuple[object, ...]] = {
    "business_impact": ("low", "medium", "high"),
    "decision_role": ("advisory", "human_in_the_loop", "automated"),
    "natural_persons": (True, False),
    "use_category": UseCategory.__args__,  # type: ignore[attr-defined]
    "vulnerable_groups": (True, False),
    "protected_attributes_present": (True, False),
}
"""What a policy rule may test, with the values each fact can take."""


class TierRule(_Strict):
    """Raises the tier to at least `tier` when every condition in `when` holds."""

    tier: Tier
    when: Annotated[dict[str, list[str | bool]], Field(min_length=1)]
    reason: Annotated[str, Field(min_length=1)]

    @model_validator(mode="after")
    def _known_facts(self) -> TierRule:
        for fact, values in self.when.items():
            if fact not in FACTS:
                raise ValueError(f"unknown fact '{fact}'; rules can test: {', '.join(FACTS)}")
            wrong = [v for v in values if v not in FACTS[fact]]
            if wrong or not values:
                raise ValueError(
                    f"'{fact}' can be {', '.join(map(str, FACTS[fact]))}; got {values}"
                )
        return self

    def applies(self, facts: dict[str, object]) -> bool:
        return all(facts.get(fact) in values for fact, values in self.when.items())


class FairnessLimits(_Strict):
    """Largest gaps between groups of a protected attribute, at the operating threshold."""

    max_demographic_parity_difference: Annotated[float, Field(ge=0, le=1)]
    max_equalized_odds_difference: Annotated[float, Field(ge=0, le=1)]
    min_group_size: Annotated[int, Field(ge=1)] = 30
    """Groups with fewer holdout rows are reported but not gated: their rates are noise."""
    min_outcome_count: Annotated[int, Field(ge=1)] = 20
    """Equalized odds compares only groups with at least this many actual bads and goods."""


class SliceFloors(_Strict):
    min_auc: Annotated[float, Field(ge=0, le=1)]
    min_rows: Annotated[int, Field(ge=1)] = 50
    """Slices with fewer holdout rows are reported but not gated."""


class ApprovalRule(_Strict):
    required: bool
    roles: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")]] = Field(
        default_factory=list
    )
    approvals: Annotated[int, Field(ge=1, le=5)] = 1
    """Distinct approvers needed, none of them the model's developer."""

    @model_validator(mode="after")
    def _roles_when_required(self) -> ApprovalRule:
        if self.required and not self.roles:
            raise ValueError("a required approval must name the roles that may give it")
        return self


class TierPolicy(_Strict):
    """What a release needs at one tier."""

    required_gates: Annotated[list[GateName], Field(min_length=1)]
    baseline_margin: Annotated[float, Field(ge=0, le=1)] = 0.0
    """The candidate's holdout AUC must exceed the baseline's by at least this much."""
    champion_tolerance: Annotated[float, Field(ge=0, le=1)] = 0.02
    """The candidate's holdout AUC may be at most this much below the champion's."""
    fairness: FairnessLimits
    slice_floors: SliceFloors
    max_score_psi: Annotated[float, Field(gt=0)] = 0.25
    """PSI of the candidate's scores, training set against holdout (score stability)."""
    approval: ApprovalRule
    review_interval: Duration = timedelta(days=365)
    """How long a champion may serve before its periodic revalidation is due."""
    min_slice_bads: Annotated[int, Field(ge=1)] = 15
    """Outcome figures (a slice's AUC, a group's TPR/FPR gap) are gated only on slices and
    groups with at least this many actual bads: an AUC from a dozen bads is noise."""
    min_slice_goods: Annotated[int, Field(ge=1)] = 15
    """... and at least this many actual goods."""
    fail_only_when_interval_excludes_limit: bool = False
    """True: a gate fails only when the whole confidence interval of the figure is on the
    wrong side of its limit. False (today's rule): the point estimate decides."""
    exceptions_allowed: bool = False
    """Whether a blocking gate may be overridden by a recorded, time-limited exception."""
    exception_max_days: Annotated[int, Field(ge=1, le=365)] = 90
    exception_approver_role: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")] = (
        "head_of_model_risk"
    )
    """The second role that may grant an exception (never the model's developer)."""
    reason_faithfulness_min: Annotated[float, Field(ge=0, le=1)] | None = None
    """Share of holdout rows whose stated reasons must be their largest true contributions
    (`ml/explanations/faithfulness.py`); None: not gated unless the spec asks for it."""


class RiskPolicy(_Strict):
    rules: list[TierRule]
    tiers: dict[Tier, TierPolicy]

    @model_validator(mode="after")
    def _every_tier(self) -> RiskPolicy:
        missing = [t for t in TIERS if t not in self.tiers]
        if missing:
            raise ValueError(f"tiers {missing} are not defined; define low, medium and high")
        if self.tiers["high"].approval.required is False:
            raise ValueError("the high tier must require a human approval")
        return self

    def assess(
        self, questionnaire: RiskQuestionnaire | None, protected_attributes: list[str]
    ) -> RiskAssessment:
        """The tier of a use case and why: every rule that applied, highest tier wins."""
        if questionnaire is None:
            return RiskAssessment(
                tier="high",
                rationale=(
                    "No risk questionnaire in the spec: treated as high until it is answered.",
                ),
            )
        facts: dict[str, object] = {
            **questionnaire.model_dump(exclude={"notes"}),
            "protected_attributes_present": bool(protected_attributes),
        }
        applied = [rule for rule in self.rules if rule.applies(facts)]
        if not applied:
            return RiskAssessment(tier="low", rationale=("No risk rule applies.",))
        tier = max((rule.tier for rule in applied), key=TIERS.index)
        rationale = tuple(f"{rule.tier}: {rule.reason}" for rule in applied)
        return RiskAssessment(tier=tier, rationale=rationale)

    def for_tier(self, tier: Tier) -> TierPolicy:
        return self.tiers[tier]


@dataclass(frozen=True)
class RiskAssessment:
    tier: Tier
    rationale: tuple[str, ...]


class RiskPolicyError(ValueError):
    """The policy file cannot be used; the message names the file and the field."""


def load_risk_policy(path: Path | str | None = None) -> RiskPolicy:
    """The policy in `path` (default: the packaged `risk_policy.yaml`), validated."""
    return _load(Path(path) if path else DEFAULT_POLICY_FILE)


@lru_cache(maxsize=8)
def _load(path: Path) -> RiskPolicy:
    return read_policy(path, RiskPolicy, "risk policy", RiskPolicyError)
