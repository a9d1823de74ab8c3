"""Fairness in production (`monitoring` with labels): each labelled month's decisions measured
per protected group against the limits the version was released with, and each group's share
of applicants against training — protected attributes are watched even when they are no
model input.

    labels + predictions + production_features -> production_fairness  (check fair_in_production)

(No `from __future__ import annotations`: Dagster reads the annotations of asset functions.)
"""

from collections.abc import Iterator

import dagster as dg

from modelops import names
from modelops.defs.kubernetes import pod_tags
from modelops.defs.outputs import markdown, stored_report
from modelops.defs.partitions import month_of, monthly_partitions
from modelops.defs.versioning import code_version
from modelops.formatting import json_document
from modelops.resources.alerts import AlertSink
from modelops.resources.storage import ArtifactStore
from modelops.spec import UseCaseSpec

FAIRNESS_CHECK = "fair_in_production"
FAIRNESS_FILE = "fairness.json"
FAIRNESS_PLOT = "fairness.png"


def fairness_monitoring_assets(spec: UseCaseSpec) -> list[dg.AssetsDefinition]:
    """The production fairness asset of a use case that monitors with labels (else none)."""
    if spec.monitoring is None or spec.monitoring.labels is None:
        return []
    uc = spec.id
    key = dg.AssetKey([uc, names.PRODUCTION_FAIRNESS])
    attributes = ", ".join(spec.fairness_attributes) or "none declared"

    @dg.asset(
        key=key,
        partitions_def=monthly_partitions(spec),
        deps=[
            dg.AssetKey([uc, n])
            for n in (names.LABELS, names.PREDICTIONS, names.PRODUCTION_FEATURES)
        ],
        owners=spec.owners.dagster_owners,
        kinds={"fairlearn"},
        check_specs=[
            dg.AssetCheckSpec(
                FAIRNESS_CHECK,
                asset=key,
                description="The month's decisions keep the fairness limits the version was "
                "released with, and no protected group's share of applicants moved "
                f"significantly (PSI >= {spec.drift.csi_breach:g}).",
            )
        ],
        code_version=code_version(
            ("modelops.ml.fairness_in_production", "modelops.monitoring.fairness_month"),
            spec.drift,
        ),
        description=f"Fairness of the month's decisions once outcomes are known ({attributes}): "
        "rates and gaps per group with the release's limits, and each group's share of "
        "applicants against training.",
        group_name=uc,
        op_tags=pod_tags(spec.compute.default),
    )
    def production_fairness(
        context: dg.AssetExecutionContext, store: ArtifactStore, alerts: AlertSink
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        from modelops.ml.fairness import FairnessReport
        from modelops.ml.plots.fairness_plots import selection_rates_png
        from modelops.monitoring.fairness_month import month_fairness
        from modelops.monitoring.history import unjudged_incident

        month = month_of(context.partition_key)
        record = month_fairness(store, spec, month)
        incident = unjudged_incident(store, spec, month)
        problems = record.problems()
        text = record.markdown()
        if incident:
            text = f"Not judged: {incident}.\n\n{text}"
        yield stored_report(
            store,
            key,
            names.monthly(names.PRODUCTION_FAIRNESS, month),
            {
                FAIRNESS_FILE: json_document(record.model_dump(mode="json")),
                FAIRNESS_PLOT: selection_rates_png(
                    FairnessReport.from_dict(record.report),
                    max_parity_gap=record.max_parity_gap,
                    title=f"{uc} {month}: decline rate per group (labelled applications)",
                ),
            },
            {
                "report": markdown(text),
                "labelled_rows": record.labelled_rows,
                "model_version": record.model_version,
                "problems": "; ".join(problems) or "none",
                **{f"{m.attribute}/group_mix_psi": round(m.psi, 4) for m in record.mix},
            },
            images={"decline_rates": FAIRNESS_PLOT},
        )
        judged = incident is None
        yield dg.AssetCheckResult(
            check_name=FAIRNESS_CHECK,
            asset_key=key,
            passed=not problems or not judged,
            severity=dg.AssetCheckSeverity.WARN,
            description=("; ".join(problems) if problems else "within the release's limits")
            + ("" if judged else f" (not judged: {incident})"),
        )
        if problems and judged:
            alerts.notify(
                spec,
                "fairness",
                f"{month}: " + "; ".join(problems),
                month=month,
                champion=record.model_version,
            )

    return [production_fairness]
