"""The code location: every use-case spec in `assets/` turned into Dagster definitions.

Each use case contributes its own definitions (`defs.use_case`); what spans the platform is
added here once: the model inventory, the nightly audit export and anchor, the job that
trains everything, the run-failure alerts, the sensor ending the MLflow runs a killed run
left open, the automation sensor of the monitoring histories, and the resources and executor
of the environment the settings choose.
Loading this module reads settings and specs (failing with a clear message if either is
wrong) and imports no ML library, so it loads in seconds.
"""

from __future__ import annotations

import dagster as dg

from modelops.defs.alert_sensors import run_failure_alerts
from modelops.defs.audit_export_asset import audit_export_asset, audit_export_schedule
from modelops.defs.inventory_asset import inventory_asset
from modelops.defs.jobs import main_job
from modelops.defs.kubernetes import executor_for
from modelops.defs.review_sensor import review_overdue_alerts
from modelops.defs.tracking_cleanup_sensor import failed_run_tracking_cleanup
from modelops.defs.use_case import use_case_definitions, with_source_links
from modelops.resources.audit_anchor_store import anchor_store_for
from modelops.resources.environment import resources_for
from modelops.resources.identity import IdentityProvider
from modelops.settings import Settings
from modelops.spec import UseCaseSpec, load_specs
from modelops.spec.risk import RiskPolicy, load_risk_policy


def build_definitions(settings: Settings) -> dg.Definitions:
    specs = load_specs(settings.specs_dir, settings.spec_allowances)
    policy = load_risk_policy(settings.risk_policy_file)
    return dg.Definitions.merge(
        *[use_case_definitions(spec, policy) for spec in specs],
        platform_definitions(specs, policy),
        audit_export_definitions(settings, specs),
        dg.Definitions(resources=resources_for(settings).by_key(), executor=executor_for(settings)),
    )


def audit_export_definitions(settings: Settings, specs: list[UseCaseSpec]) -> dg.Definitions:
    """The nightly audit export and anchor, with where anchors go and whose keys verify."""
    owners = list(dict.fromkeys(f"team:{spec.owners.team}" for spec in specs))
    return dg.Definitions(
        assets=with_source_links([audit_export_asset(owners)]),
        schedules=[audit_export_schedule],
        resources={
            "audit_anchors": anchor_store_for(settings),
            "identity": IdentityProvider(roles_file=str(settings.roles_file)),
        },
    )


def platform_definitions(specs: list[UseCaseSpec], policy: RiskPolicy) -> dg.Definitions:
    sensors: list[dg.SensorDefinition] = [
        run_failure_alerts(specs),
        review_overdue_alerts(specs, policy),
        failed_run_tracking_cleanup(),
    ]
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
        assets=with_source_links([inventory_asset(specs, policy)]) if specs else [],
        jobs=[main_job(specs)],
        sensors=sensors,
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(Settings.from_env())
