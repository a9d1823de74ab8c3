"""A labelled month's fairness, read from what was stored: the month's answers, their
outcomes and the applicants' protected attributes, against the version that answered them
(its training data's group mix, its threshold and the fairness limits it was released with).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from modelops.ml.duplicate_ids import latest_answers, require_unique_ids
from modelops.ml.fairness import fairness_report
from modelops.ml.fairness_in_production import (
    MonthFairness,
    attribute_mix,
    fairness_breaches,
    group_shares,
)
from modelops.ml.realised_performance import outcome_label
from modelops.names import HOLDOUT, LABELS, PREDICTIONS, PRODUCTION_FEATURES, TRAINING, monthly
from modelops.spec import UseCaseSpec
from modelops.spec.columns import ROW_ID

if TYPE_CHECKING:
    from modelops.governance.model_record import ModelRecord
    from modelops.resources.storage import ArtifactStore


class NoLabelledDecisionsError(ValueError):
    """The month has no scored application with a known outcome."""


def month_fairness(store: ArtifactStore, spec: UseCaseSpec, month: str) -> MonthFairness:
    from modelops.governance.gate_review import stored_gate_plan
    from modelops.governance.model_record import read_model_record

    assert spec.monitoring is not None
    id_column = spec.monitoring.id_column
    answers = store.read_table(spec.id, monthly(PREDICTIONS, month))
    scored = latest_answers(answers.filter(pl.col("score").is_not_null()), id_column)
    versions = sorted(map(str, scored.get_column("model_version").drop_nulls().unique()))
    if not versions:
        raise NoLabelledDecisionsError(f"{month}: no application was scored")
    record = read_model_record(store, spec.id, versions[-1])
    plan = stored_gate_plan(store, spec.id, record)
    attributes = list(plan.fairness_attributes)
    features = store.read_table(spec.id, monthly(PRODUCTION_FEATURES, month))
    outcomes = store.read_table(spec.id, monthly(LABELS, month))
    require_unique_ids(outcomes, id_column, file=f"{month}: the labels")
    label, known = outcome_label(spec)
    joined = (
        scored.select(ROW_ID, id_column, "score")
        .join(features.select(ROW_ID, *attributes), on=ROW_ID, how="inner", validate="1:1")
        .join(outcomes, on=id_column, how="inner", validate="1:1")
        .filter(known)
        .with_columns(label.alias("label"))
    )
    if joined.height == 0:
        raise NoLabelledDecisionsError(f"{month}: no scored application has a known outcome")
    threshold = record.operating_threshold(spec)
    report = fairness_report(
        joined.get_column("label").to_numpy(),
        joined.get_column("score").to_numpy(),
        {a: joined.get_column(a).cast(pl.String).to_numpy() for a in attributes},
        threshold=threshold,
        min_group_size=plan.min_group_size,
        min_outcome_count=plan.min_outcome_count,
    )
    training = _training_groups(store, spec, record, attributes)
    mix = tuple(
        attribute_mix(
            a,
            group_shares(training.get_column(a).cast(pl.String).to_list()),
            group_shares(features.get_column(a).cast(pl.String).to_list()),
            psi_limit=spec.drift.csi_breach,
        )
        for a in attributes
    )
    breaches = fairness_breaches(
        report,
        max_parity_gap=plan.max_demographic_parity_difference,
        max_odds_gap=plan.max_equalized_odds_difference,
    )
    return MonthFairness(
        month=month,
        model_version=",".join(versions),
        labelled_rows=joined.height,
        threshold=threshold,
        max_parity_gap=plan.max_demographic_parity_difference,
        mix=mix,
        breaches=tuple(breaches),
        report=report.to_dict(),
    )


def _training_groups(
    store: ArtifactStore, spec: UseCaseSpec, record: ModelRecord, attributes: list[str]
) -> pl.DataFrame:
    """The protected attributes of the data the version learnt from (and was checked on)."""
    parts = [store.read_table(spec.id, TRAINING, record.training_set_version).select(attributes)]
    if record.holdout_set_version is not None:
        holdout = store.read_table(spec.id, HOLDOUT, record.holdout_set_version)
        parts.append(holdout.select(attributes))
    return pl.concat(parts, how="vertical_relaxed")
