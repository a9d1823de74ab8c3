"""Every definition of one use case, built from its spec: onboarding a model is writing a spec.

    data_assets      raw_dataset -> validated_dataset (+ quarantined_rows) -> features
                       -> training_set + holdout_set
    model_assets     -> trained_model -> evaluation_report;  drift_report
    release_assets   -> fairness_report -> release_gates -> model_release -> model_card
    monitoring_assets, label_assets (with a `monitoring` section): one partition per month
    decision_assets (with a `monitoring` section): the online decision log, one partition a day
    notebook_assets (with `notebooks`): each declared notebook, run with parameters injected
    jobs, monitoring sensors, freshness alerts

Asset keys are `<use case>/<asset name>` (`modelops.names`), one Dagster group per use case.
"""

from __future__ import annotations

import warnings

import dagster as dg

from modelops.defs.alert_sensors import freshness_alerts
from modelops.defs.data_assets import data_assets
from modelops.defs.decision_assets import decision_assets
from modelops.defs.estimate_assets import estimate_assets
from modelops.defs.fairness_monitoring_assets import fairness_monitoring_assets
from modelops.defs.jobs import notebook_job, use_case_jobs
from modelops.defs.label_assets import label_assets
from modelops.defs.model_assets import model_assets
from modelops.defs.monitoring_assets import monitoring_assets
from modelops.defs.monitoring_sensors import monitoring_sensors
from modelops.defs.notebook_assets import notebook_assets
from modelops.defs.release_assets import release_assets
from modelops.spec import UseCaseSpec
from modelops.spec.risk import RiskPolicy

Assets = list[dg.AssetsDefinition]


def use_case_definitions(spec: UseCaseSpec, policy: RiskPolicy) -> dg.Definitions:
    assets = [
        *data_assets(spec),
        *model_assets(spec, policy),
        *release_assets(spec, policy),
        *monitoring_assets(spec),
        *estimate_assets(spec),
        *label_assets(spec),
        *fairness_monitoring_assets(spec),
        *decision_assets(spec),
        *notebook_assets(spec),
    ]
    automation = [freshness_alerts(spec), *monitoring_sensors(spec)]
    return dg.Definitions(
        assets=with_source_links(assets),
        jobs=[*use_case_jobs(spec), *notebook_job(spec)],
        sensors=[s for s in automation if isinstance(s, dg.SensorDefinition)],
        schedules=[s for s in automation if isinstance(s, dg.ScheduleDefinition)],
    )


def with_source_links(assets: Assets) -> Assets:
    """The UI links each asset to the file and line of the function that computes it.
    (Dagster marks its code-reference metadata as beta; the warning is not the user's.)"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return list(dg.with_source_code_references(assets))
