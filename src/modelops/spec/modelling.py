"""What is learned and how it is judged: target, features, holdout split, estimator and the
evaluation thresholds."""

from __future__ import annotations

import importlib.util
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, ValidationInfo, model_validator

from modelops.spec.allowances import allowances_in
from modelops.spec.base import IMPORT_PATH_PATTERN, SafeName, SpecModel, SpecProblems
from modelops.spec.estimator_policy import EstimatorPolicy, load_estimator_policy
from modelops.spec.missing import MissingPolicy
from modelops.spec.runtime import ModelRuntime


class EngineeredFeature(SpecModel):
    """A feature computed from raw columns with a SQL expression (evaluated by polars)."""

    name: SafeName
    expression: Annotated[str, Field(min_length=1)]
    kind: Literal["numeric", "categorical"]
    model_input: bool = True
    description: str | None = None


class Features(SpecModel):
    raw: Annotated[list[str], Field(min_length=1)]
    engineered: list[EngineeredFeature] = Field(default_factory=list)
    missing: MissingPolicy = MissingPolicy()
    """How a missing model input is treated (default: today's, see spec/missing.py)."""


class Split(SpecModel):
    """How the holdout is drawn: seeded and stratified, or out-of-time on the date column."""

    holdout_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.25
    seed: int = 42
    stratify: bool = True
    strategy: Literal["auto", "random", "out_of_time"] = "auto"


class EstimatorSpec(SpecModel):
    """A classifier named by import path, with its parameters.

    The name must be allowed by the platform's estimator policy (`estimator_policy.py`); it
    is checked on the name alone, so nothing a spec names is imported or instantiated to
    decide. Training checks again with the same policy before it imports the class.
    """

    estimator: Annotated[str, Field(pattern=IMPORT_PATH_PATTERN)]
    params: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments of the estimator, as YAML gives them (any JSON-like value)."""
    _policy: EstimatorPolicy | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _allowed_and_installed(self, info: ValidationInfo) -> EstimatorSpec:
        policy = allowances_in(info).estimators
        refusal = policy.refusal(self.estimator)
        if refusal is not None:
            raise SpecProblems([("estimator", refusal)])
        # Only the top-level package is looked up: importing scikit-learn here would make
        # every load of the code location pay for it. The class itself is resolved at training.
        package = self.estimator.split(".")[0]
        if importlib.util.find_spec(package) is None:
            raise SpecProblems(
                [("estimator", f"package '{package}' of '{self.estimator}' is not installed")]
            )
        self._policy = policy
        return self

    @property
    def policy(self) -> EstimatorPolicy:
        """The policy that allowed this estimator when the spec loaded."""
        return self._policy or load_estimator_policy()


Preprocessing = Literal["scorecard", "standard", "native", "woe"]

MonotonicTrend = Literal["auto", "ascending", "descending", "peak", "valley", "none"]


class ScorecardSpec(SpecModel):
    """Optimal WoE binning and points scaling (`preprocessing: woe`): `pdo` points double the
    odds, `base_points` are odds of `base_odds` good:bad; `monotonic` for all numeric features
    or per feature."""

    pdo: Annotated[float, Field(gt=0)] = 20
    base_points: float = 600
    base_odds: Annotated[float, Field(gt=0)] = 50
    monotonic: MonotonicTrend | dict[str, MonotonicTrend] = "auto"
    max_bins: Annotated[int, Field(ge=2, le=20)] = 6
    min_bin_share: Annotated[float, Field(gt=0, lt=0.5)] = 0.05
    special_codes: dict[str, list[float | str]] = Field(default_factory=dict)
    """Per feature, values that mean something of their own (999 "never delinquent"): they
    get a Special bin with its own WoE and points instead of a place in the ordered bins.
    Sentinels that mean "unknown" belong in the column's `missing_values` (the Missing bin)."""


class ModelSpec(EstimatorSpec):
    """The candidate model: estimator, params and the preprocessing family it expects.

    `scorecard` bins numeric features into quantile bands and one-hot encodes everything (a
    points-per-band logistic scorecard); `standard` imputes and scales; `native` hands numbers
    and ordinal-encoded categories to estimators that handle them (gradient boosting); `woe`
    replaces each feature by the Weight of Evidence of its optimal bin (a points scorecard,
    `scorecard` section).
    """

    estimator: Annotated[str, Field(pattern=IMPORT_PATH_PATTERN)] = (
        "sklearn.linear_model.LogisticRegression"
    )
    preprocessing: Preprocessing = "scorecard"
    scorecard_bins: Annotated[int, Field(ge=2, le=50)] = 8
    scorecard: ScorecardSpec | None = None
    """WoE binning and points (`preprocessing: woe`; defaults when omitted)."""
    allow_protected_features: bool = False
    runtime: ModelRuntime = ModelRuntime()
    """Where training and batch scoring run (default: this estimator, in-process)."""
    registered_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$")] | None = None

    @model_validator(mode="after")
    def _scorecard_needs_woe(self) -> ModelSpec:
        if self.scorecard is not None and self.preprocessing != "woe":
            raise SpecProblems([("scorecard", "is used only with preprocessing: woe")])
        return self


class ThresholdRule(SpecModel):
    """How the operating threshold is chosen on the holdout, exactly one of: a target share of
    applications accepted, a target bad rate among the accepted, or the cost of accepting a bad
    relative to declining a good (the threshold minimising that cost on the holdout)."""

    approval_rate: Annotated[float, Field(gt=0, lt=1)] | None = None
    bad_rate_among_accepted: Annotated[float, Field(gt=0, lt=1)] | None = None
    cost_ratio: Annotated[float, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ThresholdRule:
        chosen = [name for name, value in self if value is not None]
        if len(chosen) != 1:
            raise ValueError(
                "name exactly one of approval_rate, bad_rate_among_accepted, cost_ratio; "
                f"got {', '.join(chosen) or 'none'}"
            )
        return self


class Evaluation(SpecModel):
    operating_threshold: Annotated[float, Field(gt=0, lt=1)] = 0.5
    """Score at or above which an application is declined (fixed), unless `threshold_rule`."""
    threshold_rule: ThresholdRule | None = None
    """Choose the threshold on the holdout by a declared rule (exclusive with an explicit
    `operating_threshold`); see ml/evaluation/threshold_rule.py."""
    calibration_bins: Annotated[int, Field(ge=2, le=100)] = 10
    segments: list[str] = Field(default_factory=list)
    min_auc: Annotated[float, Field(ge=0, le=1)] | None = None
    min_ks: Annotated[float, Field(ge=0, le=1)] | None = None
    max_brier: Annotated[float, Field(ge=0, le=1)] | None = None
    fairness_attributes: list[str] | None = None
    """Groups the fairness gate compares (categorical; a band for a numeric attribute such as
    age). Default: every categorical protected column."""
    baseline: EstimatorSpec = Field(
        default_factory=lambda: {
            "estimator": "sklearn.tree.DecisionTreeClassifier",
            "params": {"max_depth": 3, "min_samples_leaf": 20, "random_state": 0},
        },
        validate_default=True,
    )
    """The simple model every candidate must beat; allowed by the same estimator policy."""

    @model_validator(mode="after")
    def _one_way_to_the_threshold(self) -> Evaluation:
        if self.threshold_rule is not None and "operating_threshold" in self.model_fields_set:
            raise SpecProblems(
                [
                    (
                        "threshold_rule",
                        "give either operating_threshold or threshold_rule, not both",
                    )
                ]
            )
        return self
