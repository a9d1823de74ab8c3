"""A few holdout decisions as an applicant would receive them: the top reasons, what each cost
(points lost against the feature's best bin for a WoE scorecard, log-odds otherwise) and the
catalogue's wording. Validators read these next to the global explanation to judge whether
the stated reasons make sense."""

from __future__ import annotations

import numpy as np
import polars as pl
from sklearn.pipeline import Pipeline

from modelops.formatting import table
from modelops.ml.explanations.faithfulness import stated_top_k
from modelops.ml.scorecard.tables import scaling_of
from modelops.ml.scoring.compiled import encode
from modelops.ml.scoring.reason_catalogue import ReasonCatalogue
from modelops.ml.scoring.reasons import ReasonCodes
from modelops.ml.training import predict_scores
from modelops.spec.columns import ROW_ID
from modelops.spec.model import UseCaseSpec


def example_decision_lines(
    pipeline: Pipeline,
    reasons: ReasonCodes,
    spec: UseCaseSpec,
    holdout: pl.DataFrame,
    *,
    examples: int = 3,
) -> list[str]:
    """Markdown: the `examples` holdout rows with the highest score, each reason on a line."""
    if holdout.height == 0:
        return []
    scores = predict_scores(pipeline, holdout, spec)
    riskiest = np.argsort(-scores, kind="stable")[:examples]
    rows = holdout[riskiest.tolist()]
    contributions = reasons.contributions(encode(pipeline, rows, spec, None), pipeline[-1])
    names, values = reasons.top_reason_columns(contributions, stated_top_k(spec))
    catalogue = ReasonCatalogue.of(spec)
    in_points = reasons.reference == "best_bin"
    factor = scaling_of(spec).factor
    unit = "points lost" if in_points else "log-odds pushed"
    body = []
    for i, row_id in enumerate(rows.get_column(ROW_ID).to_list()):
        for name, value in zip(names, values, strict=True):
            feature, pushed = name[i], value[i]
            if feature is None:
                continue
            described = catalogue.describe(feature)
            shown = f"{pushed * factor:.1f}" if in_points else f"{pushed:.3f}"
            body.append(
                [
                    str(row_id),
                    f"{scores[riskiest[i]]:.3f}",
                    feature,
                    shown,
                    described["code"] or "",
                    described["text"] or "",
                ]
            )
    reference = (
        "each reason's value is the points the application lost against the feature's best bin"
        if in_points
        else "each reason's value is how far the feature pushed the log-odds towards the positive "
        "class, against the average training application"
    )
    return [
        "### Example decisions",
        "",
        f"The {rows.height} holdout applications with the highest score, with the reasons an "
        f"answer states ({reference}).",
        "",
        *table(
            ["row", "score", "reason", unit, "code", "applicant-facing text"], body, align="rrlrll"
        ),
    ]
