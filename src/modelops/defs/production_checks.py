"""The checks a production month goes through before it is scored: validation (bad rows
quarantined with every reason, repeated ids included, within the batch and against the months
already answered) and the month's classification: a data incident (something broke upstream)
or not, judged against the profile of the champion's training data.

    production_batch -> production_features + production_quarantine + data_incidents

An incident alerts the data owner with the evidence; what happens to the month (scored,
answered 'refer', or held until a person releases it) is the spec's
`monitoring.incidents.actions`, applied by the `predictions` asset. An incident month never
teaches: it is left out of labelled production data and drift references.

(No `from __future__ import annotations`: Dagster reads the annotations of asset functions.)
"""

from collections.abc import Iterator

import dagster as dg

from modelops import names
from modelops.defs.kubernetes import pod_tags
from modelops.defs.outputs import (
    Metadata,
    dataset_spec,
    markdown,
    stored_report,
    stored_table,
    table_markdown,
)
from modelops.defs.partitions import month_of, monthly_partitions
from modelops.defs.versioning import code_version
from modelops.formatting import json_document
from modelops.ml.batch_parsing import batch_filename, parse_batch
from modelops.resources.alerts import AlertSink
from modelops.resources.audit_log import AuditLog
from modelops.resources.storage import ArtifactStore
from modelops.spec import UseCaseSpec

INCIDENT_CHECK = "no_data_incident"


def production_checks(spec: UseCaseSpec) -> dg.AssetsDefinition:
    assert spec.monitoring is not None
    monitoring = spec.monitoring
    uc = spec.id
    carry = (monitoring.id_column,)

    def key(name: str) -> dg.AssetKey:
        return dg.AssetKey([uc, name])

    descriptions = {
        names.PRODUCTION_FEATURES: "Valid applications of the month as model inputs.",
        names.PRODUCTION_QUARANTINE: "Applications of the month that failed validation "
        "(repeated ids included), with every reason; they are answered 'refer', never scored.",
        names.DATA_INCIDENTS: "The month classified before it is scored: a data incident "
        "(unit or scale change, values outside the training range, a renamed category, an "
        "all-null input, too many quarantined rows or repeated ids) or not, and what the spec "
        "makes of it (score, refer, hold).",
    }
    validation_version = code_version(
        ("modelops.ml.validation", "modelops.ml.value_reading", "modelops.ml.row_failures"),
        spec.data_schema,
        monitoring.incidents,
    )
    features_version = code_version(
        ("modelops.ml.validation", "modelops.ml.value_reading", "modelops.ml.features"),
        spec.data_schema,
        spec.features,
    )
    incidents_version = code_version(
        ("modelops.ml.data_incidents", "modelops.ml.data_profile"), monitoring.incidents
    )

    def checked(name: str, version: str) -> dg.AssetSpec:
        deps, kinds = [key(names.BATCH)], {"pandera", "polars"}
        return dataset_spec(spec, name, deps, kinds, version, descriptions[name])

    @dg.multi_asset(
        name=f"{uc}__production_features",
        partitions_def=monthly_partitions(spec),
        specs=[
            checked(names.PRODUCTION_FEATURES, features_version),
            checked(names.PRODUCTION_QUARANTINE, validation_version),
            checked(names.DATA_INCIDENTS, incidents_version),
        ],
        check_specs=[
            dg.AssetCheckSpec(
                INCIDENT_CHECK,
                asset=key(names.DATA_INCIDENTS),
                description="The month's data is what the model was trained on, in kind: no "
                "data incident.",
            )
        ],
        op_tags=pod_tags(spec.compute.default),
    )
    def production_features(
        context: dg.AssetExecutionContext,
        store: ArtifactStore,
        alerts: AlertSink,
        audit_log: AuditLog,
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        from modelops.ml.data_incidents import classify_month, incident_lines
        from modelops.ml.features import all_null_inputs, build_features
        from modelops.ml.incident_record import INCIDENTS_FILE
        from modelops.ml.validation import validate_batch
        from modelops.monitoring.earlier_ids import earlier_answered_ids
        from modelops.monitoring.incident_profile import champion_profile

        month = month_of(context.partition_key)
        batch_source = monitoring.batches.source_for(month, spec.source)
        name = names.monthly(names.BATCH, month)
        content = store.read_bytes(
            uc, name, store.require_current(uc, name), batch_filename(batch_source)
        )
        outcome = validate_batch(
            parse_batch(content, batch_source, section="monitoring.batches"),
            spec,
            labelled=False,
            carry=carry,
            file=batch_source.description,
            earlier_ids=earlier_answered_ids(store, spec, month),
        )
        features = build_features(outcome.valid, spec, with_label=False, carry=carry)
        broken = all_null_inputs(features, spec)
        extra: Metadata = {
            "quarantine_share": round(outcome.quarantine_share, 6),
            "duplicate_rows": outcome.duplicate_rows,
            "duplicate_ids": outcome.duplicate_ids,
            "failed_checks": table_markdown(outcome.failures, limit=30),
        }
        if broken:
            extra["all_null_inputs"] = broken
        yield stored_table(
            store,
            key(names.PRODUCTION_FEATURES),
            names.monthly(names.PRODUCTION_FEATURES, month),
            features,
            extra,
        )
        yield stored_table(
            store,
            key(names.PRODUCTION_QUARANTINE),
            names.monthly(names.PRODUCTION_QUARANTINE, month),
            outcome.quarantined,
        )
        total_rows = outcome.valid.height + outcome.quarantined.height
        record = classify_month(
            champion_profile(store, audit_log, spec),
            features,
            spec,
            month=month,
            rows=total_rows,
            quarantine_failures=outcome.failures,
            all_null=broken,
            duplicate_ids=outcome.duplicate_ids,
        )
        text = "\n".join(incident_lines(record))
        yield stored_report(
            store,
            key(names.DATA_INCIDENTS),
            names.monthly(names.DATA_INCIDENTS, month),
            {INCIDENTS_FILE: json_document(record.model_dump(mode="json"))},
            {
                "report": markdown(text),
                "incident": record.is_incident,
                "severity": record.severity or "none",
                "action": record.action,
            },
        )
        yield dg.AssetCheckResult(
            check_name=INCIDENT_CHECK,
            asset_key=key(names.DATA_INCIDENTS),
            passed=not record.is_incident,
            severity=dg.AssetCheckSeverity.WARN,
            description=record.headline(),
        )
        if record.is_incident:
            context.log.warning(record.headline())
            alerts.notify(
                spec,
                "data_incident",
                record.headline(),
                severity=record.severity or "warning",
                to_data_owner=True,
                month=month,
                action=record.action,
                evidence=[i.evidence for i in record.incidents],
                top_failures=outcome.failures.head(5).to_dicts(),
            )

    return production_features
