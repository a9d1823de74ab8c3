"""Production scoring and monitoring of a use case, one partition per calendar month (UTC).

    production_batch -> production_features (+ production_quarantine) -> predictions
                                         \\-> monthly_drift -> drift_history
    labels -> realised_performance -> performance_history
    labels + production_batch -> labelled_production  (joins the next retraining's data)

Predictions come from the model the registry calls `champion`; every row carries that
version, so a decision can be traced to the model that made it. Each re-scoring of a month is
a new version of the month's predictions: earlier versions stay in the store. Rows that fail
validation, and whole batches when no model can score, still get an answer ("refer").

(No `from __future__ import annotations`: Dagster reads the annotations of asset functions.)
"""

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import polars as pl

from modelops.defs.kubernetes import pod_tags
from modelops.defs.outputs import json_bytes, markdown_table, store_table, table_result
from modelops.defs.use_case import HOLDOUT, LABELLED_PRODUCTION, MODEL, MODEL_REF_FILE, TRAINING
from modelops.defs.versioning import code_version
from modelops.ml.fingerprint import bytes_fingerprint
from modelops.ml.retraining import drift_breach
from modelops.resources.alerts import Alert, AlertSink
from modelops.resources.audit_log import AuditLog
from modelops.resources.source import DataSource, batch_facts, batch_filename, parse_batch
from modelops.resources.storage import ArtifactStore
from modelops.resources.tracking import ModelTracking
from modelops.spec.columns import ROW_ID
from modelops.spec.model import UseCaseSpec

PARTITION_TIMEZONE = "UTC"
CHAMPION = "champion"

BATCH = "production_batch"
PRODUCTION_FEATURES = "production_features"
PRODUCTION_QUARANTINE = "production_quarantine"
PREDICTIONS = "predictions"
MONTHLY_DRIFT = "monthly_drift"
DRIFT_HISTORY = "drift_history"
LABELS = "labels"
PERFORMANCE = "realised_performance"
PERFORMANCE_HISTORY = "performance_history"

MONITORING_ASSET_NAMES = (
    BATCH,
    PRODUCTION_FEATURES,
    PRODUCTION_QUARANTINE,
    PREDICTIONS,
    MONTHLY_DRIFT,
    DRIFT_HISTORY,
    LABELS,
    PERFORMANCE,
    PERFORMANCE_HISTORY,
    LABELLED_PRODUCTION,
)
SOURCE_TOKEN = "source_token"
"""Metadata key: the file's change token (size-mtime, GCS generation) when it was read, so a
sensor that lost its cursor can tell an already-processed file from a new one."""


def monthly_partitions(spec: UseCaseSpec) -> dg.MonthlyPartitionsDefinition:
    """Calendar months from the spec's start, in one timezone everywhere (time-window
    partition mappings fail at run time when two assets' timezones differ)."""
    assert spec.monitoring is not None
    return dg.MonthlyPartitionsDefinition(
        start_date=f"{spec.monitoring.start_month}-01", timezone=PARTITION_TIMEZONE
    )


def month_of(partition_key: str) -> str:
    """'2025-06-01' (Dagster's key) -> '2025-06' (the spec's {month})."""
    return partition_key[:7]


def monitoring_assets(spec: UseCaseSpec) -> list[dg.AssetsDefinition]:
    """Every monitoring asset of a use case with a `monitoring` section (else none)."""
    if spec.monitoring is None:
        return []
    monitoring = spec.monitoring
    uc = spec.id
    partitions = monthly_partitions(spec)
    carry = (monitoring.id_column,)

    def key(name: str) -> dg.AssetKey:
        return dg.AssetKey([uc, name])

    common: dict[str, Any] = {"group_name": uc, "op_tags": pod_tags(spec.compute.default)}
    data_owners, model_owners = spec.owners.dataset_owners, spec.owners.dagster_owners
    fresh_predictions = dg.FreshnessPolicy.time_window(
        fail_window=spec.freshness.predictions_max_age
    )

    def alert(alerts: AlertSink, kind: str, summary: str, **details: Any) -> None:
        alerts.send(
            Alert(
                use_case=uc,
                kind=kind,
                summary=summary,
                owners=tuple(spec.owners.dagster_owners),
                details=details,
            )
        )

    # -- the month's batch, as delivered -----------------------------------------------------
    @dg.asset(
        key=key(BATCH),
        partitions_def=partitions,
        owners=data_owners,
        kinds={"polars", monitoring.batches.format or "parquet"},
        code_version=code_version(("modelops.resources.source",), monitoring.batches),
        description=f"The month's applications exactly as delivered ({monitoring.batches.path}).",
        freshness_policy=dg.FreshnessPolicy.time_window(fail_window=spec.freshness.source_max_age),
        **common,
    )
    def production_batch(
        context: dg.AssetExecutionContext, source: DataSource, store: ArtifactStore
    ) -> dg.MaterializeResult:
        month = month_of(context.partition_key)
        batch_source = monitoring.batches.source_for(month, spec.source)
        content = source.read_bytes(batch_source)
        facts = batch_facts(content, batch_source)
        version = bytes_fingerprint(content)
        name = f"{BATCH}/{month}"
        uri = store.write_bytes(uc, name, version, batch_filename(batch_source), content)
        store.publish(uc, name, version)
        return dg.MaterializeResult(
            data_version=dg.DataVersion(version),
            metadata={
                "dagster/row_count": facts.rows,
                "uri": dg.MetadataValue.url(uri),
                "source": dg.MetadataValue.url(source.location(batch_source)),
                SOURCE_TOKEN: source.probe(batch_source) or "",
            },
        )

    # -- validation and features of the month --------------------------------------------------
    @dg.multi_asset(
        name=f"{uc}__production_features",
        partitions_def=partitions,
        specs=[
            dg.AssetSpec(
                key(PRODUCTION_FEATURES),
                deps=[key(BATCH)],
                owners=data_owners,
                kinds={"pandera", "polars"},
                group_name=uc,
                description="Valid applications of the month as model inputs.",
                code_version=code_version(
                    ("modelops.ml.validation", "modelops.ml.features"),
                    spec.data_schema,
                    spec.features,
                ),
            ),
            dg.AssetSpec(
                key(PRODUCTION_QUARANTINE),
                deps=[key(BATCH)],
                owners=data_owners,
                kinds={"pandera", "polars"},
                group_name=uc,
                description="Applications of the month that failed validation, "
                "with every reason; they are answered 'refer', never scored.",
                code_version=code_version(("modelops.ml.validation",), spec.data_schema),
            ),
        ],
        op_tags=common["op_tags"],
    )
    def production_features(
        context: dg.AssetExecutionContext, store: ArtifactStore, alerts: AlertSink
    ) -> Any:
        from modelops.ml.features import build_features
        from modelops.ml.validation import validate_batch

        month = month_of(context.partition_key)
        batch_source = monitoring.batches.source_for(month, spec.source)
        name = f"{BATCH}/{month}"
        content = store.read_bytes(
            uc, name, store.require_current(uc, name), batch_filename(batch_source)
        )
        outcome = validate_batch(
            parse_batch(content, batch_source), spec, labelled=False, carry=carry
        )
        features = build_features(outcome.valid, spec, with_label=False, carry=carry)
        broken = [
            c
            for c in spec.model_inputs
            if features.height and features.get_column(c).null_count() == features.height
        ]
        valid = store_table(store, uc, f"{PRODUCTION_FEATURES}/{month}", features)
        valid.metadata["quarantine_share"] = round(outcome.quarantine_share, 6)
        valid.metadata["failed_checks"] = dg.MetadataValue.md(
            markdown_table(outcome.failures, limit=30)
        )
        if broken:
            valid.metadata["all_null_inputs"] = broken
        quarantine = store_table(store, uc, f"{PRODUCTION_QUARANTINE}/{month}", outcome.quarantined)
        yield table_result(key(PRODUCTION_FEATURES), valid)
        yield table_result(key(PRODUCTION_QUARANTINE), quarantine)
        limit = spec.data_schema.max_quarantine_share
        if outcome.quarantine_share > limit or broken:
            problem = (
                f"{outcome.quarantine_share:.1%} of {month}'s applications failed "
                f"validation (limit {limit:.0%})"
            )
            if broken:
                problem += f"; input(s) {', '.join(broken)} arrived all-null"
            context.log.warning(problem)
            alert(
                alerts,
                "validation",
                problem,
                month=month,
                top_failures=outcome.failures.head(5).to_dicts(),
            )

    # -- predictions ------------------------------------------------------------------------------
    @dg.asset(
        key=key(PREDICTIONS),
        partitions_def=partitions,
        deps=[key(PRODUCTION_FEATURES), key(PRODUCTION_QUARANTINE)],
        owners=model_owners,
        kinds={"scikitlearn", "mlflow", "polars"},
        code_version=code_version(("modelops.ml.scoring",), spec.evaluation, monitoring),
        description="One answer per application: model version, score, decision, reason "
        "codes, outlier flag. Quarantined applications are answered 'refer'.",
        freshness_policy=fresh_predictions,
        group_name=uc,
        op_tags=pod_tags(spec.compute.training),
    )
    def predictions(
        context: dg.AssetExecutionContext,
        store: ArtifactStore,
        tracking: ModelTracking,
        alerts: AlertSink,
        audit_log: AuditLog,
    ) -> dg.MaterializeResult:
        from modelops.ml.scoring import fallback_predictions, score_batch

        month = month_of(context.partition_key)
        features = store.read_table(uc, f"{PRODUCTION_FEATURES}/{month}")
        quarantined = store.read_table(uc, f"{PRODUCTION_QUARANTINE}/{month}")
        now = datetime.now(UTC)
        champion = champion_model(tracking, store, spec, audit_log)
        top_k = monitoring.reason_codes
        if champion is None:
            scored = fallback_predictions(
                features.get_column(ROW_ID),
                reason="no champion model to score with",
                model_version=None,
                scored_at=now,
                top_k=top_k,
            )
            alert(
                alerts,
                "scoring",
                f"{month} answered 'refer' throughout: no champion model",
                month=month,
            )
        else:
            scored = score_batch(
                features,
                pipeline=champion.pipeline,
                reasons=champion.reasons,
                outliers=champion.outliers,
                spec=spec,
                model_version=champion.version,
                threshold=spec.evaluation.operating_threshold,
                top_k=top_k,
                scored_at=now,
            )
        referred = fallback_predictions(
            quarantined.get_column(ROW_ID),
            reason=quarantined.select("input failed validation: " + pl.col("reasons")).to_series(),
            model_version=champion.version if champion else None,
            scored_at=now,
            top_k=top_k,
        )
        ids = pl.concat([features.select(ROW_ID, *carry), quarantined.select(ROW_ID, *carry)])
        table = (
            pl.concat([scored, referred], how="vertical")
            .join(ids, on=ROW_ID, how="left")
            .with_columns(pl.lit(month).alias("month"))
            .sort(ROW_ID)
        )
        result = store_table(store, uc, f"{PREDICTIONS}/{month}", table)
        decisions = table.get_column("decision").value_counts(sort=True)
        result.metadata.update(
            {
                "model_version": champion.version if champion else "none",
                "refer_share": round(float((table["decision"] == "refer").mean() or 0), 6),
                "outlier_share": round(
                    float(table["outlier_flag"].fill_null(False).mean() or 0), 6
                ),
                "mean_score": float(table["score"].mean() or 0),
                "decisions": dg.MetadataValue.md(markdown_table(decisions, limit=10)),
            }
        )
        return table_result(key(PREDICTIONS), result)

    # -- drift of the month -----------------------------------------------------------------------
    drift_check = dg.AssetCheckSpec(
        "no_dataset_drift",
        asset=key(MONTHLY_DRIFT),
        description="The month's inputs have not drifted from the champion's training data.",
    )

    @dg.asset(
        key=key(MONTHLY_DRIFT),
        partitions_def=partitions,
        deps=[key(PRODUCTION_FEATURES), key(PREDICTIONS)],
        owners=model_owners,
        kinds={"numpy", "evidently"},
        check_specs=[drift_check],
        code_version=code_version(("modelops.ml.drift_engine", "modelops.ml.drift"), spec.drift),
        description="Per-feature drift (Evidently's default tests, computed by the fast engine "
        "on every row), CSI per feature, PSI of the score, and Evidently's HTML report.",
        **common,
    )
    def monthly_drift(
        context: dg.AssetExecutionContext,
        store: ArtifactStore,
        tracking: ModelTracking,
        alerts: AlertSink,
        audit_log: AuditLog,
    ) -> Any:
        from modelops.ml.drift import build_drift_report
        from modelops.ml.drift_engine import score_psi

        month = month_of(context.partition_key)
        features = store.read_table(uc, f"{PRODUCTION_FEATURES}/{month}")
        scored = store.read_table(uc, f"{PREDICTIONS}/{month}")
        champion = champion_model(tracking, store, spec, audit_log)
        if champion is None:
            raise RuntimeError("no champion model: drift is measured against its training data")
        if features.height == 0:
            # Every application was quarantined (e.g. an upstream feature broke): there is
            # nothing to compare, which is itself the worst possible drift.
            summary = _empty_month_summary(month, champion.version)
            name = f"{MONTHLY_DRIFT}/{month}"
            content = json_bytes(summary)
            version = bytes_fingerprint(content)
            store.write_bytes(uc, name, version, "drift.json", content)
            store.publish(uc, name, version)
            alert(
                alerts,
                "drift",
                f"{month}: no valid application to compare, every row was quarantined",
                month=month,
            )
            yield dg.MaterializeResult(
                asset_key=key(MONTHLY_DRIFT),
                data_version=dg.DataVersion(version),
                metadata={
                    "report": dg.MetadataValue.md(summary["note"]),
                    "model_version": champion.version,
                },
            )
            yield dg.AssetCheckResult(
                check_name="no_dataset_drift",
                asset_key=key(MONTHLY_DRIFT),
                passed=False,
                severity=dg.AssetCheckSeverity.WARN,
                description=summary["note"],
            )
            return
        result = champion.drift_reference.compare(
            features,
            stattest_threshold=spec.drift.stattest_threshold,
            drift_share=spec.drift.drift_share,
        )
        scores = scored.get_column("score").drop_nulls()
        stability = score_psi(champion.holdout_scores, scores) if scores.len() else None
        inputs = [
            c for c in spec.model_inputs if features.get_column(c).null_count() < features.height
        ]
        report = build_drift_report(
            champion.training.select(inputs),
            features.select(inputs),
            numeric=[c for c in spec.numeric_features if c in inputs],
            categorical=[c for c in spec.categorical_features if c in inputs],
            drift_share=spec.drift.drift_share,
            stattest_threshold=spec.drift.stattest_threshold,
            max_rows=spec.drift.max_rows,
            seed=spec.split.seed,
        )
        top_csi = max(result.features, key=lambda c: c.psi if c.psi == c.psi else -1.0)
        breach = drift_breach(
            dataset_drift=result.dataset_drift,
            score_psi=stability.psi if stability else None,
            max_csi=top_csi.psi,
            drift=spec.drift,
        )
        summary = {
            "month": month,
            "model_version": champion.version,
            "rows": features.height,
            "drifted_share": result.drifted_share,
            "dataset_drift": result.dataset_drift,
            "drifted_columns": result.drifted_columns,
            "score_psi": stability.psi if stability else None,
            "score_psi_band": stability.band if stability else None,
            "max_csi": top_csi.psi,
            "max_csi_column": top_csi.column,
            "breach": breach,
            "columns": result.to_dict(),
        }
        files = {
            "drift.json": json_bytes(summary),
            "drift.html": report.html.encode(),
            "drift.md": result.to_markdown().encode(),
        }
        version = bytes_fingerprint(files["drift.json"])
        name = f"{MONTHLY_DRIFT}/{month}"
        for filename, content in files.items():
            store.write_bytes(uc, name, version, filename, content)
        store.publish(uc, name, version)
        yield dg.MaterializeResult(
            asset_key=key(MONTHLY_DRIFT),
            data_version=dg.DataVersion(version),
            metadata={
                "report": dg.MetadataValue.md(_drift_markdown(summary, result.to_markdown())),
                "drifted_share": result.drifted_share,
                "score_psi": stability.psi if stability else float("nan"),
                "model_version": champion.version,
                "html_report": dg.MetadataValue.url(store.uri(uc, name, version, "drift.html")),
            },
        )
        if breach:
            alert(
                alerts,
                "drift",
                f"{month}: drift breach; {result.drifted_share:.0%} of features drifted "
                f"({', '.join(result.drifted_columns[:6]) or 'none'}), largest CSI "
                f"{top_csi.psi:.2f} ({top_csi.column}), score PSI "
                + (f"{stability.psi:.3f}" if stability else "n/a"),
                month=month,
                drifted_columns=result.drifted_columns,
            )
        yield dg.AssetCheckResult(
            check_name="no_dataset_drift",
            asset_key=key(MONTHLY_DRIFT),
            passed=not breach,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"{result.drifted_share:.0%} of features drifted; largest CSI "
            f"{top_csi.psi:.2f} ({top_csi.column})",
        )

    @dg.asset(
        key=key(DRIFT_HISTORY),
        automation_condition=dg.AutomationCondition.eager(),
        deps=[key(MONTHLY_DRIFT)],
        owners=model_owners,
        kinds={"polars"},
        code_version=code_version(("modelops.defs.monitoring",)),
        description="Drift of every scored month, as the retraining sensor reads it.",
        **common,
    )
    def drift_history(store: ArtifactStore) -> dg.MaterializeResult:
        history = read_drift_history(store, spec)
        result = store_table(store, uc, DRIFT_HISTORY, history)
        result.metadata["history"] = dg.MetadataValue.md(markdown_table(history, limit=36))
        return table_result(key(DRIFT_HISTORY), result)

    assets = [production_batch, production_features, predictions, monthly_drift, drift_history]
    if monitoring.labels is not None:
        assets += _label_assets(spec, partitions, key, common, alert)
    return assets


def _label_assets(
    spec: UseCaseSpec,
    partitions: dg.PartitionsDefinition,
    key: Any,
    common: dict[str, Any],
    alert: Any,
) -> list[dg.AssetsDefinition]:
    """Labels arrive months after scoring; then realised performance per vintage, and the
    labelled applications join the data the next retraining learns from."""
    monitoring = spec.monitoring
    assert monitoring is not None and monitoring.labels is not None
    labels_files = monitoring.labels
    uc = spec.id
    target_header = spec.data_schema.column(spec.target.column).header

    @dg.asset(
        key=key(LABELS),
        partitions_def=partitions,
        owners=spec.owners.dataset_owners,
        kinds={"polars"},
        code_version=code_version(("modelops.resources.source",), labels_files),
        description=f"Outcomes of the month's applications, once known ({labels_files.path}).",
        **common,
    )
    def labels(
        context: dg.AssetExecutionContext, source: DataSource, store: ArtifactStore
    ) -> dg.MaterializeResult:
        month = month_of(context.partition_key)
        month_source = labels_files.source_for(month, spec.source)
        table = source.read(month_source).select(monitoring.id_column, target_header)
        result = store_table(store, uc, f"{LABELS}/{month}", table)
        result.metadata[SOURCE_TOKEN] = source.probe(month_source) or ""
        return table_result(key(LABELS), result)

    floor_check = dg.AssetCheckSpec(
        "above_performance_floor",
        asset=key(PERFORMANCE),
        description=f"Realised AUC of the vintage at least {monitoring.retraining.min_auc}.",
    )

    @dg.asset(
        key=key(PERFORMANCE),
        partitions_def=partitions,
        deps=[key(LABELS), key(PREDICTIONS)],
        owners=spec.owners.dagster_owners,
        kinds={"scikitlearn"},
        check_specs=[floor_check],
        code_version=code_version(("modelops.ml.metrics",), monitoring.retraining),
        description="AUC/Gini/KS and calibration of the month's scored applications once "
        "their outcomes are known, against the figures at release.",
        **common,
    )
    def realised_performance(
        context: dg.AssetExecutionContext,
        store: ArtifactStore,
        tracking: ModelTracking,
        alerts: AlertSink,
    ) -> Any:
        from modelops.ml.metrics import binary_metrics, calibration_table

        month = month_of(context.partition_key)
        scored = store.read_table(uc, f"{PREDICTIONS}/{month}")
        outcome = store.read_table(uc, f"{LABELS}/{month}")
        joined = (
            scored.filter(pl.col("score").is_not_null())
            .join(outcome, on=monitoring.id_column, how="inner")
            .with_columns(
                (pl.col(target_header).cast(pl.String) == str(spec.target.positive_class))
                .cast(pl.Int8)
                .alias("label")
            )
        )
        if joined.height == 0 or joined.get_column("label").n_unique() < 2:
            raise ValueError(
                f"{month}: no scored application with a known outcome of both "
                "classes; realised performance needs both"
            )
        y, p = joined.get_column("label").to_numpy(), joined.get_column("score").to_numpy()
        metrics = binary_metrics(y, p)
        versions = joined.get_column("model_version").unique().to_list()
        release = (
            tracking.run_metric(spec.registered_model_name, str(versions[0]), "holdout_auc")
            if len(versions) == 1
            else None
        )
        summary = {
            "month": month,
            "model_version": ",".join(sorted(map(str, versions))),
            "labelled_rows": joined.height,
            **metrics.as_dict(),
            "release_auc": release,
            "calibration": [vars(b) for b in calibration_table(y, p, 10)],
        }
        files = {"performance.json": json_bytes(summary)}
        version = bytes_fingerprint(files["performance.json"])
        name = f"{PERFORMANCE}/{month}"
        store.write_bytes(uc, name, version, "performance.json", files["performance.json"])
        store.publish(uc, name, version)
        yield dg.MaterializeResult(
            asset_key=key(PERFORMANCE),
            data_version=dg.DataVersion(version),
            metadata={
                "auc": metrics.auc,
                "gini": metrics.gini,
                "ks": metrics.ks,
                "release_auc": release if release is not None else float("nan"),
                "labelled_rows": joined.height,
            },
        )
        floor = monitoring.retraining.min_auc
        below = floor is not None and metrics.auc < floor
        if below:
            alert(
                alerts,
                "performance",
                f"{month}: realised AUC {metrics.auc:.3f} below the "
                f"floor {floor} (at release {release})",
                month=month,
            )
        yield dg.AssetCheckResult(
            check_name="above_performance_floor",
            asset_key=key(PERFORMANCE),
            passed=not below,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"realised AUC {metrics.auc:.3f} (release {release}, floor {floor})",
        )

    @dg.asset(
        key=key(PERFORMANCE_HISTORY),
        automation_condition=dg.AutomationCondition.eager(),
        deps=[key(PERFORMANCE)],
        owners=spec.owners.dagster_owners,
        kinds={"polars"},
        code_version=code_version(("modelops.defs.monitoring",)),
        description="Realised performance of every labelled vintage.",
        **common,
    )
    def performance_history(store: ArtifactStore) -> dg.MaterializeResult:
        history = read_performance_history(store, spec)
        result = store_table(store, uc, PERFORMANCE_HISTORY, history)
        result.metadata["history"] = dg.MetadataValue.md(markdown_table(history, limit=36))
        return table_result(key(PERFORMANCE_HISTORY), result)

    @dg.asset(
        key=key(LABELLED_PRODUCTION),
        automation_condition=dg.AutomationCondition.eager(),
        deps=[key(LABELS), key(BATCH)],
        owners=spec.owners.dataset_owners,
        kinds={"polars"},
        code_version=code_version(("modelops.defs.monitoring",), monitoring.retraining),
        description=f"Applications of the last {monitoring.retraining.window_months} labelled "
        "months with their outcomes, in the source's columns: added to the training data.",
        **common,
    )
    def labelled_production(store: ArtifactStore) -> dg.MaterializeResult:
        table = assemble_labelled_production(store, spec)
        result = store_table(store, uc, LABELLED_PRODUCTION, table)
        return table_result(key(LABELLED_PRODUCTION), result)

    return [labels, realised_performance, performance_history, labelled_production]


# -- the champion, and what scoring and drift need of it ------------------------------------------


@dataclass(frozen=True)
class Champion:
    version: str
    pipeline: Any
    reasons: Any
    outliers: Any
    drift_reference: Any
    holdout_scores: Any
    training: pl.DataFrame


_CHAMPIONS: dict[tuple[str, str, str], Champion] = {}
_CHAMPIONS_LOCK = threading.Lock()


def champion_model(
    tracking: ModelTracking, store: ArtifactStore, spec: UseCaseSpec, audit_log: AuditLog
) -> Champion | None:
    """The champion (as the audit log records it) with its reason codes, outlier model and
    drift reference, built once per process and version (fitted on its own training data)."""
    from modelops.defs.governance import serving_champion

    version = serving_champion(audit_log, spec)
    if version is None:
        return None
    cache_key = (tracking.tracking_uri, spec.id, version)
    with _CHAMPIONS_LOCK:
        if cache_key in _CHAMPIONS:
            return _CHAMPIONS[cache_key]
    from modelops.ml.drift_engine import DriftReference
    from modelops.ml.scoring import OutlierModel, ReasonCodes
    from modelops.ml.training import predict_scores

    ref = json.loads(store.read_bytes(spec.id, MODEL, version, MODEL_REF_FILE))
    pipeline = tracking.load_model(ref["model_uri"])
    training = store.read_table(spec.id, TRAINING, ref["training_set_version"])
    holdout = store.read_table(spec.id, HOLDOUT, ref["holdout_set_version"])
    champion = Champion(
        version=version,
        pipeline=pipeline,
        reasons=ReasonCodes.fit(pipeline, training, spec),
        outliers=OutlierModel.fit(training, spec),
        drift_reference=DriftReference.fit(
            training, numeric=spec.numeric_features, categorical=spec.categorical_features
        ),
        holdout_scores=predict_scores(pipeline, holdout, spec),
        training=training,
    )
    with _CHAMPIONS_LOCK:
        _CHAMPIONS[cache_key] = champion
    return champion


# -- histories read from the store -------------------------------------------------------------


def scored_months(store: ArtifactStore, spec: UseCaseSpec, asset: str) -> list[str]:
    """Months of the spec's calendar for which `asset` has a published version."""
    months = [month_of(k) for k in monthly_partitions(spec).get_partition_keys()]
    return [m for m in months if store.current_version(spec.id, f"{asset}/{m}") is not None]


def read_drift_history(store: ArtifactStore, spec: UseCaseSpec) -> pl.DataFrame:
    rows = []
    for month in scored_months(store, spec, MONTHLY_DRIFT):
        name = f"{MONTHLY_DRIFT}/{month}"
        data = json.loads(
            store.read_bytes(spec.id, name, store.require_current(spec.id, name), "drift.json")
        )
        rows.append(
            {
                "month": month,
                "model_version": data["model_version"],
                "rows": data["rows"],
                "drifted_share": data["drifted_share"],
                "dataset_drift": data["dataset_drift"],
                "score_psi": data["score_psi"],
                "max_csi": data["max_csi"],
                "breach": data["breach"],
                "drifted_columns": ", ".join(data["drifted_columns"]),
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "month": pl.String,
            "model_version": pl.String,
            "rows": pl.Int64,
            "drifted_share": pl.Float64,
            "dataset_drift": pl.Boolean,
            "score_psi": pl.Float64,
            "max_csi": pl.Float64,
            "breach": pl.Boolean,
            "drifted_columns": pl.String,
        },
    )


def read_performance_history(store: ArtifactStore, spec: UseCaseSpec) -> pl.DataFrame:
    rows = []
    for month in scored_months(store, spec, PERFORMANCE):
        name = f"{PERFORMANCE}/{month}"
        data = json.loads(
            store.read_bytes(
                spec.id, name, store.require_current(spec.id, name), "performance.json"
            )
        )
        rows.append(
            {
                key: data[key]
                for key in (
                    "month",
                    "model_version",
                    "labelled_rows",
                    "auc",
                    "gini",
                    "ks",
                    "release_auc",
                )
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "month": pl.String,
            "model_version": pl.String,
            "labelled_rows": pl.Int64,
            "auc": pl.Float64,
            "gini": pl.Float64,
            "ks": pl.Float64,
            "release_auc": pl.Float64,
        },
    )


def assemble_labelled_production(store: ArtifactStore, spec: UseCaseSpec) -> pl.DataFrame:
    """The last `window_months` months that have both a batch and labels, joined, in the
    training source's columns (the id dropped), ready to be appended to the training data."""
    monitoring = spec.monitoring
    assert monitoring is not None
    headers = [c.header for c in spec.data_schema.columns]
    months = [
        m
        for m in scored_months(store, spec, LABELS)
        if store.current_version(spec.id, f"{BATCH}/{m}") is not None
    ]
    parts = []
    for month in months[-monitoring.retraining.window_months :]:
        batch_source = monitoring.batches.source_for(month, spec.source)
        name = f"{BATCH}/{month}"
        batch = parse_batch(
            store.read_bytes(
                spec.id, name, store.require_current(spec.id, name), batch_filename(batch_source)
            ),
            batch_source,
        )
        outcome = store.read_table(spec.id, f"{LABELS}/{month}")
        joined = batch.join(outcome, on=monitoring.id_column, how="inner")
        parts.append(joined.select([pl.col(h).cast(pl.String) for h in headers]))
    if not parts:
        return pl.DataFrame(schema=dict.fromkeys(headers, pl.String))
    return pl.concat(parts, how="vertical")


def _empty_month_summary(month: str, model_version: str) -> dict[str, Any]:
    return {
        "month": month,
        "model_version": model_version,
        "rows": 0,
        "drifted_share": 1.0,
        "dataset_drift": True,
        "drifted_columns": [],
        "score_psi": None,
        "score_psi_band": None,
        "max_csi": None,
        "max_csi_column": None,
        "breach": True,
        "columns": {},
        "note": f"{month}: no valid application to compare; every row was "
        "quarantined (see production_quarantine)",
    }


def _drift_markdown(summary: dict[str, Any], table: str) -> str:
    filled = round(summary["drifted_share"] * 20)
    bar = "█" * filled + "░" * (20 - filled)
    psi = summary["score_psi"]
    return "\n".join(
        [
            f"**{summary['month']}** vs the training data of model {summary['model_version']}: "
            f"`{bar}` {summary['drifted_share']:.0%} of features drifted"
            + (f", score PSI {psi:.3f} ({summary['score_psi_band']})" if psi is not None else ""),
            "",
            table,
        ]
    )
