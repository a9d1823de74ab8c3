"""The explanation section of a version's evaluation report and card: how missing values are
treated, which features the model relies on (global), how faithful its stated reasons are, the
wording applicants are given, and a scorecard's points and bins.

Computed once, at evaluation, from the version's serving bundle (the reason codes every door
uses), and stored beside the evaluation report (`explanation.json`, `explanation.md`) so the
card renders the same text later without recomputing anything.
"""

from __future__ import annotations

import polars as pl
from pydantic import BaseModel, ConfigDict
from sklearn.pipeline import Pipeline

from modelops.ml.explanations.example_decisions import example_decision_lines
from modelops.ml.explanations.faithfulness import (
    FaithfulnessRecord,
    faithfulness,
    faithfulness_lines,
)
from modelops.ml.explanations.global_importance import (
    GlobalExplanation,
    global_explanation_lines,
    global_importance,
)
from modelops.ml.missing_policy import missing_policy_lines
from modelops.ml.scoring.reason_catalogue import reason_catalogue_lines
from modelops.ml.scoring.reasons import ReasonCodes
from modelops.spec.model import UseCaseSpec


class ExplanationReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    global_explanation: GlobalExplanation
    faithfulness: FaithfulnessRecord
    faithfulness_minimum: float | None
    """The share the tier's gate requires (None: not gated)."""
    markdown: str


def explanation_report(
    pipeline: Pipeline,
    reasons: ReasonCodes,
    spec: UseCaseSpec,
    training: pl.DataFrame,
    holdout: pl.DataFrame,
    *,
    faithfulness_minimum: float | None,
) -> ExplanationReport:
    """Global importance, faithfulness of the stated reasons, and the reason catalogue."""
    explanation = global_importance(pipeline, spec, training, holdout, reasons=reasons)
    faithful = faithfulness(pipeline, reasons, spec, training, holdout)
    lines = [
        "## Data treatment",
        "",
        *missing_policy_lines(spec, training),
        "",
        "## Explanations",
        "",
        *global_explanation_lines(explanation),
        "",
        *faithfulness_lines(faithful, faithfulness_minimum),
        "",
        *reason_catalogue_lines(spec),
        "",
        *example_decision_lines(pipeline, reasons, spec, holdout),
    ]
    if spec.model.preprocessing == "woe" and not spec.model.runtime.outside:
        from modelops.ml.scorecard.tables import scorecard_lines  # the points and bins

        lines += ["", "### Scorecard: points and bins", "", *scorecard_lines(pipeline, spec)]
    return ExplanationReport(
        global_explanation=explanation,
        faithfulness=faithful,
        faithfulness_minimum=faithfulness_minimum,
        markdown="\n".join(lines).rstrip() + "\n",
    )
