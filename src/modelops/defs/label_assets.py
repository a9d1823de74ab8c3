"""Outcomes of a use case's production months: the spec's `monitoring.labels` and
`monitoring.retraining` sections.

    labels -> realised_performance -> performance_history
    labels + production_batch -> labelled_production  (joins the next retraining's data)

Labels arrive months after scoring; then the realised performance of each vintage is measured
against the figures at release, and the labelled applications join the data the next
retraining learns from.

(No `from __future__ import annotations`: Dagster reads the annotations of asset functions.)
"""

import dataclasses
from collections.abc import Iterator

import dagster as dg

from modelops import names
from modelops.defs.history_assets import history_asset, stored_history
from modelops.defs.kubernetes import pod_tags
from modelops.defs.outputs import stored_report, stored_table
from modelops.defs.partitions import month_of, monthly_partitions
from modelops.defs.versioning import code_version
from modelops.formatting import json_document
from modelops.monitoring.history import performance_history as read_performance_history
from modelops.monitoring.labelled_production import assemble_labelled_production
from modelops.resources.alerts import AlertSink
from modelops.resources.decision_store import DecisionLogStore
from modelops.resources.source import DataSource
from modelops.resources.storage import ArtifactStore
from modelops.resources.tracking import ModelTracking
from modelops.spec import UseCaseSpec

FLOOR_CHECK = "above_performance_floor"


def label_assets(spec: UseCaseSpec) -> list[dg.AssetsDefinition]:
    """The label assets of a use case that monitors with labels (else none)."""
    monitoring = spec.monitoring
    if monitoring is None or monitoring.labels is None:
        return []
    labels_files, retraining = monitoring.labels, monitoring.retraining
    uc = spec.id
    partitions = monthly_partitions(spec)
    target_header = spec.data_schema.column(spec.target.column).header
    data_owners, model_owners = spec.owners.dataset_owners, spec.owners.dagster_owners
    step = {"group_name": uc, "op_tags": pod_tags(spec.compute.default)}

    def key(name: str) -> dg.AssetKey:
        return dg.AssetKey([uc, name])

    @dg.asset(
        key=key(names.LABELS),
        partitions_def=partitions,
        owners=data_owners,
        kinds={"polars"},
        code_version=code_version(("modelops.resources.source",), labels_files),
        description=f"Outcomes of the month's applications, once known ({labels_files.path}).",
        **step,
    )
    def labels(
        context: dg.AssetExecutionContext, source: DataSource, store: ArtifactStore
    ) -> dg.MaterializeResult:
        from modelops.ml.duplicate_ids import require_unique_ids

        month = month_of(context.partition_key)
        month_source = labels_files.source_for(month, spec.source)
        table = source.read(month_source).select(monitoring.id_column, target_header)
        require_unique_ids(table, monitoring.id_column, file=f"{month}: {month_source.description}")
        token = source.probe(month_source) or ""
        return stored_table(
            store,
            key(names.LABELS),
            names.monthly(names.LABELS, month),
            table,
            {names.SOURCE_TOKEN: token},
        )

    @dg.asset(
        key=key(names.PERFORMANCE),
        partitions_def=partitions,
        deps=[key(names.LABELS), key(names.PREDICTIONS)],
        owners=model_owners,
        kinds={"scikitlearn"},
        check_specs=[
            dg.AssetCheckSpec(
                FLOOR_CHECK,
                asset=key(names.PERFORMANCE),
                description=f"Realised AUC of the vintage at least {retraining.min_auc}.",
            )
        ],
        code_version=code_version(
            ("modelops.ml.realised_performance", "modelops.ml.performance_alerts"),
            retraining,
            monitoring.performance,
        ),
        description="AUC/Gini/KS and calibration of the month's scored applications once "
        "their outcomes are known, against the figures at release.",
        **step,
    )
    def realised_performance(
        context: dg.AssetExecutionContext,
        store: ArtifactStore,
        tracking: ModelTracking,
        alerts: AlertSink,
        decisions: DecisionLogStore,
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        from modelops.ml.performance_alerts import BacktestRow, backtest_lines, realised_decay
        from modelops.ml.realised_performance import (
            PERFORMANCE_FILE,
            measure_realised_performance,
        )
        from modelops.monitoring.estimate_history import month_estimate
        from modelops.monitoring.history import unjudged_incident
        from modelops.monitoring.online_traffic import online_scores, with_online

        month = month_of(context.partition_key)
        batch = store.read_table(uc, names.monthly(names.PREDICTIONS, month))
        online = online_scores(decisions.month(uc, month), spec)
        scored = with_online(batch.select(online.columns), online)
        measured = measure_realised_performance(
            scored,
            store.read_table(uc, names.monthly(names.LABELS, month)),
            spec,
            month,
        )
        release = (
            tracking.run_metric(spec.registered_model_name, measured.versions[0], "holdout_auc")
            if len(measured.versions) == 1
            else None
        )
        summary = dataclasses.replace(measured, release_auc=release)
        observed = summary.positives / summary.n
        incident = unjudged_incident(store, spec, month)
        decay = (
            []
            if incident
            else realised_decay(
                auc=summary.auc,
                release_auc=release,
                predicted_bad_rate=summary.predicted_bad_rate,
                predicted_bad_rate_sd=summary.predicted_bad_rate_sd,
                observed_bad_rate=observed,
                rules=monitoring.performance,
            )
        )
        estimated = month_estimate(store, spec, month)  # before the labels, if it was made
        beside = (
            ["no estimate was stored before the labels"]
            if estimated is None
            else backtest_lines(
                [
                    BacktestRow(
                        month=month,
                        estimate=estimated.estimate,
                        realised_auc=summary.auc,
                        observed_bad_rate=observed,
                    )
                ]
            )
        )
        estimated_auc = estimated.estimate.auc if estimated is not None else None
        yield stored_report(
            store,
            key(names.PERFORMANCE),
            names.monthly(names.PERFORMANCE, month),
            {PERFORMANCE_FILE: json_document(dataclasses.asdict(summary))},
            {
                "auc": summary.auc,
                "gini": summary.gini,
                "ks": summary.ks,
                "release_auc": release if release is not None else float("nan"),
                "labelled_rows": summary.labelled_rows,
                "online_rows": online.height,
                "observed_bad_rate": observed,
                "predicted_bad_rate": summary.predicted_bad_rate or 0.0,
                "decay_alerts": f"not judged: {incident}"
                if incident
                else "; ".join(a.summary for a in decay) or "none",
                "estimated_auc": estimated_auc.value if estimated_auc else float("nan"),
                "estimate_vs_realised": dg.MetadataValue.md("\n".join(beside)),
            },
        )
        for alert in decay:
            alerts.notify(
                spec,
                "performance",
                f"{month}: {alert.summary}",
                month=month,
                rule=alert.kind,
                basis=alert.basis,
            )
        floor = retraining.min_auc
        below = floor is not None and summary.auc < floor
        if below:
            alerts.notify(
                spec,
                "performance",
                f"{month}: realised AUC {summary.auc:.3f} below the floor {floor} "
                f"(at release {release})",
                month=month,
            )
        yield dg.AssetCheckResult(
            check_name=FLOOR_CHECK,
            asset_key=key(names.PERFORMANCE),
            passed=not below,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"realised AUC {summary.auc:.3f} (release {release}, floor {floor})",
        )

    @history_asset(spec, names.PERFORMANCE_HISTORY, names.PERFORMANCE)
    def performance_history(store: ArtifactStore) -> dg.MaterializeResult:
        history = read_performance_history(store, spec)
        return stored_history(store, key(names.PERFORMANCE_HISTORY), history)

    @dg.asset(
        key=key(names.LABELLED_PRODUCTION),
        automation_condition=dg.AutomationCondition.eager(),
        deps=[key(names.LABELS), key(names.BATCH)],
        owners=data_owners,
        kinds={"polars"},
        code_version=code_version(("modelops.monitoring.labelled_production",), retraining),
        description=f"Applications of the last {retraining.window_months} labelled months "
        "with their outcomes, in the source's columns: added to the training data.",
        **step,
    )
    def labelled_production(store: ArtifactStore) -> dg.MaterializeResult:
        labelled = assemble_labelled_production(store, spec)
        left_out = "; ".join(f"{m}: {why}" for m, why in labelled.months_left_out.items())
        return stored_table(
            store,
            key(names.LABELLED_PRODUCTION),
            names.LABELLED_PRODUCTION,
            labelled.table,
            {
                "months_used": ", ".join(labelled.months_used) or "none",
                "months_left_out": left_out or "none",
                "rows_left_out": labelled.rows_left_out,
            },
        )

    return [labels, realised_performance, performance_history, labelled_production]
