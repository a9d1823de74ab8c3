"""The code location: every use-case spec in `assets/` turned into Dagster definitions.

Loading this module reads settings and specs (failing with a clear message if either is
wrong) and builds the asset graph; it imports no ML library, so it loads in seconds.
"""

from __future__ import annotations

import dagster as dg

from modelops.defs.environments import executor_for, resources_for
from modelops.defs.governance import inventory_asset
from modelops.defs.jobs import jobs_for
from modelops.defs.monitoring import monitoring_assets
from modelops.defs.sensors import sensors_for
from modelops.defs.use_case import use_case_assets
from modelops.settings import Settings
from modelops.spec import load_specs
from modelops.spec.risk import load_risk_policy


def build_definitions(settings: Settings) -> dg.Definitions:
    specs = load_specs(settings.specs_dir)
    policy = load_risk_policy(settings.risk_policy_file)
    assets: list = [
        asset
        for spec in specs
        for asset in [*use_case_assets(spec, policy), *monitoring_assets(spec)]
    ]
    if specs:
        assets.append(inventory_asset(specs, policy))
    sensors = sensors_for(specs)
    if any(spec.monitoring for spec in specs):
        # Keeps the monitoring histories up to date as months are scored (eager assets).
        sensors.append(
            dg.AutomationConditionSensorDefinition(
                "monitoring_histories",
                target=dg.AssetSelection.all(),
                default_status=dg.DefaultSensorStatus.RUNNING,
            )
        )
    return dg.Definitions(
        assets=assets,
        jobs=jobs_for(specs),
        sensors=[s for s in sensors if not isinstance(s, dg.ScheduleDefinition)],
        schedules=[s for s in sensors if isinstance(s, dg.ScheduleDefinition)],
        resources=resources_for(settings),
        executor=executor_for(settings),
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(Settings.from_env())
