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

from modelops import names
from modelops.defs.kubernetes import pod_tags
from modelops.defs.outputs import (
    Metadata,
    dataset_spec,
    for_the_ui,
    location_metadata,
    stored_table,
    table_markdown,
    table_schema,
)
from modelops.defs.versioning import code_version
from modelops.ml.batch_parsing import batch_facts, batch_filename
from modelops.resources.source import DataSource
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
    descriptions = {
        names.VALIDATED: "Rows that passed every check of the spec's schema, typed.",
        names.QUARANTINE: "Rows that failed validation, as delivered, with every reason.",
        names.TRAINING: f"Training rows ({spec.split_strategy} split, seed {spec.split.seed}).",
        names.HOLDOUT: "Holdout rows, never seen in training: all reported metrics use them.",
    }

    def datasets(upstream: str, version: str, *outputs: str) -> list[dg.AssetSpec]:
        """The datasets one step writes from `upstream`. Validation checks with pandera, and
        also reads the labelled production months the training data gains."""
        validates = upstream == names.RAW
        deps = [key(upstream)]
        if validates and learns_from_production:
            deps.append(key(names.LABELLED_PRODUCTION))
        kinds = {"pandera", "polars"} if validates else {"polars"}
        return [dataset_spec(spec, n, deps, kinds, version, descriptions[n]) for n in outputs]

    @dg.asset(
        key=key(names.RAW),
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
        facts = batch_facts(content, spec.source)  # refuses an empty or unreadable batch
        version = store.store_files(uc, names.RAW, {batch_filename(spec.source): content})
        metadata: Metadata = {
            "dagster/row_count": facts.rows,
            "dagster/column_schema": table_schema(facts.schema),
            "uri": dg.MetadataValue.url(
                store.link(uc, names.RAW, version, batch_filename(spec.source))
            ),
            "source": location_metadata(source.location(spec.source)),
            "bytes": len(content),
        }
        if spec.source.attribution:
            metadata["attribution"] = spec.source.attribution
        return dg.MaterializeResult(
            asset_key=key(names.RAW), data_version=dg.DataVersion(version), metadata=metadata
        )

    limit, floor = spec.data_schema.max_quarantine_share, spec.data_schema.min_valid_rows
    validation_version = code_version(
        (
            "modelops.ml.validation",
            "modelops.ml.value_reading",
            "modelops.ml.missing_policy",
            "modelops.ml.category_limits",
            "modelops.ml.row_failures",
        ),
        spec.data_schema,
        spec.target,  # a mapped target's values are checked; `reject` inputs too
        spec.features.missing,
    )

    @dg.multi_asset(
        name=f"{uc}__validate",
        specs=datasets(names.RAW, validation_version, names.VALIDATED, names.QUARANTINE),
        check_specs=[
            dg.AssetCheckSpec(
                BATCH_QUALITY,
                asset=key(names.VALIDATED),
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
        from modelops.monitoring.labelled_production import production_months, training_batch

        batch, added = training_batch(store, spec, with_production=learns_from_production)
        months = production_months(store, spec) if added else ()
        if added:
            context.log.info(
                f"training data: {added} labelled production rows added "
                f"({', '.join(months) or 'months not recorded'})"
            )
        outcome = validate_batch(batch, spec, file=spec.source.description)
        extra: Metadata = {
            "quarantined_rows": outcome.quarantined.height,
            "quarantine_share": round(outcome.quarantine_share, 6),
            "duplicate_rows": outcome.duplicate_rows,
            "failed_checks": table_markdown(outcome.failures, limit=50),
        }
        if added:
            extra["labelled_production_rows"] = added
            extra["production_months"] = ", ".join(months) or "not recorded"
        if outcome.ignored_columns:
            extra["ignored_source_columns"] = list(outcome.ignored_columns)
        for warning in outcome.warnings:  # a category with too many values: not a failure
            context.log.warning(warning)
        if outcome.warnings:
            extra["warnings"] = list(outcome.warnings)
        yield stored_table(store, key(names.VALIDATED), names.VALIDATED, outcome.valid, extra)
        yield stored_table(
            store,
            key(names.QUARANTINE),
            names.QUARANTINE,
            outcome.quarantined,
            {"sample": table_markdown(outcome.quarantined.select(ROW_ID, "reasons"), limit=20)},
        )
        problems = outcome.quality_problems(limit, floor)
        duplicates = f"{outcome.duplicate_rows} duplicate row(s) " + (
            "allowed by the spec (schema.duplicates)"
            if spec.data_schema.duplicates == "allow"
            else "quarantined (set schema.duplicates: allow if the copies are real cases)"
        )
        verdict = (
            f"{spec.source.description}: " + "; ".join(problems)
            if problems
            else "batch within quality limits"
        )
        yield dg.AssetCheckResult(
            check_name=BATCH_QUALITY,
            asset_key=key(names.VALIDATED),
            passed=not problems,
            severity=dg.AssetCheckSeverity.ERROR,
            description=verdict + (f"; {duplicates}" if outcome.duplicate_rows else ""),
            metadata=for_the_ui(
                {
                    "valid_rows": outcome.valid.height,
                    "quarantined_rows": outcome.quarantined.height,
                    "quarantine_share": outcome.quarantine_share,
                    "duplicate_rows": outcome.duplicate_rows,
                }
            ),
        )

    @dg.asset(
        key=key(names.FEATURES),
        deps=[key(names.VALIDATED)],
        owners=owners,
        kinds={"polars"},
        code_version=code_version(
            ("modelops.ml.features", "modelops.ml.target"), spec.features, spec.target
        ),
        description="Model inputs (raw and engineered), analysis columns and the 0/1 label.",
        **step,
    )
    def features(context: dg.AssetExecutionContext, store: ArtifactStore) -> dg.MaterializeResult:
        from modelops.ml.features import build_features

        validated = store.read_table(uc, names.VALIDATED)
        table = build_features(validated, spec)
        excluded = validated.height - table.height  # rows the target excludes (indeterminate)
        return stored_table(
            store,
            key(names.FEATURES),
            names.FEATURES,
            table,
            {
                "model_inputs": len(spec.model_inputs),
                "positive_rate": round(float(table.get_column(LABEL).mean() or 0), 6),
                "target_excluded_rows": excluded,
                "target_definition": spec.target.definition_text(excluded),
            },
        )

    split_version = code_version(("modelops.ml.split",), spec.split)

    @dg.multi_asset(
        name=f"{uc}__split",
        specs=datasets(names.FEATURES, split_version, names.TRAINING, names.HOLDOUT),
        op_tags=step["op_tags"],
    )
    def split(
        context: dg.AssetExecutionContext, store: ArtifactStore
    ) -> Iterator[dg.MaterializeResult]:
        from modelops.ml.split import split_train_holdout

        train, holdout = split_train_holdout(store.read_table(uc, names.FEATURES), spec)
        for name, table in ((names.TRAINING, train), (names.HOLDOUT, holdout)):
            positive_rate = round(float(table.get_column(LABEL).mean()), 6)
            yield stored_table(store, key(name), name, table, {"positive_rate": positive_rate})

    return [raw_dataset, validate, features, split]
