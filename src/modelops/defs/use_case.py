"""The asset graph of one use case, built from its spec (M7: onboarding is writing a spec).

    raw_dataset -> validated_dataset (+ quarantined_rows) -> features
      -> training_set + holdout_set -> trained_model -> evaluation_report -> release_gates
                                    |              \\-> fairness_report ---/      |
                                    |                                    model_release
                                    \\-> drift_report -------------------------> model_card

The release assets (fairness, gates, release) are built in `defs/governance.py`.

Each asset reads its inputs from the artifact store, calls plain functions from `modelops.ml`
and writes a new version of its output; the version is the content fingerprint (the model
version for the model), so Dagster shows lineage and "Unsynced" per use case. ML libraries are
imported inside the asset bodies: loading the code location must not pay for them.

(No `from __future__ import annotations` here: Dagster reads the context and resource
annotations of asset functions at definition time.)
"""

import json
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import polars as pl

from modelops.defs.governance import (
    FAIRNESS,
    GATE_PLAN_FILE,
    GATES,
    RELEASE,
    card_of_run,
    data_versions_of,
    governance_assets,
    run_actor,
)
from modelops.defs.kubernetes import pod_tags
from modelops.defs.outputs import (
    json_bytes,
    markdown_table,
    store_table,
    table_result,
    table_schema,
)
from modelops.defs.versioning import code_version, version_for_run
from modelops.ml.fingerprint import bytes_fingerprint
from modelops.provenance import code_revision, lock_digest
from modelops.resources.audit_log import AuditEvent, AuditLog
from modelops.resources.source import (
    DataSource,
    EmptySourceError,
    batch_facts,
    batch_filename,
    parse_batch,
)
from modelops.resources.storage import ArtifactStore
from modelops.resources.tracking import DatasetRef, ModelTracking
from modelops.spec.columns import LABEL, ROW_ID
from modelops.spec.model import UseCaseSpec
from modelops.spec.risk import RiskPolicy, load_risk_policy

RAW = "raw_dataset"
VALIDATED = "validated_dataset"
QUARANTINE = "quarantined_rows"
FEATURES = "features"
TRAINING = "training_set"
HOLDOUT = "holdout_set"
MODEL = "trained_model"
EVALUATION = "evaluation_report"
DRIFT = "drift_report"
CARD = "model_card"
LABELLED_PRODUCTION = "labelled_production"
"""Labelled production months (built by the monitoring assets) appended to the training
data when a use case monitors with labels."""

ASSET_NAMES = (
    RAW,
    VALIDATED,
    QUARANTINE,
    FEATURES,
    TRAINING,
    HOLDOUT,
    MODEL,
    EVALUATION,
    DRIFT,
    FAIRNESS,
    GATES,
    RELEASE,
    CARD,
)
MODEL_REF_FILE = "model.json"


def use_case_assets(
    spec: UseCaseSpec, policy: RiskPolicy | None = None
) -> list[dg.AssetsDefinition]:
    """Every asset and check of a use case; keys are `<use case>/<asset name>`."""
    uc = spec.id
    policy = policy or load_risk_policy()
    assessment = policy.assess(spec.risk, spec.data_schema.protected_attributes)

    def key(name: str) -> dg.AssetKey:
        return dg.AssetKey([uc, name])

    common = {"group_name": uc}
    # Pod requests when steps run on Kubernetes; ignored by the local in-process executor.
    light_step = {"op_tags": pod_tags(spec.compute.default)}
    training_step = {"op_tags": pod_tags(spec.compute.training)}
    data_owners = spec.owners.dataset_owners
    model_owners = spec.owners.dagster_owners

    # -- raw dataset -------------------------------------------------------------------------
    @dg.asset(
        **light_step,
        key=key(RAW),
        owners=data_owners,
        kinds={"polars", spec.source.resolved_format},
        code_version=code_version(("modelops.resources.source",), spec.source),
        freshness_policy=dg.FreshnessPolicy.time_window(fail_window=spec.freshness.source_max_age),
        description=f"The batch exactly as delivered by the source ({spec.source.description}).",
        **common,
    )
    def raw_dataset(
        context: dg.AssetExecutionContext, source: DataSource, store: ArtifactStore
    ) -> dg.MaterializeResult:
        content = source.read_bytes(spec.source, spec)
        facts = batch_facts(content, spec.source)
        if facts.rows == 0:
            raise EmptySourceError(f"source {source.location(spec.source)} has no rows")
        version = bytes_fingerprint(content)
        uri = store.write_bytes(uc, RAW, version, batch_filename(spec.source), content)
        store.publish(uc, RAW, version)
        metadata = {
            "dagster/row_count": facts.rows,
            "dagster/column_schema": table_schema(facts.schema),
            "uri": dg.MetadataValue.url(uri),
            "source": dg.MetadataValue.url(source.location(spec.source)),
            "bytes": len(content),
        }
        if spec.source.attribution:
            metadata["attribution"] = spec.source.attribution
        return dg.MaterializeResult(
            asset_key=key(RAW), data_version=dg.DataVersion(version), metadata=metadata
        )

    # -- validation + quarantine -------------------------------------------------------------
    quality_check = dg.AssetCheckSpec(
        "batch_quality",
        asset=key(VALIDATED),
        blocking=True,
        description=(
            f"At most {spec.data_schema.max_quarantine_share:.0%} of rows quarantined and at "
            f"least {spec.data_schema.min_valid_rows} valid rows; blocks everything downstream."
        ),
    )

    learns_from_production = spec.monitoring is not None and spec.monitoring.labels is not None

    def dataset_spec(
        name: str, upstream: str, kinds: set[str], version: str, description: str
    ) -> dg.AssetSpec:
        """One of the datasets a multi-asset step writes."""
        extra = [key(LABELLED_PRODUCTION)] if upstream == RAW and learns_from_production else []
        return dg.AssetSpec(
            key(name),
            deps=[key(upstream), *extra],
            owners=data_owners,
            kinds=kinds,
            code_version=version,
            description=description,
            **common,
        )

    validation_version = code_version(("modelops.ml.validation",), spec.data_schema)

    @dg.multi_asset(
        **light_step,
        name=f"{uc}__validate",
        specs=[
            dataset_spec(
                VALIDATED,
                RAW,
                {"pandera", "polars"},
                validation_version,
                "Rows that passed every check of the spec's schema, typed.",
            ),
            dataset_spec(
                QUARANTINE,
                RAW,
                {"pandera", "polars"},
                validation_version,
                "Rows that failed validation, as delivered, with every reason.",
            ),
        ],
        check_specs=[quality_check],
    )
    def validate(context: dg.AssetExecutionContext, store: ArtifactStore) -> Any:
        from modelops.ml.validation import validate_batch

        raw_version = store.require_current(uc, RAW)
        content = store.read_bytes(uc, RAW, raw_version, batch_filename(spec.source))
        batch = parse_batch(content, spec.source)
        if learns_from_production and store.current_version(uc, LABELLED_PRODUCTION):
            # Retraining learns from the labelled production months as well; all as text,
            # so both parts go through the same parsing and checks.
            produced = store.read_table(uc, LABELLED_PRODUCTION)
            batch = pl.concat(
                [batch.select(pl.all().cast(pl.String)), produced.select(batch.columns)],
                how="vertical",
            )
            context.log.info(f"training data: {produced.height} labelled production rows added")
        outcome = validate_batch(batch, spec)
        valid = store_table(store, uc, VALIDATED, outcome.valid)
        valid.metadata.update(
            {
                "quarantined_rows": outcome.quarantined.height,
                "quarantine_share": round(outcome.quarantine_share, 6),
                "failed_checks": dg.MetadataValue.md(markdown_table(outcome.failures, limit=50)),
            }
        )
        if outcome.ignored_columns:
            valid.metadata["ignored_source_columns"] = list(outcome.ignored_columns)
        quarantine = store_table(store, uc, QUARANTINE, outcome.quarantined)
        quarantine.metadata["sample"] = dg.MetadataValue.md(
            markdown_table(outcome.quarantined.select(ROW_ID, "reasons"), limit=20)
        )
        yield table_result(key(VALIDATED), valid)
        yield table_result(key(QUARANTINE), quarantine)

        limit, floor = spec.data_schema.max_quarantine_share, spec.data_schema.min_valid_rows
        problems = []
        if outcome.quarantine_share > limit:
            problems.append(
                f"{outcome.quarantine_share:.2%} of rows quarantined (limit {limit:.0%})"
            )
        if outcome.valid.height < floor:
            problems.append(f"{outcome.valid.height} valid rows (minimum {floor})")
        yield dg.AssetCheckResult(
            check_name="batch_quality",
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

    # -- features ------------------------------------------------------------------------------
    @dg.asset(
        **light_step,
        key=key(FEATURES),
        deps=[key(VALIDATED)],
        owners=data_owners,
        kinds={"polars"},
        code_version=code_version(("modelops.ml.features",), spec.features, spec.target),
        description="Model inputs (raw and engineered), analysis columns and the 0/1 label.",
        **common,
    )
    def features(context: dg.AssetExecutionContext, store: ArtifactStore) -> dg.MaterializeResult:
        from modelops.ml.features import build_features

        table = build_features(store.read_table(uc, VALIDATED), spec)
        result = store_table(store, uc, FEATURES, table)
        result.metadata["model_inputs"] = len(spec.model_inputs)
        result.metadata["positive_rate"] = round(float(table.get_column(LABEL).mean() or 0), 6)
        return table_result(key(FEATURES), result)

    # -- split ---------------------------------------------------------------------------------
    split_version = code_version(("modelops.ml.split",), spec.split)

    @dg.multi_asset(
        **light_step,
        name=f"{uc}__split",
        specs=[
            dataset_spec(
                TRAINING,
                FEATURES,
                {"polars"},
                split_version,
                f"Training rows ({spec.split_strategy} split, seed {spec.split.seed}).",
            ),
            dataset_spec(
                HOLDOUT,
                FEATURES,
                {"polars"},
                split_version,
                "Holdout rows, never seen in training: all reported metrics use them.",
            ),
        ],
    )
    def split(context: dg.AssetExecutionContext, store: ArtifactStore) -> Any:
        from modelops.ml.split import split_train_holdout

        train, holdout = split_train_holdout(store.read_table(uc, FEATURES), spec)
        for name, table in ((TRAINING, train), (HOLDOUT, holdout)):
            result = store_table(store, uc, name, table)
            result.metadata["positive_rate"] = round(float(table.get_column(LABEL).mean()), 6)
            yield table_result(key(name), result)

    # -- model ---------------------------------------------------------------------------------
    @dg.asset(
        **training_step,
        key=key(MODEL),
        deps=[key(TRAINING)],
        owners=model_owners,
        kinds={"scikitlearn", "mlflow"},
        # The tier policy fixes the gate plan recorded with the model: a policy change is a
        # code change of the model (and marks it Unsynced).
        code_version=code_version(
            ("modelops.ml.training", "modelops.ml.release_gates"),
            spec.model,
            spec.features,
            policy.for_tier(assessment.tier),
        ),
        freshness_policy=dg.FreshnessPolicy.time_window(fail_window=spec.freshness.model_max_age),
        description=(
            f"{spec.model.estimator} ({spec.model.preprocessing} preprocessing), registered in "
            f"MLflow as '{spec.registered_model_name}'. Data version = model version."
        ),
        **common,
    )
    def trained_model(
        context: dg.AssetExecutionContext,
        store: ArtifactStore,
        tracking: ModelTracking,
        audit_log: AuditLog,
    ) -> dg.MaterializeResult:
        from modelops.ml.metrics import binary_metrics
        from modelops.ml.release_gates import gate_plan
        from modelops.ml.training import fit_model, input_example, labels, predict_scores

        train_version = store.require_current(uc, TRAINING)
        train = store.read_table(uc, TRAINING, train_version)
        pipeline = fit_model(train, spec)
        fit = binary_metrics(labels(train), predict_scores(pipeline, train, spec))
        code = context.assets_def.code_versions_by_key.get(key(MODEL)) or "unknown"
        actor = run_actor(context)
        # The gates' thresholds are fixed now, before the model is evaluated (M4).
        plan = gate_plan(spec, assessment, policy.for_tier(assessment.tier))
        tags = {
            "modelops.use_case": uc,
            "modelops.git_commit": code_revision(),
            "modelops.code_version": code,
            "modelops.lock_sha256": lock_digest(),
            "modelops.training_set_version": train_version,
            "modelops.dagster_run_id": context.run.run_id,
            "modelops.owner": spec.owners.person,
            "modelops.team": spec.owners.team,
            "modelops.trained_by": actor,
            "modelops.risk_tier": assessment.tier,
            "modelops.gate_plan_sha256": plan.fingerprint(),
        }
        registered = tracking.record_training(
            use_case=uc,
            registered_name=spec.registered_model_name,
            model=pipeline,
            input_example=input_example(train, spec),
            params={
                "estimator": spec.model.estimator,
                "preprocessing": spec.model.preprocessing,
                "seed": spec.split.seed,
                **{f"model.{k}": v for k, v in spec.model.params.items()},
                "features": ",".join(spec.model_inputs),
            },
            metrics={f"train_{name}": value for name, value in fit.as_dict().items()},
            tags=tags,
            datasets=[
                (
                    DatasetRef(
                        f"{uc}/{TRAINING}",
                        store.uri(uc, TRAINING, train_version, "table.parquet"),
                        train_version,
                        "training",
                    ),
                    train.head(1000),
                )
            ],
            run_name=f"{uc}-{context.run.run_id[:8]}",
        )
        ref = {
            "registered_name": registered.name,
            "version": registered.version,
            "run_id": registered.run_id,
            "experiment_id": registered.experiment_id,
            "model_uri": registered.model_uri,
            "training_set_version": train_version,
            "holdout_set_version": store.current_version(uc, HOLDOUT),
            "trained_at": datetime.now(UTC).isoformat(),
            "training_rows": train.height,
            "training_positive_rate": fit.positives / fit.n,
            "estimator": spec.model.estimator,
            "code_version": code,
            "git_commit": tags["modelops.git_commit"],
            "lock_sha256": tags["modelops.lock_sha256"],
            "trained_by": actor,
            "artifact_sha256": registered.artifact_sha256,
            "risk_tier": assessment.tier,
            "spec": spec.model_dump(mode="json", by_alias=True),
        }
        data_versions = data_versions_of(ref)
        store.write_bytes(uc, MODEL, registered.version, GATE_PLAN_FILE, json_bytes(plan.to_dict()))
        store.write_bytes(uc, MODEL, registered.version, MODEL_REF_FILE, json_bytes(ref))
        tracking.log_files(
            registered.run_id, {GATE_PLAN_FILE: json_bytes(plan.to_dict())}, folder="governance"
        )
        for event, reason, details in (
            (
                "training",
                context.run.tags.get("modelops/retraining_reason") or "training run",
                {
                    "owner": spec.owners.person,
                    "run_id": registered.run_id,
                    "dagster_run_id": context.run.run_id,
                    "git_commit": tags["modelops.git_commit"],
                    "lock_sha256": tags["modelops.lock_sha256"],
                    "artifact_sha256": registered.artifact_sha256,
                    "estimator": spec.model.estimator,
                    "params": {k: str(v) for k, v in spec.model.params.items()},
                    "seed": spec.split.seed,
                    "risk_tier": assessment.tier,
                },
            ),
            (
                "gate_thresholds",
                "thresholds fixed before evaluation",
                {"plan": plan.to_dict(), "plan_fingerprint": plan.fingerprint()},
            ),
        ):
            audit_log.append(
                AuditEvent(
                    event=event,
                    actor=actor,
                    use_case=uc,
                    reason=reason,
                    model_version=registered.version,
                    data_versions=data_versions,
                    code_version=code,
                    details=details,
                )
            )
        store.publish(uc, MODEL, registered.version)
        return dg.MaterializeResult(
            asset_key=key(MODEL),
            data_version=dg.DataVersion(registered.version),
            metadata={
                "model_version": registered.version,
                "registered_model": registered.name,
                "model_uri": registered.model_uri,
                "mlflow_run": dg.MetadataValue.url(
                    tracking.run_url(registered.experiment_id, registered.run_id)
                ),
                "mlflow_version": dg.MetadataValue.url(
                    tracking.version_url(registered.name, registered.version)
                ),
                "training_rows": train.height,
                "train_auc": round(fit.auc, 6),
                "git_commit": tags["modelops.git_commit"],
                "risk_tier": assessment.tier,
                "trained_by": actor,
                "artifact_sha256": registered.artifact_sha256,
            },
        )

    # -- evaluation ----------------------------------------------------------------------------
    thresholds_check = dg.AssetCheckSpec(
        "meets_evaluation_thresholds",
        asset=key(EVALUATION),
        description="Holdout metrics within the spec's evaluation thresholds.",
    )

    @dg.asset(
        **training_step,
        key=key(EVALUATION),
        deps=[key(MODEL), key(TRAINING), key(HOLDOUT)],
        owners=model_owners,
        kinds={"scikitlearn", "mlflow"},
        code_version=code_version(
            ("modelops.ml.evaluation", "modelops.ml.metrics"), spec.evaluation
        ),
        check_specs=[thresholds_check],
        description="Holdout metrics vs a simple baseline and the current champion.",
        **common,
    )
    def evaluation_report(
        context: dg.AssetExecutionContext,
        store: ArtifactStore,
        tracking: ModelTracking,
        audit_log: AuditLog,
    ) -> Any:
        from modelops.ml.evaluation import build_evaluation_report
        from modelops.ml.training import fit_baseline, labels, predict_scores

        ref = _model_ref(store, uc, context)
        holdout = store.read_table(uc, HOLDOUT, ref["holdout_set_version"])
        model = tracking.load_model(ref["model_uri"])
        baseline = fit_baseline(store.read_table(uc, TRAINING, ref["training_set_version"]), spec)
        champion = _champion_scores(tracking, audit_log, spec, ref, holdout)
        report = build_evaluation_report(
            use_case=uc,
            model_version=ref["version"],
            labels=labels(holdout),
            candidate_scores=predict_scores(model, holdout, spec),
            baseline_scores=predict_scores(baseline, holdout, spec),
            baseline_name=spec.evaluation.baseline.estimator.rsplit(".", 1)[-1],
            champion=champion,
            segments={
                s: holdout.get_column(s).cast(pl.String).to_numpy()
                for s in spec.evaluation.segments
            },
            threshold=spec.evaluation.operating_threshold,
            calibration_bins=spec.evaluation.calibration_bins,
            thresholds={
                "min_auc": spec.evaluation.min_auc,
                "min_ks": spec.evaluation.min_ks,
                "max_brier": spec.evaluation.max_brier,
            },
        )
        markdown = report.to_markdown()
        files = {
            "evaluation.json": json_bytes(report.to_dict()),
            "evaluation.md": markdown.encode(),
            "roc.png": report.roc_plot_png(),
            "calibration.png": report.calibration_plot_png(),
        }
        version = bytes_fingerprint(files["evaluation.json"])
        for name, content in files.items():
            store.write_bytes(uc, EVALUATION, version, name, content)
        store.publish(uc, EVALUATION, version)
        tracking.log_files(ref["run_id"], files, folder="evaluation")
        candidate = report.candidate
        tracking.log_metrics(
            ref["run_id"], {f"holdout_{name}": value for name, value in candidate.as_dict().items()}
        )
        yield dg.MaterializeResult(
            asset_key=key(EVALUATION),
            data_version=dg.DataVersion(version),
            metadata={
                "report": dg.MetadataValue.md(markdown),
                "model_version": ref["version"],
                "holdout_auc": candidate.auc,
                "holdout_gini": candidate.gini,
                "holdout_ks": candidate.ks,
                "holdout_brier": candidate.brier,
                "baseline_auc": report.baseline.auc,
                "champion_version": champion.version if champion else "none",
                "report_uri": dg.MetadataValue.url(
                    store.uri(uc, EVALUATION, version, "evaluation.json")
                ),
            },
        )
        failed = [t for t in report.threshold_results if not t.passed]
        yield dg.AssetCheckResult(
            check_name="meets_evaluation_thresholds",
            asset_key=key(EVALUATION),
            passed=not failed,
            severity=dg.AssetCheckSeverity.ERROR,
            description="; ".join(f"{t.name}: {t.actual:.4f} vs limit {t.limit}" for t in failed)
            or "all thresholds met",
            metadata={t.name: float(t.actual) for t in report.threshold_results},
        )

    # -- drift ---------------------------------------------------------------------------------
    drift_check = dg.AssetCheckSpec(
        "no_dataset_drift",
        asset=key(DRIFT),
        description=f"Share of drifted features below {spec.drift.drift_share:.0%}.",
    )

    @dg.asset(
        **light_step,
        key=key(DRIFT),
        deps=[key(TRAINING), key(HOLDOUT)],
        owners=model_owners,
        kinds={"evidently"},
        code_version=code_version(("modelops.ml.drift",), spec.drift),
        check_specs=[drift_check],
        description="Evidently data drift of the holdout against the training reference.",
        **common,
    )
    def drift_report(context: dg.AssetExecutionContext, store: ArtifactStore) -> Any:
        from modelops.ml.drift import build_drift_report

        report = build_drift_report(
            store.read_table(uc, TRAINING),
            store.read_table(uc, HOLDOUT),
            numeric=spec.numeric_features,
            categorical=spec.categorical_features,
            drift_share=spec.drift.drift_share,
            stattest_threshold=spec.drift.stattest_threshold,
            max_rows=spec.drift.max_rows,
            seed=spec.split.seed,
        )
        markdown = report.to_markdown()
        files = {
            "drift.json": json_bytes(report.to_dict()),
            "drift.md": markdown.encode(),
            "drift.html": report.html.encode(),
        }
        version = bytes_fingerprint(files["drift.json"])
        for name, content in files.items():
            store.write_bytes(uc, DRIFT, version, name, content)
        store.publish(uc, DRIFT, version)
        yield dg.MaterializeResult(
            asset_key=key(DRIFT),
            data_version=dg.DataVersion(version),
            metadata={
                "report": dg.MetadataValue.md(markdown),
                "drifted_share": report.drifted_share,
                "drifted_features": sum(f.drifted for f in report.features),
                "html_report": dg.MetadataValue.url(store.uri(uc, DRIFT, version, "drift.html")),
            },
        )
        yield dg.AssetCheckResult(
            check_name="no_dataset_drift",
            asset_key=key(DRIFT),
            passed=not report.dataset_drift,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"{report.drifted_share:.0%} of features drifted",
        )

    # -- release assets (defs/governance.py) -------------------------------------------------
    release_assets = governance_assets(
        spec,
        policy,
        model=MODEL,
        evaluation=EVALUATION,
        training=TRAINING,
        holdout=HOLDOUT,
        raw=RAW,
        drift=DRIFT,
        card=CARD,
        read_model_ref=_model_ref,
    )

    # -- model card ----------------------------------------------------------------------------
    @dg.asset(
        **light_step,
        key=key(CARD),
        deps=[key(MODEL), key(EVALUATION), key(DRIFT), key(FAIRNESS), key(GATES), key(RELEASE)],
        owners=model_owners,
        kinds={"mlflow", "markdown"},
        code_version=code_version(
            ("modelops.ml.model_card",), spec.documentation, spec.owners, spec.risk
        ),
        description=(
            "The model card of the current model version (Mitchell et al.), with its risk tier, "
            "gate results, fairness and approvals; generated, never hand-written. Re-rendered "
            "on every approval, rejection, promotion and rollback."
        ),
        **common,
    )
    def model_card(
        context: dg.AssetExecutionContext,
        store: ArtifactStore,
        tracking: ModelTracking,
        audit_log: AuditLog,
    ) -> dg.MaterializeResult:
        from modelops.governance.release_desk import ReleaseDesk

        ref = _model_ref(store, uc, context)
        desk = ReleaseDesk(spec, policy, tracking, audit_log)
        markdown, version = card_of_run(
            context,
            spec,
            desk,
            store,
            tracking,
            ref,
            model=MODEL,
            card=CARD,
            evaluation=EVALUATION,
            drift=DRIFT,
        )
        return dg.MaterializeResult(
            asset_key=key(CARD),
            data_version=dg.DataVersion(version),
            metadata={
                "card": dg.MetadataValue.md(markdown),
                "model_version": ref["version"],
                "risk_tier": desk.tier,
                "card_uri": dg.MetadataValue.url(store.uri(uc, CARD, version, "model_card.md")),
                "card_html": dg.MetadataValue.url(store.uri(uc, CARD, version, "model_card.html")),
            },
        )

    return [
        raw_dataset,
        validate,
        features,
        split,
        trained_model,
        evaluation_report,
        drift_report,
        *release_assets,
        model_card,
    ]


# -- helpers shared by the assets above ------------------------------------------------------


def _model_ref(store: ArtifactStore, uc: str, context: Any = None) -> dict[str, Any]:
    """The model this run trained (the current one when the run did not train one)."""
    version = (
        version_for_run(context, store, uc, MODEL)
        if context is not None
        else store.require_current(uc, MODEL)
    )
    return json.loads(store.read_bytes(uc, MODEL, version, MODEL_REF_FILE))


def _champion_scores(
    tracking: ModelTracking,
    audit_log: AuditLog,
    spec: UseCaseSpec,
    ref: dict[str, Any],
    holdout: pl.DataFrame,
) -> Any:
    """Score the holdout with the current champion, if there is one other than the candidate.

    A champion trained on other features cannot score this holdout; that is reported in the
    evaluation (with the reason) rather than failing the candidate's evaluation.
    """
    from modelops.defs.governance import serving_champion
    from modelops.ml.evaluation import ChampionScores
    from modelops.ml.training import predict_scores

    version = serving_champion(audit_log, spec)
    if version is None or version == ref["version"]:
        return None
    try:
        model = tracking.load_model(f"models:/{spec.registered_model_name}/{version}")
        return ChampionScores(
            version=version, scores=predict_scores(model, holdout, spec), error=None
        )
    except Exception as exc:  # any failure to load or score is reported, not raised
        return ChampionScores(version=version, scores=None, error=f"{type(exc).__name__}: {exc}")
