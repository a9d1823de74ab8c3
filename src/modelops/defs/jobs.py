"""Jobs: training per use case and for all, and the monthly monitoring jobs.

A job runs assets of one partitioning only, so training (unpartitioned) and monthly scoring
are separate jobs. Training runs carry the tag `modelops/use_case`, on which the production
instance allows one run per use case at a time; scoring runs carry `modelops/scoring`
instead, so a backfill of many months runs in parallel.
"""

from __future__ import annotations

import dagster as dg

from modelops.defs.governance import INVENTORY_KEY
from modelops.defs.monitoring import (
    BATCH,
    DRIFT_HISTORY,
    LABELS,
    MONTHLY_DRIFT,
    PERFORMANCE,
    PERFORMANCE_HISTORY,
    PREDICTIONS,
    PRODUCTION_FEATURES,
    PRODUCTION_QUARANTINE,
    monthly_partitions,
)
from modelops.defs.use_case import ASSET_NAMES, LABELLED_PRODUCTION
from modelops.spec.model import UseCaseSpec

MAIN_JOB = "all_use_cases"
TRAINING_TAG = "modelops/use_case"
SCORING_TAG = "modelops/scoring"


def training_job_name(spec: UseCaseSpec) -> str:
    return f"{spec.id}_pipeline"


def scoring_job_name(spec: UseCaseSpec) -> str:
    return f"{spec.id}_monthly_scoring"


def labels_job_name(spec: UseCaseSpec) -> str:
    return f"{spec.id}_monthly_labels"


def history_job_name(spec: UseCaseSpec) -> str:
    return f"{spec.id}_monitoring_history"


def training_selection(spec: UseCaseSpec) -> dg.AssetSelection:
    return dg.AssetSelection.assets(*[dg.AssetKey([spec.id, name]) for name in ASSET_NAMES])


def _keys(spec: UseCaseSpec, *names: str) -> dg.AssetSelection:
    return dg.AssetSelection.assets(*[dg.AssetKey([spec.id, name]) for name in names])


def jobs_for(specs: list[UseCaseSpec]) -> list[dg.UnresolvedAssetJobDefinition]:
    jobs = []
    for spec in specs:
        jobs.append(
            dg.define_asset_job(
                training_job_name(spec),
                selection=training_selection(spec),
                description=f"Raw data to model card for '{spec.id}'.",
                tags={TRAINING_TAG: spec.id},
            )
        )
        if spec.monitoring is None:
            continue
        partitions = monthly_partitions(spec)
        jobs.append(
            dg.define_asset_job(
                scoring_job_name(spec),
                selection=_keys(
                    spec,
                    BATCH,
                    PRODUCTION_FEATURES,
                    PRODUCTION_QUARANTINE,
                    PREDICTIONS,
                    MONTHLY_DRIFT,
                ),
                partitions_def=partitions,
                tags={SCORING_TAG: spec.id},
                description=f"Score and check one month of '{spec.id}' applications.",
            )
        )
        history = [DRIFT_HISTORY]
        if spec.monitoring.labels is not None:
            jobs.append(
                dg.define_asset_job(
                    labels_job_name(spec),
                    selection=_keys(spec, LABELS, PERFORMANCE),
                    partitions_def=partitions,
                    tags={SCORING_TAG: spec.id},
                    description=f"Outcomes of one month of '{spec.id}' and realised performance.",
                )
            )
            history += [PERFORMANCE_HISTORY, LABELLED_PRODUCTION]
        jobs.append(
            dg.define_asset_job(
                history_job_name(spec),
                selection=_keys(spec, *history),
                tags={SCORING_TAG: spec.id},
                description=f"Monitoring history of '{spec.id}' across months.",
            )
        )
    jobs.append(
        dg.define_asset_job(
            MAIN_JOB,
            selection=dg.AssetSelection.assets(
                *[dg.AssetKey([s.id, name]) for s in specs for name in ASSET_NAMES],
                INVENTORY_KEY,
            ),
            description="Every use case, raw data to model card.",
        )
    )
    return jobs
