"""Jobs: training per use case and for all, and the monthly monitoring jobs.

A job runs assets of one partitioning only, so training (unpartitioned) and monthly scoring
are separate jobs. Training runs carry the tag `modelops/use_case`, on which the production
instance allows one run per use case at a time; scoring runs carry `modelops/scoring`
instead, so a backfill of many months runs in parallel.
"""

from __future__ import annotations

import dagster as dg

from modelops import names
from modelops.defs.inventory_asset import INVENTORY_KEY
from modelops.defs.partitions import monthly_partitions
from modelops.spec import UseCaseSpec


def use_case_jobs(spec: UseCaseSpec) -> list[dg.UnresolvedAssetJobDefinition]:
    """The training job, and the scoring, labels and history jobs of a monitored use case."""
    uc = spec.id
    training = f"Raw data to model card for '{uc}'."
    jobs = [
        _job(spec, names.training_job(uc), names.TRAINING_ASSETS, training, tag=names.TRAINING_TAG)
    ]
    if spec.monitoring is None:
        return jobs
    monthly = monthly_partitions(spec)
    scoring = f"Score and check one month of '{uc}' applications."
    jobs.append(
        _job(spec, names.scoring_job(uc), names.SCORING_ASSETS, scoring, partitions=monthly)
    )
    history: tuple[str, ...] = (names.DRIFT_HISTORY,)
    if spec.monitoring.labels is not None:
        labels = f"Outcomes of one month of '{uc}' and realised performance."
        jobs.append(
            _job(spec, names.labels_job(uc), names.LABEL_ASSETS, labels, partitions=monthly)
        )
        history += (names.PERFORMANCE_HISTORY, names.LABELLED_PRODUCTION)
    across = f"Monitoring history of '{uc}' across months."
    jobs.append(_job(spec, names.history_job(uc), history, across))
    return jobs


def _job(
    spec: UseCaseSpec,
    name: str,
    assets: tuple[str, ...],
    description: str,
    *,
    tag: str = names.SCORING_TAG,
    partitions: dg.PartitionsDefinition | None = None,
) -> dg.UnresolvedAssetJobDefinition:
    """A job of some of `spec`'s assets, tagged with the use case: `tag` decides how the
    production instance queues its runs (see above)."""
    return dg.define_asset_job(
        name,
        selection=dg.AssetSelection.assets(*[dg.AssetKey([spec.id, a]) for a in assets]),
        partitions_def=partitions,
        tags={tag: spec.id},
        description=description,
    )


def main_job(specs: list[UseCaseSpec]) -> dg.UnresolvedAssetJobDefinition:
    """Every use case's training job at once, and the inventory after them."""
    return dg.define_asset_job(
        names.MAIN_JOB,
        selection=dg.AssetSelection.assets(
            *[dg.AssetKey([s.id, name]) for s in specs for name in names.TRAINING_ASSETS],
            INVENTORY_KEY,
        ),
        description="Every use case, raw data to model card.",
    )


def notebook_job(spec: UseCaseSpec) -> list[dg.UnresolvedAssetJobDefinition]:
    """One job running the use case's notebooks (not part of training: run when wanted)."""
    if not spec.notebooks:
        return []
    keys = [dg.AssetKey([spec.id, f"notebook_{n.name}"]) for n in spec.notebooks]
    return [
        dg.define_asset_job(
            f"{spec.id}{'_notebooks'}",
            selection=dg.AssetSelection.assets(*keys),
            description=f"{spec.id}'s declared notebooks, on the current data and model.",
        )
    ]
