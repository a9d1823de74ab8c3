"""The data assets of a use case: the spec's `source`, `schema`, `features` and `split`.

    raw_dataset -> validated_dataset (+ quarantined_rows) -> features
      -> training_set + holdout_set

Each asset reads its input from the artifact store, calls one function of `modelops.ml` and
stores a new version of its output under its content fingerprint. ML libraries are imported
inside the asset bodies: loading the code location must not pay for them.

(No `from __future__ import annotations`: Dagster reads the context and resource annotations
of asset functions at definition time.)
"""

from collections.abc import Iterator

import dagster as dg

from modelops.defs.kubernetes import pod_tags
from modelops.defs.outputs import Metadata, stored_table, table_markdown, table_schema
from modelops.defs.versioning import code_version
from modelops.ml.batch_parsing import batch_facts, batch_filename
from modelops.names import (
    FEATURES,
    HOLDOUT,
    LABELLED_PRODUCTION,
    QUARANTINE,
    RAW,
    TRAINING,
    VALIDATED,
)
from modelops.resources.source import DataSource, EmptySourceError
from modelops.resources.storage import ArtifactStore
from modelops.spec import UseCaseSpec
from modelops.spec.columns import LABEL, ROW_ID

BATCH_QUALITY = "batch_quality"


def data_assets(spec: UseCaseSpec) -> list[dg.AssetsDefinition]:
    """Raw batch to training and holdout sets; keys are `<use case>/<asset name>`."""
    uc = spec.id

    def key(name: str) -> dg.AssetKey:
        return dg.AssetKey([uc, name])

    step = {"op_tags": pod_tags(spec.compute.default), "group_name": uc}
    owners = spec.owners.dataset_owners
    learns_from_production = spec.monitoring is not None and spec.monitoring.labels is not None

    def dataset(name: str, upstream: str, version: str, description: str) -> dg.AssetSpec:
        """One of the datasets a multi-asset step writes."""
        extra = [key(LABELLED_PRODUCTION)] if upstream == RAW and learns_from_production else []
        return dg.AssetSpec(
            key(name),
            deps=[key(upstream), *extra],
            owners=owners,
            kinds={"polars"} if upstream != RAW else {"pandera", "polars"},
            code_version=version,
            description=description,
            group_name=uc,
        )

    @dg.asset(
        key=key(RAW),
        owners=owners,
        kinds={"polars", spec.source.resolved_format},
        code_version=code_version(("modelops.resources.source",), spec.source),
        freshness_policy=dg.FreshnessPolicy.time_window(fail_window=spec.freshness.source_max_age),
        description=f"The batch exactly as delivered by the source ({spec.source.description}).",
        **step,
    )
    def raw_dataset(
        context: dg.AssetExecutionContext, source: DataSource, store: ArtifactStore
    ) -> dg.MaterializeResult:
        content = source.read_bytes(spec.source, spec)
        facts = batch_facts(content, spec.source)
        if facts.rows == 0:
            raise EmptySourceError(f"source {source.location(spec.source)} has no rows")
        version = store.store_files(uc, RAW, {batch_filename(spec.source): content})
        metadata: Metadata = {
            "dagster/row_count": facts.rows,
            "dagster/column_schema": table_schema(facts.schema),
            "uri": dg.MetadataValue.url(store.uri(uc, RAW, version, batch_filename(spec.source))),
            "source": dg.MetadataValue.url(source.location(spec.source)),
            "bytes": len(content),
        }
        if spec.source.attribution:
            metadata["attribution"] = spec.source.attribution
        return dg.MaterializeResult(
            asset_key=key(RAW), data_version=dg.DataVersion(version), metadata=metadata
        )

    limit, floor = spec.data_schema.max_quarantine_share, spec.data_schema.min_valid_rows
    validation_version = code_version(("modelops.ml.validation",), spec.data_schema)

    @dg.multi_asset(
        name=f"{uc}__validate",
        specs=[
            dataset(
                VALIDATED,
                RAW,
                validation_version,
                "Rows that passed every check of the spec's schema, typed.",
            ),
            dataset(
                QUARANTINE,
                RAW,
                validation_version,
                "Rows that failed validation, as delivered, with every reason.",
            ),
        ],
        check_specs=[
            dg.AssetCheckSpec(
                BATCH_QUALITY,
                asset=key(VALIDATED),
                blocking=True,
                description=f"At most {limit:.0%} of rows quarantined and at least {floor} "
                "valid rows; blocks everything downstream.",
            )
        ],
        op_tags=step["op_tags"],
    )
    def validate(
        context: dg.AssetExecutionContext, store: ArtifactStore
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        from modelops.ml.validation import validate_batch
        from modelops.monitoring.labelled_production import training_batch

        batch, added = training_batch(store, spec, with_production=learns_from_production)
        if added:
            context.log.info(f"training data: {added} labelled production rows added")
        outcome = validate_batch(batch, spec)
        extra: Metadata = {
            "quarantined_rows": outcome.quarantined.height,
            "quarantine_share": round(outcome.quarantine_share, 6),
            "failed_checks": table_markdown(outcome.failures, limit=50),
        }
        if outcome.ignored_columns:
            extra["ignored_source_columns"] = list(outcome.ignored_columns)
        yield stored_table(store, key(VALIDATED), VALIDATED, outcome.valid, extra)
        yield stored_table(
            store,
            key(QUARANTINE),
            QUARANTINE,
            outcome.quarantined,
            {"sample": table_markdown(outcome.quarantined.select(ROW_ID, "reasons"), limit=20)},
        )
        problems = outcome.quality_problems(limit, floor)
        yield dg.AssetCheckResult(
            check_name=BATCH_QUALITY,
            asset_key=key(VALIDATED),
            passed=not problems,
            severity=dg.AssetCheckSeverity.ERROR,
            description="; ".join(problems) or "batch within quality limits",
            metadata={
                "valid_rows": outcome.valid.height,
                "quarantined_rows": outcome.quarantined.height,
                "quarantine_share": round(outcome.quarantine_share, 6),
            },
        )

    @dg.asset(
        key=key(FEATURES),
        deps=[key(VALIDATED)],
        owners=owners,
        kinds={"polars"},
        code_version=code_version(("modelops.ml.features",), spec.features, spec.target),
        description="Model inputs (raw and engineered), analysis columns and the 0/1 label.",
        **step,
    )
    def features(context: dg.AssetExecutionContext, store: ArtifactStore) -> dg.MaterializeResult:
        from modelops.ml.features import build_features

        table = build_features(store.read_table(uc, VALIDATED), spec)
        return stored_table(
            store,
            key(FEATURES),
            FEATURES,
            table,
            {
                "model_inputs": len(spec.model_inputs),
                "positive_rate": round(float(table.get_column(LABEL).mean() or 0), 6),
            },
        )

    split_version = code_version(("modelops.ml.split",), spec.split)

    @dg.multi_asset(
        name=f"{uc}__split",
        specs=[
            dataset(
                TRAINING,
                FEATURES,
                split_version,
                f"Training rows ({spec.split_strategy} split, seed {spec.split.seed}).",
            ),
            dataset(
                HOLDOUT,
                FEATURES,
                split_version,
                "Holdout rows, never seen in training: all reported metrics use them.",
            ),
        ],
        op_tags=step["op_tags"],
    )
    def split(
        context: dg.AssetExecutionContext, store: ArtifactStore
    ) -> Iterator[dg.MaterializeResult]:
        from modelops.ml.split import split_train_holdout

        train, holdout = split_train_holdout(store.read_table(uc, FEATURES), spec)
        for name, table in ((TRAINING, train), (HOLDOUT, holdout)):
            positive_rate = round(float(table.get_column(LABEL).mean()), 6)
            yield stored_table(store, key(name), name, table, {"positive_rate": positive_rate})

    return [raw_dataset, validate, features, split]
