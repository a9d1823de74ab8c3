"""Jobs: training per use case and for all, and the monthly monitoring jobs.

A job runs assets of one partitioning only, so training (unpartitioned) and monthly scoring
are separate jobs. Training runs carry the tag `modelops/use_case`, on which the production
instance allows one run per use case at a time; scoring runs carry `modelops/scoring`
instead, so a backfill of many months runs in parallel.
"""

from __future__ import annotations

import dagster as dg

from modelops.defs.inventory_asset import INVENTORY_KEY
from modelops.defs.partitions import monthly_partitions
from modelops.names import (
    DRIFT_HISTORY,
    LABEL_ASSETS,
    LABELLED_PRODUCTION,
    MAIN_JOB,
    PERFORMANCE_HISTORY,
    SCORING_ASSETS,
    SCORING_TAG,
    TRAINING_ASSETS,
    TRAINING_TAG,
    history_job,
    labels_job,
    scoring_job,
    training_job,
)
from modelops.spec import UseCaseSpec


def _assets(spec: UseCaseSpec, names: tuple[str, ...]) -> dg.AssetSelection:
    return dg.AssetSelection.assets(*[dg.AssetKey([spec.id, name]) for name in names])


def use_case_jobs(spec: UseCaseSpec) -> list[dg.UnresolvedAssetJobDefinition]:
    """The training job, and the scoring, labels and history jobs of a monitored use case."""
    jobs = [
        dg.define_asset_job(
            training_job(spec.id),
            selection=_assets(spec, TRAINING_ASSETS),
            description=f"Raw data to model card for '{spec.id}'.",
            tags={TRAINING_TAG: spec.id},
        )
    ]
    if spec.monitoring is None:
        return jobs
    partitions = monthly_partitions(spec)
    jobs.append(
        dg.define_asset_job(
            scoring_job(spec.id),
            selection=_assets(spec, SCORING_ASSETS),
            partitions_def=partitions,
            tags={SCORING_TAG: spec.id},
            description=f"Score and check one month of '{spec.id}' applications.",
        )
    )
    history: tuple[str, ...] = (DRIFT_HISTORY,)
    if spec.monitoring.labels is not None:
        jobs.append(
            dg.define_asset_job(
                labels_job(spec.id),
                selection=_assets(spec, LABEL_ASSETS),
                partitions_def=partitions,
                tags={SCORING_TAG: spec.id},
                description=f"Outcomes of one month of '{spec.id}' and realised performance.",
            )
        )
        history += (PERFORMANCE_HISTORY, LABELLED_PRODUCTION)
    jobs.append(
        dg.define_asset_job(
            history_job(spec.id),
            selection=_assets(spec, history),
            tags={SCORING_TAG: spec.id},
            description=f"Monitoring history of '{spec.id}' across months.",
        )
    )
    return jobs


def main_job(specs: list[UseCaseSpec]) -> dg.UnresolvedAssetJobDefinition:
    """Every use case's training job at once, and the inventory after them."""
    return dg.define_asset_job(
        MAIN_JOB,
        selection=dg.AssetSelection.assets(
            *[dg.AssetKey([s.id, name]) for s in specs for name in TRAINING_ASSETS],
            INVENTORY_KEY,
        ),
        description="Every use case, raw data to model card.",
    )
