"""The code location: every use-case spec in `assets/` turned into Dagster definitions.

Loading this module reads settings and specs (failing with a clear message if either is
wrong) and builds the asset graph; it imports no ML library, so it loads in seconds.
"""

from __future__ import annotations

import dagster as dg

from modelops.defs.environments import executor_for, resources_for
from modelops.defs.jobs import jobs_for
from modelops.defs.use_case import use_case_assets
from modelops.settings import Settings
from modelops.spec import load_specs


def build_definitions(settings: Settings) -> dg.Definitions:
    specs = load_specs(settings.specs_dir)
    assets = [asset for spec in specs for asset in use_case_assets(spec)]
    return dg.Definitions(
        assets=assets,
        jobs=jobs_for(specs),
        resources=resources_for(settings),
        executor=executor_for(settings),
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(Settings.from_env())
