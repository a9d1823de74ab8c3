"""The model assets of a use case: the spec's `model`, `evaluation` and `drift` sections.

    training_set -> trained_model -> evaluation_report
    training_set + holdout_set -> drift_report

`trained_model`'s data version is the registered model version; the reports' are their
content fingerprints. The logic lives in `governance.training_record` (fit, register, record)
and `modelops.ml` (evaluation, drift); these bodies read inputs and store outputs.

(No `from __future__ import annotations`: Dagster reads the annotations of asset functions.)
"""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import polars as pl

from modelops import names
from modelops.defs.kubernetes import pod_tags
from modelops.defs.outputs import for_the_ui, markdown, stored_report
from modelops.defs.run_context import run_actor, this_run_model
from modelops.defs.runtime_steps import (
    RUNTIME_CHECK,
    missing_runtime_check,
    train_in_runtime,
    trained_by,
)
from modelops.defs.versioning import code_version
from modelops.formatting import json_document
from modelops.governance.champion import champion_holdout_scores
from modelops.governance.explanation import EXPLANATION_JSON, EXPLANATION_MD, explain_version
from modelops.governance.training_record import TrainingRun, train_and_register
from modelops.monitoring.drift_window import recent_production_reference
from modelops.resources.audit_log import AuditLog
from modelops.resources.model_runtimes import ModelRuntimeLauncher
from modelops.resources.runtime_pods import launcher_step_tags
from modelops.resources.storage import ArtifactStore
from modelops.resources.tracking import ModelTracking
from modelops.spec import UseCaseSpec
from modelops.spec.risk import RiskPolicy

THRESHOLDS_CHECK = "meets_evaluation_thresholds"
DRIFT_CHECK = "no_dataset_drift"
RELEASE_DRIFT_PLOT = "most_moved_inputs.png"


def model_assets(spec: UseCaseSpec, policy: RiskPolicy) -> list[dg.AssetsDefinition]:
    uc = spec.id

    def key(name: str) -> dg.AssetKey:
        return dg.AssetKey([uc, name])

    owners = spec.owners.dagster_owners
    light_step = {"op_tags": pod_tags(spec.compute.default), "group_name": uc, "owners": owners}
    heavy_step = {"op_tags": pod_tags(spec.compute.training), "group_name": uc, "owners": owners}
    tier = policy.for_tier(policy.assess(spec.risk, spec.data_schema.protected_attributes).tier)

    runtime = spec.model.runtime
    model_step = {**heavy_step, "op_tags": launcher_step_tags(heavy_step["op_tags"])}

    @dg.asset(
        key=key(names.MODEL),
        deps=[key(names.TRAINING), key(names.HOLDOUT)]
        if runtime.outside
        else [key(names.TRAINING)],
        kinds={runtime.kind if runtime.outside else "scikitlearn", "mlflow"},
        check_specs=[
            dg.AssetCheckSpec(
                RUNTIME_CHECK,
                asset=key(names.MODEL),
                description=f"The {runtime.language} script reports a healthy fit.",
            )
        ]
        if runtime.outside
        else None,
        # The tier policy fixes the gate plan recorded with the model: a policy change is a
        # code change of the model (and marks it Unsynced).
        code_version=code_version(
            ("modelops.ml.training", "modelops.ml.missing_policy", "modelops.ml.release_gates"),
            spec.model,
            spec.features,
            tier,
        ),
        freshness_policy=dg.FreshnessPolicy.time_window(fail_window=spec.freshness.model_max_age),
        description=(
            f"{trained_by(spec)}, registered in MLflow as '{spec.registered_model_name}'. "
            "Data version = model version."
        ),
        **(model_step if runtime.outside else heavy_step),  # k8s: launches the script pod
    )
    def trained_model(
        context: dg.AssetExecutionContext,
        store: ArtifactStore,
        tracking: ModelTracking,
        audit_log: AuditLog,
        runtimes: ModelRuntimeLauncher,
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        run = TrainingRun(
            run_id=context.run.run_id,
            actor=run_actor(context),
            code_version=context.assets_def.code_versions_by_key.get(key(names.MODEL)) or "unknown",
            reason=context.run.tags.get(names.RETRAINING_REASON_TAG) or "training run",
        )
        outside = train_in_runtime(context, spec, runtimes, store) if runtime.outside else None
        recent = recent_production_reference(store, spec)
        trained = train_and_register(
            spec,
            policy,
            run,
            store=store,
            tracking=tracking,
            audit_log=audit_log,
            runtime=outside.fit if outside else None,
            project_dir=Path(runtimes.project_dir),
            reference=recent.frame if recent else None,
            reference_months=recent.months if recent else (),
        )
        from modelops.resources.package_logging import package_version  # MLflow, sklearn: lazy

        record = trained.record
        packages = package_version(
            tracking,
            store,
            spec,
            registered_name=record.registered_name,
            version=record.version,
            run_id=record.run_id,
            serving_bundle_sha256=record.serving_bundle_sha256,
        )
        yield dg.MaterializeResult(
            asset_key=key(names.MODEL),
            data_version=dg.DataVersion(record.version),
            metadata={
                "model_version": record.version,
                "registered_model": record.registered_name,
                "model_uri": record.model_uri,
                "mlflow_run": dg.MetadataValue.url(
                    tracking.run_url(record.experiment_id, record.run_id)
                ),
                "mlflow_version": dg.MetadataValue.url(
                    tracking.version_url(record.registered_name, record.version)
                ),
                "training_rows": record.training_rows,
                "train_auc": round(trained.train_auc, 4),
                "git_commit": record.git_commit,
                "risk_tier": record.risk_tier,
                "trained_by": record.trained_by,
                "artifact_sha256": record.artifact_sha256,
                "pyfunc_package": packages.pyfunc_uri or f"unavailable: {packages.pyfunc_error}",
                "onnx_parity": packages.onnx_parity or f"unavailable: {packages.onnx_unavailable}",
                "trained_in": record.estimator,
                **(outside.metadata if outside else {}),
            },
        )
        if outside is not None:
            yield from outside.checks or [missing_runtime_check(key(names.MODEL), runtime)]

    @dg.asset(
        key=key(names.EVALUATION),
        deps=[key(names.MODEL), key(names.TRAINING), key(names.HOLDOUT)],
        kinds={"scikitlearn", "mlflow"},
        code_version=code_version(
            ("modelops.ml.evaluation", "modelops.ml.metrics"), spec.evaluation
        ),
        check_specs=[
            dg.AssetCheckSpec(
                THRESHOLDS_CHECK,
                asset=key(names.EVALUATION),
                description="Holdout metrics within the spec's evaluation thresholds.",
            )
        ],
        description="Holdout metrics vs a simple baseline and the current champion.",
        **heavy_step,
    )
    def evaluation_report(
        context: dg.AssetExecutionContext,
        store: ArtifactStore,
        tracking: ModelTracking,
        audit_log: AuditLog,
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        from modelops.ml.evaluation import (
            build_evaluation_report,
            calibration_plot_png,
            evaluation_markdown,
            roc_plot_png,
        )
        from modelops.ml.training import fit_baseline, labels, predict_scores

        record = this_run_model(context, store, uc)
        holdout = store.read_table(uc, names.HOLDOUT, record.holdout_set_version)
        model = tracking.load_model(record.model_uri)
        training = store.read_table(uc, names.TRAINING, record.training_set_version)
        baseline = fit_baseline(training, spec)
        champion = champion_holdout_scores(tracking, audit_log, spec, record, holdout)
        report = build_evaluation_report(
            use_case=uc,
            model_version=record.version,
            labels=labels(holdout),
            candidate_scores=predict_scores(model, holdout, spec),
            baseline_scores=predict_scores(baseline, holdout, spec),
            baseline_name=spec.evaluation.baseline.estimator.rsplit(".", 1)[-1],
            champion=champion,
            segments={
                s: holdout.get_column(s).cast(pl.String).to_numpy()
                for s in spec.evaluation.segments
            },
            threshold=record.operating_threshold(spec),
            calibration_bins=spec.evaluation.calibration_bins,
            thresholds={
                "min_auc": spec.evaluation.min_auc,
                "min_ks": spec.evaluation.min_ks,
                "max_brier": spec.evaluation.max_brier,
            },
        )
        explanation = explain_version(store, audit_log, spec, record, training, holdout, tier)
        text = evaluation_markdown(report) + "\n" + explanation.markdown
        files = {
            "evaluation.json": json_document(report.to_dict()),
            "evaluation.md": text.encode(),
            "roc.png": roc_plot_png(report),
            "calibration.png": calibration_plot_png(report),
            EXPLANATION_JSON: json_document(explanation.model_dump(mode="json")),
            EXPLANATION_MD: explanation.markdown.encode(),
        }
        candidate = report.candidate
        stored = stored_report(
            store,
            key(names.EVALUATION),
            names.EVALUATION,
            files,
            {
                "report": markdown(text),
                "model_version": record.version,
                "holdout_auc": candidate.auc,
                "holdout_gini": candidate.gini,
                "holdout_ks": candidate.ks,
                "holdout_brier": candidate.brier,
                "baseline_auc": report.baseline.auc,
                "champion_version": champion.version if champion else "none",
                "operating_threshold": record.threshold_summary(spec),
            },
            links={"report_uri": "evaluation.json"},
            images={"roc_plot": "roc.png", "calibration_plot": "calibration.png"},
        )
        tracking.log_files(record.run_id, files, folder="evaluation")
        tracking.log_metrics(
            record.run_id, {f"holdout_{name}": value for name, value in candidate.as_dict().items()}
        )
        yield stored
        failed = [t for t in report.threshold_results if not t.passed]
        yield dg.AssetCheckResult(
            check_name=THRESHOLDS_CHECK,
            asset_key=key(names.EVALUATION),
            passed=not failed,
            severity=dg.AssetCheckSeverity.ERROR,
            description="; ".join(f"{t.name}: {t.actual:.4f} vs limit {t.limit}" for t in failed)
            or "all thresholds met",
            metadata=for_the_ui({t.name: float(t.actual) for t in report.threshold_results}),
        )

    @dg.asset(
        key=key(names.DRIFT),
        deps=[key(names.TRAINING), key(names.HOLDOUT)],
        kinds={"evidently"},
        code_version=code_version(("modelops.ml.drift",), spec.drift),
        check_specs=[
            dg.AssetCheckSpec(
                DRIFT_CHECK,
                asset=key(names.DRIFT),
                description=f"Share of drifted features below {spec.drift.drift_share:.0%}.",
            )
        ],
        description="Evidently data drift of the holdout against the training reference.",
        **light_step,
    )
    def drift_report(
        context: dg.AssetExecutionContext, store: ArtifactStore
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        from modelops.ml.drift import drift_report_for
        from modelops.ml.plots.drift_plots import feature_shift_png

        training, holdout = (
            store.read_table(uc, names.TRAINING),
            store.read_table(uc, names.HOLDOUT),
        )
        report = drift_report_for(spec, training, holdout)
        text = report.to_markdown()
        files = {
            "drift.json": json_document(report.to_dict()),
            "drift.md": text.encode(),
            "drift.html": (report.html or "").encode(),
            RELEASE_DRIFT_PLOT: feature_shift_png(
                training,
                holdout,
                report.most_moved(4),
                title=f"{uc}: the holdout's most moved inputs against the training data",
                sides=("training", "holdout"),
            ),
        }
        yield stored_report(
            store,
            key(names.DRIFT),
            names.DRIFT,
            files,
            {
                "report": markdown(text),
                "drifted_share": report.drifted_share,
                "drifted_features": sum(f.drifted for f in report.features),
            },
            links={"html_report": "drift.html"},
            images={"most_moved_inputs": RELEASE_DRIFT_PLOT},
        )
        yield dg.AssetCheckResult(
            check_name=DRIFT_CHECK,
            asset_key=key(names.DRIFT),
            passed=not report.dataset_drift,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"{report.drifted_share:.0%} of features drifted",
        )

    return [trained_model, evaluation_report, drift_report]
