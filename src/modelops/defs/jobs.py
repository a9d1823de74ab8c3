"""Jobs: the whole graph of each use case, and the main job over every use case."""

from __future__ import annotations

import dagster as dg

from modelops.spec.model import UseCaseSpec

MAIN_JOB = "all_use_cases"


def use_case_job_name(spec: UseCaseSpec) -> str:
    return f"{spec.id}_pipeline"


def jobs_for(specs: list[UseCaseSpec]) -> list[dg.UnresolvedAssetJobDefinition]:
    jobs = [
        dg.define_asset_job(
            use_case_job_name(spec),
            selection=dg.AssetSelection.groups(spec.id),
            description=f"Raw data to model card for '{spec.id}'.",
            tags={"modelops/use_case": spec.id},
        )
        for spec in specs
    ]
    jobs.append(
        dg.define_asset_job(
            MAIN_JOB,
            selection=dg.AssetSelection.all(),
            description="Every use case, raw data to model card.",
        )
    )
    return jobs
