"""The monthly `predictions` asset: one answer per application, whatever happened to it.

The champion's serving bundle answers through the scoring core (the batch door); a champion
trained in R or a separate Python environment is scored by that runtime through Dagster Pipes
and the bundle gives the reason codes. No champion, a stop, a model that cannot be loaded or
fails: every application is answered 'refer' with the reason, the owners are alerted and an
incident is recorded in the audit log.

(No `from __future__ import annotations`: Dagster reads the annotations of asset functions.)
"""

from datetime import UTC, datetime

import dagster as dg

from modelops import names
from modelops.defs.kubernetes import pod_tags
from modelops.defs.outputs import stored_table, table_markdown
from modelops.defs.partitions import month_of, monthly_partitions
from modelops.defs.runtime_steps import MonthRuntimeScores, month_scores_in_runtime
from modelops.defs.versioning import code_version
from modelops.resources.alerts import AlertSink
from modelops.resources.audit_log import AuditLog
from modelops.resources.model_runtimes import ModelRuntimeLauncher
from modelops.resources.runtime_pods import launcher_step_tags
from modelops.resources.storage import ArtifactStore
from modelops.spec import UseCaseSpec


def predictions_asset(spec: UseCaseSpec) -> dg.AssetsDefinition:
    assert spec.monitoring is not None  # only use cases with monitoring score months
    monitoring = spec.monitoring
    uc = spec.id
    partitions = monthly_partitions(spec)
    model_owners = spec.owners.dagster_owners

    def key(name: str) -> dg.AssetKey:
        return dg.AssetKey([uc, name])

    @dg.asset(
        key=key(names.PREDICTIONS),
        partitions_def=partitions,
        deps=[
            key(names.PRODUCTION_FEATURES),
            key(names.PRODUCTION_QUARANTINE),
            key(names.DATA_INCIDENTS),
        ],
        owners=model_owners,
        kinds={"scikitlearn", "mlflow", "polars"},
        code_version=code_version(
            (
                "modelops.ml.month_answers",
                "modelops.ml.scoring",
                "modelops.governance.serving_switch",
            ),
            spec.evaluation,
            monitoring,
        ),
        description="One answer per application: model version, score, decision, reason "
        "codes with their contributions, outlier flag. Quarantined applications, and every "
        "application of a stopped or unavailable model, are answered 'refer' with the reason.",
        freshness_policy=dg.FreshnessPolicy.time_window(
            fail_window=spec.freshness.predictions_max_age
        ),
        group_name=uc,
        op_tags=launcher_step_tags(pod_tags(spec.compute.training))  # scored in R / own env
        if spec.model.runtime.outside
        else pod_tags(spec.compute.training),
    )
    def predictions(
        context: dg.AssetExecutionContext,
        store: ArtifactStore,
        alerts: AlertSink,
        audit_log: AuditLog,
        runtimes: ModelRuntimeLauncher,
    ) -> dg.MaterializeResult:
        from modelops.governance.audit_records import AuditEvent
        from modelops.governance.serving_switch import SCORING_FALLBACK, production_model
        from modelops.ml.month_answers import MODEL_ERROR, answer_month, referred_throughout
        from modelops.monitoring.history import month_incidents

        month = month_of(context.partition_key)
        incidents = month_incidents(store, spec, month)
        if incidents is not None and incidents.held:
            raise dg.Failure(
                description=f"{incidents.headline()}: the month is held, nothing is answered "
                "until a person releases it: "
                f"modelops incident release -u {uc} --month {month} --reason TEXT",
                allow_retries=False,
            )
        model = production_model(store, audit_log, spec)
        incident_referral = (
            f"data incident: {incidents.headline()}"
            if incidents is not None and incidents.action == "refer" and incidents.release is None
            else None
        )
        features = store.read_table(uc, names.monthly(names.PRODUCTION_FEATURES, month))
        outside = MonthRuntimeScores()
        if model.bundle is not None and model.fallback_reason is None:
            outside = month_scores_in_runtime(
                context, spec, runtimes, store, model.version, features
            )
        table = answer_month(
            features,
            store.read_table(uc, names.monthly(names.PRODUCTION_QUARANTINE, month)),
            model.bundle,
            spec,
            month=month,
            scored_at=datetime.now(UTC),
            fallback_reason=model.fallback_reason or outside.fallback_reason,
            model_version=model.version,
            runtime_scores=outside.scores,
        )
        first = table.get_column("reason_1").head(1).to_list()
        failed = bool(first and first[0] and first[0].startswith(f"{MODEL_ERROR}:"))
        fallback = model.fallback_reason or (first[0] if failed else None)
        if fallback is not None and model.stop is None:
            # No champion, or one that cannot be used: the owners must know. (A stop was a
            # person's decision, recorded when it was made.)
            summary = f"{month} answered 'refer' throughout: {fallback}"
            context.log.warning(summary)
            incident = model.unavailable or failed
            severity = "critical" if incident else "warning"
            alerts.notify(
                spec, "scoring", summary, severity=severity, month=month, champion=model.version
            )
            if incident:
                audit_log.append(
                    AuditEvent(
                        event=SCORING_FALLBACK,
                        actor=f"dagster:{context.run_id}",
                        use_case=uc,
                        reason=f"{month}: {fallback}",
                        model_version=model.version,
                        details={"month": month, "door": "batch"},
                    )
                )
        if incident_referral:  # scored (the figures stay comparable), but a person decides
            table = referred_throughout(table)
            fallback = fallback or incident_referral
        decisions = table.get_column("decision").value_counts(sort=True)
        return stored_table(
            store,
            key(names.PREDICTIONS),
            names.monthly(names.PREDICTIONS, month),
            table,
            {
                "model_version": model.version or "none",
                "refer_share": round(float((table["decision"] == "refer").mean() or 0), 6),
                "outlier_share": round(
                    float(table["outlier_flag"].fill_null(False).mean() or 0), 6
                ),
                "mean_score": float(table["score"].mean() or 0),
                "decisions": table_markdown(decisions, limit=10),
                **({"fallback_reason": fallback} if fallback else {}),
                **(outside.metadata or {}),
            },
        )

    return predictions
