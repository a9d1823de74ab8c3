"""Decay before the labels: each scored month's AUC and bad rate estimated from the model's
own probabilities (the spec's `monitoring.performance`), against the AUC at release.

    predictions -> estimated_performance

The month's answers are read as `realised_performance` will read them (the batch, then the
online decisions, each application once), so the estimate and the realised figures describe
the same applications.

(No `from __future__ import annotations`: Dagster reads the annotations of asset functions.)
"""

from collections.abc import Iterator

import dagster as dg

from modelops import names
from modelops.defs.kubernetes import pod_tags
from modelops.defs.outputs import markdown, stored_report
from modelops.defs.partitions import month_of, monthly_partitions
from modelops.defs.versioning import code_version
from modelops.formatting import json_document, table
from modelops.resources.alerts import AlertSink
from modelops.resources.decision_store import DecisionLogStore
from modelops.resources.storage import ArtifactStore
from modelops.resources.tracking import ModelTracking
from modelops.spec import UseCaseSpec

DECAY_CHECK = "no_estimated_decay"


def estimate_assets(spec: UseCaseSpec) -> list[dg.AssetsDefinition]:
    """The `estimated_performance` asset of a use case with a `monitoring` section (else
    none)."""
    if spec.monitoring is None:
        return []
    monitoring = spec.monitoring
    rules = monitoring.performance
    uc = spec.id
    key = dg.AssetKey([uc, names.ESTIMATED_PERFORMANCE])

    @dg.asset(
        key=key,
        partitions_def=monthly_partitions(spec),
        deps=[dg.AssetKey([uc, names.PREDICTIONS])],
        owners=spec.owners.dagster_owners,
        kinds={"numpy", "scipy"},
        check_specs=[
            dg.AssetCheckSpec(
                DECAY_CHECK,
                asset=key,
                description="The month's estimated AUC is no more than "
                f"{rules.relative_auc_drop:g} below the AUC at release "
                "(monitoring.performance.relative_auc_drop).",
            )
        ],
        code_version=code_version(
            ("modelops.ml.estimated_performance", "modelops.ml.performance_alerts"), rules
        ),
        description="Expected AUC and bad rate of the month, with intervals, from the model's "
        "own probabilities before any label arrives (confidence-based performance estimation; "
        "assumes calibrated scores and no concept shift).",
        group_name=uc,
        op_tags=pod_tags(spec.compute.default),
    )
    def estimated_performance(
        context: dg.AssetExecutionContext,
        store: ArtifactStore,
        tracking: ModelTracking,
        alerts: AlertSink,
        decisions: DecisionLogStore,
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        import polars as pl

        from modelops.ml.duplicate_ids import latest_answers
        from modelops.ml.performance_alerts import ESTIMATE_FILE, estimate_month
        from modelops.monitoring.history import unjudged_incident
        from modelops.monitoring.online_traffic import online_scores, with_online

        month = month_of(context.partition_key)
        batch = store.read_table(uc, names.monthly(names.PREDICTIONS, month))
        online = online_scores(decisions.month(uc, month), spec)
        both = with_online(batch.select(online.columns), online)
        answers = latest_answers(both, monitoring.id_column)
        scored = answers.filter(pl.col("score").is_not_null())
        versions = sorted(map(str, scored.get_column("model_version").drop_nulls().unique()))
        release_auc = (
            tracking.run_metric(spec.registered_model_name, versions[0], "holdout_auc")
            if len(versions) == 1
            else None
        )
        record = estimate_month(
            month,
            ",".join(versions) or "none",
            scored.get_column("score").cast(pl.Float64).to_numpy(),
            release_auc,
            rules,
        )
        estimate = record.estimate
        incident = unjudged_incident(store, spec, month)
        decay_text = (
            f"not judged: {incident}"
            if incident
            else (record.alert.summary if record.alert else "none")
        )
        rows = [
            ["scored applications", f"{estimate.rows:,}"],
            ["model version", record.model_version],
            ["estimated AUC", estimate.auc.text() if estimate.auc else "–"],
            ["AUC at release", "–" if release_auc is None else f"{release_auc:.3f}"],
            [
                "estimated bad rate",
                estimate.bad_rate.text(percent=True) if estimate.bad_rate else "–",
            ],
            ["interval level", f"{estimate.level:.0%} ({estimate.draws} simulated draws)"],
            ["relative decay", decay_text],
        ]
        text = "\n".join(
            [
                *table(["", month], rows, align="lr"),
                "",
                "Assumptions: " + "; ".join(estimate.assumptions) + ".",
            ]
        )
        nan = float("nan")
        yield stored_report(
            store,
            key,
            names.monthly(names.ESTIMATED_PERFORMANCE, month),
            {ESTIMATE_FILE: json_document(record.model_dump(mode="json"))},
            {
                "report": markdown(text),
                "estimated_auc": estimate.auc.value if estimate.auc else nan,
                "estimated_auc_low": estimate.auc.low if estimate.auc else nan,
                "estimated_auc_high": estimate.auc.high if estimate.auc else nan,
                "estimated_bad_rate": estimate.bad_rate.value if estimate.bad_rate else nan,
                "release_auc": nan if release_auc is None else release_auc,
                "scored_rows": estimate.rows,
                "model_version": record.model_version,
            },
        )
        yield dg.AssetCheckResult(
            check_name=DECAY_CHECK,
            asset_key=key,
            passed=record.alert is None or incident is not None,
            severity=dg.AssetCheckSeverity.WARN,
            description=decay_text if record.alert or incident else estimate.line(),
        )
        if record.alert is not None and incident is None:
            alerts.notify(
                spec,
                "performance",
                f"{month}: {record.alert.summary}",
                month=month,
                champion=record.model_version,
                basis="estimated",
                rule=record.alert.kind,
            )

    return [estimated_performance]
