"""The release assets of a use case: the spec's `risk`, `owners` and `documentation` sections
under the bank's tier policy.

    trained_model + holdout -> fairness_report --\\
    trained_model + evaluation_report ------------> release_gates (one blocking check per gate)
                                                      -> model_release -> model_card

Each gate is a blocking asset check on `release_gates`: a required gate that fails stops the
run before `model_release`, so a blocked candidate never gets an alias. The rules live in
`governance` (gate review, release desk, card publisher); these bodies read this run's
inputs and store and show the outputs.

(No `from __future__ import annotations`: Dagster reads the annotations of asset functions.)
"""

import json
from collections.abc import Iterator

import dagster as dg
import polars as pl

from modelops import names
from modelops.defs.kubernetes import pod_tags
from modelops.defs.outputs import Metadata, for_the_ui, markdown, stored_report
from modelops.defs.run_context import run_actor, this_run_file, this_run_model
from modelops.defs.versioning import code_version
from modelops.formatting import json_document
from modelops.governance.card_publisher import CardInputs, PublishedCard, publish_model_card
from modelops.governance.explanation import EXPLANATION_JSON, EXPLANATION_MD
from modelops.governance.gate_review import (
    record_gate_review,
    recorded_gate_plan,
    review_gates,
    stored_gate_plan,
)
from modelops.governance.release_desk import ReleaseDesk
from modelops.governance.serving_switch import scoring_line
from modelops.release_metadata import card_metadata, release_metadata
from modelops.resources.alerts import AlertSink
from modelops.resources.audit_log import AuditLog
from modelops.resources.source import DataSource
from modelops.resources.storage import ArtifactStore
from modelops.resources.tracking import ModelTracking
from modelops.spec import UseCaseSpec
from modelops.spec.risk import GATE_NAMES, RiskPolicy

REPORTS = (names.EVALUATION, names.DRIFT, names.FAIRNESS)
"""The model's reports: the release gates judge them, the card shows them."""
GATE_INPUTS = (names.MODEL, *REPORTS, names.TRAINING, names.HOLDOUT, names.RAW)
"""The raw batch stands in for production's columns until a production batch lands."""
CARD_INPUTS = (names.MODEL, *REPORTS, names.GATES, names.RELEASE)
GATE_DESCRIPTIONS = {
    "minimum_performance": "Holdout AUC, KS and Brier within the spec's evaluation thresholds.",
    "beats_baseline": "Holdout AUC above the simple baseline's by the tier's margin.",
    "no_worse_than_champion": "Holdout AUC no more than the tier's tolerance below the champion.",
    "fairness": "Demographic parity and equalized odds differences per protected attribute "
    "within the tier's limits (fairlearn).",
    "slice_floors": "Holdout AUC of every large enough segment above the tier's floor.",
    "score_stability": "PSI of the score, training set against holdout, below the tier's limit.",
    "feature_availability": "Every model input exists with the right type and values in the "
    "production source.",
    "reason_faithfulness": "The reasons stated to applicants are the features that really "
    "pushed the score, on the tier's share of holdout rows.",
    "protected_attributes_not_inputs": "No protected attribute is an input of the fitted model.",
}


def release_assets(spec: UseCaseSpec, policy: RiskPolicy) -> list[dg.AssetsDefinition]:
    uc = spec.id

    def key(name: str) -> dg.AssetKey:
        return dg.AssetKey([uc, name])

    common = {"group_name": uc, "owners": spec.owners.dagster_owners}
    light_step = {"op_tags": pod_tags(spec.compute.default), **common}
    heavy_step = {"op_tags": pod_tags(spec.compute.training), **common}
    assessment = policy.assess(spec.risk, spec.data_schema.protected_attributes)
    tier = policy.for_tier(assessment.tier)

    def card_of_this_run(
        context: dg.AssetExecutionContext, store: ArtifactStore, desk: ReleaseDesk
    ) -> PublishedCard:
        """The card of the model this run trained, from this run's reports."""
        record = this_run_model(context, store, uc)

        def report(asset: str, filename: str) -> bytes:
            return this_run_file(context, store, uc, asset, filename)

        inputs = CardInputs(
            model=record,
            evaluation=json.loads(report(names.EVALUATION, "evaluation.json")),
            drift=json.loads(report(names.DRIFT, "drift.json")),
            fairness_markdown=report(names.FAIRNESS, "fairness.md").decode(),
            explanation_markdown=report(names.EVALUATION, EXPLANATION_MD).decode(),
        )
        return publish_model_card(desk, store, desk.tracking, record.version, inputs)

    @dg.asset(
        key=key(names.FAIRNESS),
        deps=[key(names.MODEL), key(names.HOLDOUT)],
        kinds={"fairlearn"},
        code_version=code_version(("modelops.ml.fairness",), spec.evaluation),
        description=(
            "Selection rate, TPR and FPR per group of each protected attribute "
            f"({', '.join(spec.fairness_attributes) or 'none'}) at the operating threshold, "
            "with demographic parity and equalized odds differences (fairlearn)."
        ),
        **heavy_step,
    )
    def fairness_report(
        context: dg.AssetExecutionContext, store: ArtifactStore, tracking: ModelTracking
    ) -> dg.MaterializeResult:
        from modelops.ml.fairness import fairness_report as build_report
        from modelops.ml.plots.fairness_plots import selection_rates_png
        from modelops.ml.training import labels, predict_scores

        record = this_run_model(context, store, uc)
        plan = stored_gate_plan(store, uc, record)
        table = store.read_table(uc, names.HOLDOUT, record.holdout_set_version)
        report = build_report(
            labels(table),
            predict_scores(tracking.load_model(record.model_uri), table, spec),
            {a: table.get_column(a).cast(pl.String).to_numpy() for a in plan.fairness_attributes},
            threshold=record.operating_threshold(spec),
            min_group_size=plan.min_group_size,
            min_outcome_count=plan.min_outcome_count,
        )
        text = report.to_markdown()
        files = {
            "fairness.json": json_document(report.to_dict()),
            "fairness.md": text.encode(),
            "fairness.png": selection_rates_png(
                report,
                max_parity_gap=plan.max_demographic_parity_difference,
                max_odds_gap=plan.max_equalized_odds_difference,
                title=f"{uc} version {record.version}: fairness per group (holdout)",
            ),
        }
        metadata: Metadata = {
            "report": markdown(text),
            "model_version": record.version,
        }
        for attribute in report.attributes:
            for name, value in (
                ("demographic_parity_difference", attribute.demographic_parity_difference),
                ("equalized_odds_difference", attribute.equalized_odds_difference),
            ):
                if value is not None:
                    metadata[f"{attribute.attribute}/{name}"] = round(value, 6)
        stored = stored_report(
            store,
            key(names.FAIRNESS),
            names.FAIRNESS,
            files,
            metadata,
            images={"decline_rates": "fairness.png"},
        )
        tracking.log_files(record.run_id, files, folder="fairness")
        return stored

    @dg.multi_asset(
        name=f"{uc}__release_gates",
        specs=[
            dg.AssetSpec(
                key(names.GATES),
                deps=[key(n) for n in GATE_INPUTS],
                kinds={"python"},
                code_version=code_version(
                    ("modelops.ml.release_gates", "modelops.governance.gate_review"),
                    spec.evaluation,
                    tier,
                ),
                description=(
                    f"Every release gate of the {assessment.tier} risk tier, evaluated against "
                    "the thresholds recorded when the model was trained."
                ),
                **common,
            )
        ],
        check_specs=[
            dg.AssetCheckSpec(
                f"gate_{name}",
                asset=key(names.GATES),
                blocking=True,
                description=GATE_DESCRIPTIONS[name]
                + (" Required" if name in tier.required_gates else " Reported (not required)")
                + f" at the {assessment.tier} tier.",
            )
            for name in GATE_NAMES
        ],
        op_tags=heavy_step["op_tags"],
    )
    def release_gates(
        context: dg.AssetExecutionContext,
        store: ArtifactStore,
        tracking: ModelTracking,
        source: DataSource,
        audit_log: AuditLog,
        alerts: AlertSink,
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        from modelops.ml.evaluation import EvaluationReport
        from modelops.ml.explanations.report import ExplanationReport
        from modelops.ml.fairness import FairnessReport
        from modelops.ml.release_gates import gates_markdown

        record = this_run_model(context, store, uc)
        plan = recorded_gate_plan(store, audit_log, uc, record)
        review = review_gates(
            spec,
            record,
            plan,
            evaluation=EvaluationReport.from_dict(
                json.loads(this_run_file(context, store, uc, names.EVALUATION, "evaluation.json"))
            ),
            fairness=FairnessReport.from_dict(
                json.loads(this_run_file(context, store, uc, names.FAIRNESS, "fairness.json"))
            ),
            store=store,
            tracking=tracking,
            source=source,
            faithfulness=ExplanationReport.model_validate_json(
                this_run_file(context, store, uc, names.EVALUATION, EXPLANATION_JSON)
            ).faithfulness,
        )
        text = gates_markdown(review.results)
        files = {"gates.json": json_document(review.to_dict()), "gates.md": text.encode()}
        stored = stored_report(
            store,
            key(names.GATES),
            names.GATES,
            files,
            {
                "gates": markdown(text),
                "model_version": record.version,
                "risk_tier": plan.tier,
                "passed": review.passed,
                "plan_fingerprint": plan.fingerprint(),
            },
        )
        tracking.log_files(record.run_id, files, folder="governance")
        record_gate_review(
            review,
            record,
            use_case=uc,
            actor=run_actor(context),
            tracking=tracking,
            audit_log=audit_log,
        )
        if not review.passed:
            alerts.notify(
                spec,
                "gate_blocked",
                f"version {record.version} blocked by gate(s) "
                f"{', '.join(review.blocking_gates)}: not released",
                version=record.version,
                blocking_gates=list(review.blocking_gates),
            )
            # The card asset will not run (it is downstream of a failed blocking check), yet
            # every version gets a card: the blocked one is rendered here, with why.
            card = card_of_this_run(context, store, ReleaseDesk(spec, policy, tracking, audit_log))
            context.log_event(
                dg.AssetMaterialization(
                    asset_key=key(names.CARD),
                    metadata={
                        **card_metadata(card),
                        "release_status": "blocked by the release gates",
                    },
                )
            )
        yield stored
        for result in review.results:
            metadata: Metadata = {"details": markdown(result.details_markdown)}
            limits = {f"limit/{name}": value for name, value in result.limits.items()}
            for name, value in {**result.measured, **limits}.items():
                if value is not None:
                    metadata[name] = value
            yield dg.AssetCheckResult(
                check_name=f"gate_{result.name}",
                asset_key=key(names.GATES),
                passed=result.passed,
                severity=dg.AssetCheckSeverity.ERROR
                if result.required
                else dg.AssetCheckSeverity.WARN,
                description=result.summary,
                metadata=for_the_ui(metadata),
            )

    approval = tier.approval

    @dg.asset(
        key=key(names.RELEASE),
        deps=[key(names.GATES)],
        kinds={"mlflow"},
        pool=names.PROMOTION_POOL,
        code_version=code_version(
            ("modelops.governance.release_desk", "modelops.governance.release_rules"),
            spec.risk,
            tier.approval,
        ),
        description=(
            "The release state: a version that passed every required gate becomes "
            "'challenger'; "
            + (
                f"it becomes 'champion' after {approval.approvals} approval(s) by "
                f"{' or '.join(approval.roles)} (modelops approve)."
                if approval.required
                else "it becomes 'champion' automatically (low tier)."
            )
        ),
        **light_step,
    )
    def model_release(
        context: dg.AssetExecutionContext,
        store: ArtifactStore,
        tracking: ModelTracking,
        audit_log: AuditLog,
    ) -> dg.MaterializeResult:
        record = this_run_model(context, store, uc)
        desk = ReleaseDesk(spec, policy, tracking, audit_log, store=store)
        status = desk.release_candidate(record.version, run_actor(context))
        context.log.info(status.summary())
        scoring = scoring_line(audit_log, spec, store)  # stopped, or which version answers
        return dg.MaterializeResult(
            asset_key=key(names.RELEASE),
            metadata=release_metadata(desk, status, candidate=record.version)
            | {"scoring": scoring},
        )

    @dg.asset(
        key=key(names.CARD),
        deps=[key(n) for n in CARD_INPUTS],
        kinds={"mlflow", "markdown"},
        code_version=code_version(
            ("modelops.governance.model_card",), spec.documentation, spec.owners, spec.risk
        ),
        description=(
            "The model card of the current model version (Mitchell et al.), with its risk tier, "
            "gate results, fairness and approvals; generated, never hand-written. Re-rendered "
            "on every approval, rejection, promotion and rollback."
        ),
        **light_step,
    )
    def model_card(
        context: dg.AssetExecutionContext,
        store: ArtifactStore,
        tracking: ModelTracking,
        audit_log: AuditLog,
    ) -> dg.MaterializeResult:
        card = card_of_this_run(context, store, ReleaseDesk(spec, policy, tracking, audit_log))
        return dg.MaterializeResult(
            asset_key=key(names.CARD),
            data_version=dg.DataVersion(card.version),
            metadata={
                **card_metadata(card),
                "risk_tier": assessment.tier,
                "card_html": dg.MetadataValue.url(
                    store.link(uc, names.CARD, card.version, "model_card.html")
                ),
            },
        )

    return [fairness_report, release_gates, model_release, model_card]
