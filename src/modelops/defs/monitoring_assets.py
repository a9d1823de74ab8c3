"""Production scoring of a use case, one partition per calendar month: the spec's `monitoring`
section (batches, reason codes, outliers) and `drift` section.

    production_batch -> production_features (+ production_quarantine, data_incidents)
                     -> predictions -> monthly_drift -> drift_history

Predictions come from the champion the audit log records, through its serving bundle
(written at training, verified on load): every row carries that version, so a decision can be
traced to the model that made it. Rows that fail validation, and whole months without a
champion, still get an answer ("refer"). Each re-scoring of a month is a new version; earlier
versions stay in the store.

(No `from __future__ import annotations`: Dagster reads the annotations of asset functions.)
"""

from collections.abc import Iterator

import dagster as dg

from modelops import names
from modelops.defs.history_assets import history_asset, stored_history
from modelops.defs.kubernetes import pod_tags
from modelops.defs.outputs import (
    Metadata,
    location_metadata,
    markdown,
    stored_report,
)
from modelops.defs.partitions import month_of, monthly_partitions
from modelops.defs.prediction_assets import predictions_asset
from modelops.defs.production_checks import production_checks
from modelops.defs.versioning import code_version
from modelops.formatting import json_document
from modelops.governance.champion import champion_bundle
from modelops.ml.batch_parsing import batch_facts, batch_filename
from modelops.monitoring.history import drift_history as read_drift_history
from modelops.resources.alerts import AlertSink
from modelops.resources.audit_log import AuditLog
from modelops.resources.decision_store import DecisionLogStore
from modelops.resources.source import DataSource
from modelops.resources.storage import ArtifactStore
from modelops.spec import UseCaseSpec

DRIFT_CHECK = "no_dataset_drift"


class NoChampionError(RuntimeError):
    """A month's drift cannot be measured: no model is champion yet."""


FEATURES_PLOT = "most_moved_inputs.png"


def monitoring_assets(spec: UseCaseSpec) -> list[dg.AssetsDefinition]:
    """The monthly scoring assets of a use case with a `monitoring` section (else none)."""
    if spec.monitoring is None:
        return []
    monitoring = spec.monitoring
    uc = spec.id
    partitions = monthly_partitions(spec)

    def key(name: str) -> dg.AssetKey:
        return dg.AssetKey([uc, name])

    light = pod_tags(spec.compute.default)
    data_owners, model_owners = spec.owners.dataset_owners, spec.owners.dagster_owners

    @dg.asset(
        key=key(names.BATCH),
        partitions_def=partitions,
        owners=data_owners,
        kinds={"polars", monitoring.batches.format or "parquet"},
        code_version=code_version(("modelops.resources.source",), monitoring.batches),
        description=f"The month's applications exactly as delivered ({monitoring.batches.path}).",
        freshness_policy=dg.FreshnessPolicy.time_window(fail_window=spec.freshness.source_max_age),
        group_name=uc,
        op_tags=light,
    )
    def production_batch(
        context: dg.AssetExecutionContext, source: DataSource, store: ArtifactStore
    ) -> dg.MaterializeResult:
        month = month_of(context.partition_key)
        batch_source = monitoring.batches.source_for(month, spec.source)
        content = source.read_bytes(batch_source)
        facts = batch_facts(content, batch_source, section="monitoring.batches")
        name, filename = names.monthly(names.BATCH, month), batch_filename(batch_source)
        version = store.store_files(uc, name, {filename: content})
        return dg.MaterializeResult(
            data_version=dg.DataVersion(version),
            metadata={
                "dagster/row_count": facts.rows,
                "uri": dg.MetadataValue.url(store.link(uc, name, version, filename)),
                "source": location_metadata(source.location(batch_source)),
                names.SOURCE_TOKEN: source.probe(batch_source) or "",
            },
        )

    production_features = production_checks(spec)
    predictions = predictions_asset(spec)

    @dg.asset(
        key=key(names.MONTHLY_DRIFT),
        partitions_def=partitions,
        deps=[key(names.PRODUCTION_FEATURES), key(names.PREDICTIONS)],
        owners=model_owners,
        kinds={"numpy", "evidently"},
        check_specs=[
            dg.AssetCheckSpec(
                DRIFT_CHECK,
                asset=key(names.MONTHLY_DRIFT),
                description="The month's inputs have not drifted from the champion's "
                "training data.",
            )
        ],
        code_version=code_version(("modelops.ml.monthly_drift", "modelops.ml.drift"), spec.drift),
        description="Per-feature drift (Evidently's default tests, computed by the fast engine "
        "on every row), CSI per feature, PSI of the score, and Evidently's HTML report.",
        group_name=uc,
        op_tags=light,
    )
    def monthly_drift(
        context: dg.AssetExecutionContext,
        store: ArtifactStore,
        alerts: AlertSink,
        audit_log: AuditLog,
        decisions: DecisionLogStore,
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        import polars as pl

        from modelops.governance.champion import serving_champion
        from modelops.governance.serving_switch import unavailable_reason
        from modelops.ml.monthly_drift import DRIFT_FILE, MonthlyDrift, measure_month_drift
        from modelops.ml.plots.drift_plots import feature_shift_png
        from modelops.monitoring.online_traffic import (
            online_features,
            scored_decisions,
            with_online,
        )

        month = month_of(context.partition_key)
        batch_features = store.read_table(uc, names.monthly(names.PRODUCTION_FEATURES, month))
        online = decisions.month(uc, month, top_k=monitoring.reason_codes)
        features = with_online(batch_features, online_features(online, spec))
        try:
            bundle = champion_bundle(store, audit_log, spec)
        except Exception as exc:  # tampered or missing: the month was answered 'refer'
            version = serving_champion(audit_log, spec) or "none"
            summary = MonthlyDrift.not_measured(month, version, unavailable_reason(version, exc))
            yield stored_report(
                store,
                key(names.MONTHLY_DRIFT),
                names.monthly(names.MONTHLY_DRIFT, month),
                {DRIFT_FILE: json_document(summary.model_dump())},
                {"report": markdown(summary.note or ""), "model_version": version},
            )
            yield dg.AssetCheckResult(
                check_name=DRIFT_CHECK,
                asset_key=key(names.MONTHLY_DRIFT),
                passed=False,
                severity=dg.AssetCheckSeverity.WARN,
                description=summary.note,
            )
            return
        if bundle is None:
            raise NoChampionError(
                f"use case '{uc}', {month}: no champion model; drift compares a month with the "
                "champion's training data (approve a challenger first)"
            )
        online_rows = features.height - batch_features.height
        if features.height == 0:
            summary = MonthlyDrift.nothing_to_compare(month, bundle.model_version)
            files = {DRIFT_FILE: json_document(summary.model_dump())}
            text = summary.note or ""
            metadata: Metadata = {}
            alerts.notify(
                spec,
                "drift",
                f"{month}: no valid application to compare, every row was quarantined",
                month=month,
            )
        else:
            scores = store.read_table(uc, names.monthly(names.PREDICTIONS, month)).get_column(
                "score"
            )
            if online_rows:
                online_scores = scored_decisions(online).get_column("probability")
                scores = pl.concat([scores, online_scores.cast(scores.dtype).alias("score")])
            measure = measure_month_drift(bundle, features, scores, spec, month)
            summary, table = measure.summary, measure.result.to_markdown()
            moved = sorted(  # drifted inputs first, then by CSI
                measure.result.features,
                key=lambda c: (not c.drifted, -(c.psi if c.psi and c.psi == c.psi else 0.0)),
            )
            files = {
                DRIFT_FILE: json_document(summary.model_dump()),
                "drift.html": (measure.report.html or "").encode(),
                "drift.md": table.encode(),
                FEATURES_PLOT: feature_shift_png(
                    bundle.reference_sample,
                    features,
                    [c.column for c in moved[:4]],
                    title=f"{month}: the most moved inputs against the reference",
                ),
            }
            text = f"{summary.headline()}\n\n{table}"
            psi = summary.score_psi
            metadata = {
                "online_rows": online_rows,
                "drifted_share": summary.drifted_share,
                "score_psi": psi if psi is not None else float("nan"),
            }
            if summary.breach:
                alerts.notify(
                    spec,
                    "drift",
                    f"{month}: drift breach; {summary.drifted_share:.0%} of features drifted "
                    f"({', '.join(summary.drifted_columns[:6]) or 'none'}), largest CSI "
                    f"{summary.max_csi:.2f} ({summary.max_csi_column}), score PSI "
                    + (f"{psi:.3f}" if psi is not None else "n/a"),
                    month=month,
                    drifted_columns=summary.drifted_columns,
                )
        yield stored_report(
            store,
            key(names.MONTHLY_DRIFT),
            names.monthly(names.MONTHLY_DRIFT, month),
            files,
            {"report": markdown(text), "model_version": bundle.model_version, **metadata},
            links={"html_report": "drift.html"} if "drift.html" in files else None,
            images={"most_moved_inputs": FEATURES_PLOT} if FEATURES_PLOT in files else None,
        )
        yield dg.AssetCheckResult(
            check_name=DRIFT_CHECK,
            asset_key=key(names.MONTHLY_DRIFT),
            passed=not summary.breach,
            severity=dg.AssetCheckSeverity.WARN,
            description=summary.note
            or f"{summary.drifted_share:.0%} of features drifted; largest CSI "
            f"{summary.max_csi:.2f} ({summary.max_csi_column})",
        )

    @history_asset(spec, names.DRIFT_HISTORY, names.MONTHLY_DRIFT)
    def drift_history(store: ArtifactStore) -> dg.MaterializeResult:
        from modelops.ml.plots.drift_plots import drift_over_months_png, score_distribution_png

        history = read_drift_history(store, spec)
        if not history.height:
            return stored_history(store, key(names.DRIFT_HISTORY), history)
        months = history.get_column("month").to_list()
        scores = {
            m: store.read_table(uc, name).get_column("score").drop_nulls().to_numpy()
            for m in months[-24:]
            if store.current_version(uc, name := names.monthly(names.PREDICTIONS, m))
        }
        plots = {
            "psi_csi_over_months": drift_over_months_png(
                months,
                history.get_column("score_psi").to_list(),
                history.get_column("max_csi").to_list(),
                psi_breach=spec.drift.psi_breach,
                csi_breach=spec.drift.csi_breach,
                title=f"{uc}: drift over the months",
            ),
            "scores_by_month": score_distribution_png(
                scores, reference=None, title=f"{uc}: scores by month"
            ),
        }
        return stored_history(store, key(names.DRIFT_HISTORY), history, plots)

    return [production_batch, production_features, predictions, monthly_drift, drift_history]
