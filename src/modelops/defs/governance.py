"""The release assets of a use case: fairness, the release gates and the release decision.

    trained_model + holdout -> fairness_report --\\
    trained_model + evaluation_report ------------> release_gates (one blocking check per gate)
                                                      -> model_release (challenger / champion)
                                                        -> model_card

Each gate is a blocking asset check on `release_gates`: a required gate that fails stops the
run before `model_release`, so a blocked candidate never gets an alias. `model_release` checks
the recorded gate result again (the log, not the run, is the authority) and moves aliases only
through `governance.release_desk`. The gate thresholds were fixed when the model was trained
(`gate_plan.json` beside the model), before any of this ran.

(No `from __future__ import annotations`: Dagster reads resource annotations at definition.)
"""

import json
from typing import Any

import dagster as dg
import polars as pl

from modelops.defs.kubernetes import pod_tags
from modelops.defs.outputs import json_bytes
from modelops.defs.versioning import code_version, version_for_run
from modelops.ml.fingerprint import bytes_fingerprint
from modelops.resources.audit_log import AuditEvent, AuditLog
from modelops.resources.source import DataSource, batch_filename, parse_batch
from modelops.resources.storage import ArtifactStore
from modelops.resources.tracking import ModelTracking
from modelops.spec.model import UseCaseSpec
from modelops.spec.risk import GATE_NAMES, RiskPolicy

FAIRNESS = "fairness_report"
GATES = "release_gates"
RELEASE = "model_release"
GATE_PLAN_FILE = "gate_plan.json"
PROMOTION_POOL = "modelops-promotion"
"""Concurrency pool of every step that moves an alias: promotions run one at a time."""
ACTOR_TAG = "modelops/actor"
"""Run tag naming the person who launched a run; automation is named by its sensor."""
PRODUCTION_SAMPLE_ROWS = 10_000


def run_actor(context: dg.AssetExecutionContext) -> str:
    """Who a run acts for: the launching person's tag, else the sensor or 'dagster'."""
    tags = context.run.tags
    if tags.get(ACTOR_TAG):
        return tags[ACTOR_TAG]
    sensor = tags.get("dagster/sensor_name")
    return f"dagster:sensor/{sensor}" if sensor else f"dagster:run/{context.run.run_id[:8]}"


def governance_assets(
    spec: UseCaseSpec,
    policy: RiskPolicy,
    *,
    model: str,
    evaluation: str,
    training: str,
    holdout: str,
    raw: str,
    drift: str,
    card: str,
    read_model_ref: Any,
) -> list[dg.AssetsDefinition]:
    uc = spec.id

    def key(name: str) -> dg.AssetKey:
        return dg.AssetKey([uc, name])

    common = {"group_name": uc, "owners": spec.owners.dagster_owners}
    light_step = {"op_tags": pod_tags(spec.compute.default)}
    training_step = {"op_tags": pod_tags(spec.compute.training)}
    assessment = policy.assess(spec.risk, spec.data_schema.protected_attributes)
    tier = policy.for_tier(assessment.tier)

    # -- fairness ----------------------------------------------------------------------------
    @dg.asset(
        **training_step,
        key=key(FAIRNESS),
        deps=[key(model), key(holdout)],
        kinds={"fairlearn"},
        code_version=code_version(("modelops.ml.fairness",), spec.evaluation),
        description=(
            "Selection rate, TPR and FPR per group of each protected attribute "
            f"({', '.join(spec.fairness_attributes) or 'none'}) at the operating threshold, "
            "with demographic parity and equalized odds differences (fairlearn)."
        ),
        **common,
    )
    def fairness_report(
        context: dg.AssetExecutionContext, store: ArtifactStore, tracking: ModelTracking
    ) -> dg.MaterializeResult:
        from modelops.ml.fairness import fairness_report as build_report
        from modelops.ml.release_gates import GatePlan
        from modelops.ml.training import labels, predict_scores

        ref = read_model_ref(store, uc, context)
        plan = GatePlan.from_dict(_gate_plan(store, uc, model, ref["version"]))
        table = store.read_table(uc, holdout, ref["holdout_set_version"])
        pipeline = tracking.load_model(ref["model_uri"])
        report = build_report(
            labels(table),
            predict_scores(pipeline, table, spec),
            {a: table.get_column(a).cast(pl.String).to_numpy() for a in plan.fairness_attributes},
            threshold=spec.evaluation.operating_threshold,
            min_group_size=plan.min_group_size,
            min_outcome_count=plan.min_outcome_count,
        )
        markdown = report.to_markdown()
        files = {"fairness.json": json_bytes(report.to_dict()), "fairness.md": markdown.encode()}
        version = bytes_fingerprint(files["fairness.json"])
        for name, content in files.items():
            store.write_bytes(uc, FAIRNESS, version, name, content)
        store.publish(uc, FAIRNESS, version)
        tracking.log_files(ref["run_id"], files, folder="fairness")
        metadata: dict[str, Any] = {
            "report": dg.MetadataValue.md(markdown),
            "model_version": ref["version"],
        }
        for attribute in report.attributes:
            for name, value in (
                ("demographic_parity_difference", attribute.demographic_parity_difference),
                ("equalized_odds_difference", attribute.equalized_odds_difference),
            ):
                if value is not None:
                    metadata[f"{attribute.attribute}/{name}"] = round(value, 6)
        return dg.MaterializeResult(
            asset_key=key(FAIRNESS), data_version=dg.DataVersion(version), metadata=metadata
        )

    # -- release gates -----------------------------------------------------------------------
    gate_checks = [
        dg.AssetCheckSpec(
            f"gate_{name}",
            asset=key(GATES),
            blocking=True,
            description=_GATE_DESCRIPTIONS[name]
            + (" Required" if name in tier.required_gates else " Reported (not required)")
            + f" at the {assessment.tier} tier.",
        )
        for name in GATE_NAMES
    ]

    @dg.multi_asset(
        **training_step,
        name=f"{uc}__release_gates",
        specs=[
            dg.AssetSpec(
                key(GATES),
                deps=[
                    key(model),
                    key(evaluation),
                    key(FAIRNESS),
                    key(drift),
                    key(training),
                    key(holdout),
                    key(raw),
                ],
                kinds={"python"},
                code_version=code_version(("modelops.ml.release_gates",), spec.evaluation, tier),
                description=(
                    f"Every release gate of the {assessment.tier} risk tier, evaluated against "
                    "the thresholds recorded when the model was trained."
                ),
                **common,
            )
        ],
        check_specs=gate_checks,
    )
    def release_gates(
        context: dg.AssetExecutionContext,
        store: ArtifactStore,
        tracking: ModelTracking,
        source: DataSource,
        audit_log: AuditLog,
    ) -> Any:
        from modelops.ml.drift_engine import score_psi
        from modelops.ml.fairness import FairnessReport
        from modelops.ml.release_gates import (
            GatePlan,
            check_feature_availability,
            evaluate_release_gates,
            gates_markdown,
        )
        from modelops.ml.training import predict_scores

        ref = read_model_ref(store, uc, context)
        plan = GatePlan.from_dict(_gate_plan(store, uc, model, ref["version"]))
        _check_plan_was_recorded(audit_log, uc, str(ref["version"]), plan.fingerprint())
        evaluation_report = json.loads(
            store.read_bytes(
                uc, evaluation, version_for_run(context, store, uc, evaluation), "evaluation.json"
            )
        )
        if str(evaluation_report["model_version"]) != str(ref["version"]):
            raise RuntimeError(
                f"the evaluation report is of version {evaluation_report['model_version']}, "
                f"not of the current model version {ref['version']}: re-run the evaluation"
            )
        fairness = FairnessReport.from_dict(
            json.loads(
                store.read_bytes(
                    uc, FAIRNESS, version_for_run(context, store, uc, FAIRNESS), "fairness.json"
                )
            )
        )
        pipeline = tracking.load_model(ref["model_uri"])
        train_scores = predict_scores(
            pipeline, store.read_table(uc, training, ref["training_set_version"]), spec
        )
        holdout_scores = predict_scores(
            pipeline, store.read_table(uc, holdout, ref["holdout_set_version"]), spec
        )
        sample, location = production_sample(spec, source, store, raw)
        results = evaluate_release_gates(
            plan,
            evaluation=evaluation_report,
            fairness=fairness,
            score_psi=score_psi(train_scores, holdout_scores).psi,
            fitted_inputs=[str(c) for c in getattr(pipeline, "feature_names_in_", [])],
            availability=check_feature_availability(spec, sample, location),
        )
        passed = not any(r.blocking for r in results)
        payload = {
            "model_version": ref["version"],
            "tier": plan.tier,
            "plan_fingerprint": plan.fingerprint(),
            "passed": passed,
            "results": [{**r.to_dict(), "blocking": r.blocking} for r in results],
        }
        markdown = gates_markdown(results)
        files = {"gates.json": json_bytes(payload), "gates.md": markdown.encode()}
        version = bytes_fingerprint(files["gates.json"])
        for name, content in files.items():
            store.write_bytes(uc, GATES, version, name, content)
        store.publish(uc, GATES, version)
        tracking.log_files(ref["run_id"], files, folder="governance")
        tracking.set_version_tag(
            ref["registered_name"],
            ref["version"],
            "modelops.gates",
            "passed" if passed else "blocked",
        )
        audit_log.append(
            AuditEvent(
                event="gate_result",
                actor=run_actor(context),
                use_case=uc,
                reason="all required gates passed"
                if passed
                else "blocked by " + ", ".join(r.name for r in results if r.blocking),
                model_version=str(ref["version"]),
                data_versions=data_versions_of(ref),
                code_version=ref.get("code_version"),
                details=payload,
            )
        )
        if not passed:
            # The card asset will not run (it is downstream of a failed blocking check), yet
            # every version gets a card (M6): the blocked one is rendered here, with why.
            from modelops.governance.release_desk import ReleaseDesk

            card_markdown, card_version = card_of_run(
                context,
                spec,
                ReleaseDesk(spec, policy, tracking, audit_log),
                store,
                tracking,
                ref,
                model=model,
                card=card,
                evaluation=evaluation,
                drift=drift,
            )
            context.log_event(
                dg.AssetMaterialization(
                    asset_key=key(card),
                    metadata={
                        "card": dg.MetadataValue.md(card_markdown),
                        "model_version": ref["version"],
                        "release_status": "blocked by the release gates",
                        "card_uri": dg.MetadataValue.url(
                            store.uri(uc, card, card_version, "model_card.md")
                        ),
                    },
                )
            )
        yield dg.MaterializeResult(
            asset_key=key(GATES),
            data_version=dg.DataVersion(version),
            metadata={
                "gates": dg.MetadataValue.md(markdown),
                "model_version": ref["version"],
                "risk_tier": plan.tier,
                "passed": passed,
                "plan_fingerprint": plan.fingerprint(),
            },
        )
        for result in results:
            metadata: dict[str, Any] = {"details": dg.MetadataValue.md(result.details_markdown)}
            for name, value in {**result.measured, **_prefixed(result.limits)}.items():
                if value is not None:
                    metadata[name] = value
            yield dg.AssetCheckResult(
                check_name=f"gate_{result.name}",
                asset_key=key(GATES),
                passed=result.passed,
                severity=dg.AssetCheckSeverity.ERROR
                if result.required
                else dg.AssetCheckSeverity.WARN,
                description=result.summary,
                metadata=metadata,
            )

    # -- release decision --------------------------------------------------------------------
    approval = tier.approval

    @dg.asset(
        **light_step,
        key=key(RELEASE),
        deps=[key(GATES)],
        kinds={"mlflow"},
        pool=PROMOTION_POOL,
        code_version=code_version(("modelops.governance.release_desk",), spec.risk, tier.approval),
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
        **common,
    )
    def model_release(
        context: dg.AssetExecutionContext,
        store: ArtifactStore,
        tracking: ModelTracking,
        audit_log: AuditLog,
    ) -> dg.MaterializeResult:
        from modelops.governance.release_desk import ReleaseDesk

        ref = read_model_ref(store, uc, context)
        desk = ReleaseDesk(spec, policy, tracking, audit_log)
        status = desk.release_candidate(str(ref["version"]), run_actor(context))
        context.log.info(status.summary())
        return dg.MaterializeResult(
            asset_key=key(RELEASE),
            metadata=release_metadata(desk, status, candidate=str(ref["version"])),
        )

    return [fairness_report, release_gates, model_release]


def serving_champion(audit_log: AuditLog, spec: UseCaseSpec) -> str | None:
    """The champion production uses: the one the audit log records. A registry alias moved
    by hand in MLflow does not change what is scored (`modelops status` reports it)."""
    from modelops.governance.history import CHAMPION_EVENTS, current_champion

    records = audit_log.records(use_case=spec.id, events=list(CHAMPION_EVENTS))
    return current_champion(records, spec.id)


def release_metadata(desk: Any, status: Any, *, candidate: str | None) -> dict[str, Any]:
    """What the UI shows of a release state (also reported by the operator CLI)."""
    metadata: dict[str, Any] = {
        "status": status.summary(),
        "risk_tier": status.tier,
        "tier_rationale": dg.MetadataValue.md(
            "\n".join(f"- {line}" for line in desk.assessment.rationale)
        ),
        "champion": status.champion or "none",
        "challenger": status.challenger or "none",
        "awaiting_approval": status.awaiting_approval,
    }
    if candidate is not None:
        metadata["model_version"] = candidate
    if status.notes:
        metadata["warnings"] = dg.MetadataValue.md("\n".join(f"- {n}" for n in status.notes))
    return metadata


def production_sample(
    spec: UseCaseSpec, source: DataSource, store: ArtifactStore, raw: str
) -> tuple[pl.DataFrame, str]:
    """The newest production batch the source holds (M20: what production really provides);
    before the first batch lands, the stored raw training batch, labelled as such."""
    if spec.monitoring is not None:
        from modelops.defs.monitoring import month_of, monthly_partitions

        months = [month_of(k) for k in monthly_partitions(spec).get_partition_keys()]
        for month in reversed(months[-36:]):
            batch = spec.monitoring.batches.source_for(month, spec.source)
            if source.probe(batch) is not None:
                frame = parse_batch(source.read_bytes(batch, spec), batch)
                return frame.head(PRODUCTION_SAMPLE_ROWS), source.location(batch)
    version = store.require_current(spec.id, raw)
    content = store.read_bytes(spec.id, raw, version, batch_filename(spec.source))
    frame = parse_batch(content, spec.source).head(PRODUCTION_SAMPLE_ROWS)
    return frame, f"{spec.source.description} (no production batch has landed yet)"


def _gate_plan(store: ArtifactStore, uc: str, model: str, version: str) -> dict[str, Any]:
    return json.loads(store.read_bytes(uc, model, str(version), GATE_PLAN_FILE))


def _check_plan_was_recorded(audit_log: AuditLog, uc: str, version: str, fingerprint: str) -> None:
    """The thresholds about to be applied are the ones fixed (and logged) at training."""
    recorded = [
        r.details.get("plan_fingerprint")
        for r in audit_log.records(use_case=uc, events=["gate_thresholds"])
        if r.model_version == version
    ]
    if not recorded:
        raise RuntimeError(
            f"{uc} version {version}: no gate thresholds were recorded in the audit log at "
            "training; retrain the model so its thresholds are fixed before evaluation"
        )
    if recorded[-1] != fingerprint:
        raise RuntimeError(
            f"{uc} version {version}: the stored gate plan ({fingerprint[:12]}) differs from "
            f"the one recorded at training ({str(recorded[-1])[:12]}): it was changed"
        )


def data_versions_of(ref: dict[str, Any]) -> dict[str, str]:
    """The datasets a model version was trained and evaluated on, for audit records."""
    versions = {
        "training_set": ref.get("training_set_version"),
        "holdout_set": ref.get("holdout_set_version"),
    }
    return {k: str(v) for k, v in versions.items() if v}


def _prefixed(limits: dict[str, Any]) -> dict[str, Any]:
    return {f"limit/{name}": value for name, value in limits.items()}


_GATE_DESCRIPTIONS = {
    "minimum_performance": "Holdout AUC, KS and Brier within the spec's evaluation thresholds.",
    "beats_baseline": "Holdout AUC above the simple baseline's by the tier's margin.",
    "no_worse_than_champion": "Holdout AUC no more than the tier's tolerance below the champion.",
    "fairness": "Demographic parity and equalized odds differences per protected attribute "
    "within the tier's limits (fairlearn).",
    "slice_floors": "Holdout AUC of every large enough segment above the tier's floor.",
    "score_stability": "PSI of the score, training set against holdout, below the tier's limit.",
    "feature_availability": "Every model input exists with the right type and values in the "
    "production source (M20).",
    "protected_attributes_not_inputs": "No protected attribute is an input of the fitted model.",
}


# -- the model card of a version, rendered by the pipeline and again on each release event --

CARD_INPUTS_FILE = "card_inputs.json"


def card_inputs(
    ref: dict[str, Any], evaluation: dict[str, Any], drift: dict[str, Any], fairness_md: str
) -> dict[str, Any]:
    """What a card is rendered from besides the release record, kept beside the model."""
    return {
        "model_ref": {k: v for k, v in ref.items() if k != "spec"},
        "evaluation": evaluation,
        "drift": drift,
        "fairness_markdown": fairness_md,
    }


def write_model_card(
    spec: UseCaseSpec,
    desk: Any,
    store: ArtifactStore,
    tracking: ModelTracking,
    *,
    card_asset: str,
    model_asset: str,
    version: str,
    inputs: dict[str, Any] | None = None,
) -> tuple[str, str]:
    """Render the card of `version` with its current release record; store it, attach it to
    the MLflow version. `inputs` (evaluation, drift, fairness, training facts) are saved beside
    the model the first time, so a later approval re-renders the same card with new facts.
    Returns (markdown, card version)."""
    from modelops.ml.model_card import (
        Governance,
        ModelCardInputs,
        render_html,
        render_model_card,
    )

    uc = spec.id
    if inputs is not None:
        store.write_bytes(uc, model_asset, version, CARD_INPUTS_FILE, json_bytes(inputs))
    saved = json.loads(store.read_bytes(uc, model_asset, version, CARD_INPUTS_FILE))
    state = desk.state(version)
    governance = Governance(
        tier=desk.tier,
        rationale=tuple(desk.assessment.rationale),
        gates=state.gates.details if state.gates is not None else None,
        fairness_markdown=saved.get("fairness_markdown"),
        release_status=release_status_text(desk, state),
        approvals=tuple(
            {
                "approver": a.approver,
                "role": a.role,
                "reason": a.reason,
                "recorded_at": a.recorded_at,
            }
            for a in state.approvals
        ),
        rejection=(
            {
                "actor": state.rejection.actor,
                "recorded_at": state.rejection.recorded_at,
                "reason": state.rejection.reason,
            }
            if state.rejection is not None
            else None
        ),
    )
    markdown = render_model_card(
        ModelCardInputs(
            spec=spec,
            model_ref=saved["model_ref"],
            evaluation=saved["evaluation"],
            drift=saved["drift"],
            training_rows=saved["model_ref"]["training_rows"],
            training_positive_rate=saved["model_ref"]["training_positive_rate"],
            governance=governance,
        )
    )
    files = {"model_card.md": markdown.encode(), "model_card.html": render_html(markdown).encode()}
    card_version = bytes_fingerprint(files["model_card.md"])
    for name, content in files.items():
        store.write_bytes(uc, card_asset, card_version, name, content)
    if store.current_version(uc, model_asset) == version:
        store.publish(uc, card_asset, card_version)
    ref = saved["model_ref"]
    tracking.log_files(ref["run_id"], files, folder="model_card")
    gates = governance.gates
    verdict = "not run" if gates is None else ("passed" if gates.get("passed") else "blocked")
    summary = (
        f"**Risk tier {governance.tier}; release gates {verdict}; "
        f"status: {governance.release_status}.** Full card: run artifact "
        "`model_card/model_card.md` (and `.html`).\n\n"
    )
    tracking.describe_version(ref["registered_name"], version, summary + markdown)
    return markdown, card_version


def card_of_run(
    context: dg.AssetExecutionContext,
    spec: UseCaseSpec,
    desk: Any,
    store: ArtifactStore,
    tracking: ModelTracking,
    ref: dict[str, Any],
    *,
    model: str,
    card: str,
    evaluation: str,
    drift: str,
) -> tuple[str, str]:
    """The card of the model this run trained, from this run's evaluation, drift and
    fairness reports (used by the card asset, and by the gates step for a blocked version)."""
    uc = spec.id

    def this_run(asset: str, filename: str) -> bytes:
        return store.read_bytes(uc, asset, version_for_run(context, store, uc, asset), filename)

    return write_model_card(
        spec,
        desk,
        store,
        tracking,
        card_asset=card,
        model_asset=model,
        version=str(ref["version"]),
        inputs=card_inputs(
            ref,
            json.loads(this_run(evaluation, "evaluation.json")),
            json.loads(this_run(drift, "drift.json")),
            this_run(FAIRNESS, "fairness.md").decode(),
        ),
    )


def release_status_text(desk: Any, state: Any) -> str:
    """One line: where the version stands in the release process."""
    status = desk.status()
    v = state.version
    if state.rejection is not None:
        return f"rejected by {state.rejection.actor} ({state.rejection.reason})"
    if status.champion == v:
        return "champion"
    if state.gates is None:
        return "candidate: release gates not run"
    if not state.gates_passed:
        return f"blocked by gate(s) {', '.join(state.blocking_gates)}"
    history = [c.version for c in desk.champion_history()]
    if v in history:
        return "former champion"
    if status.challenger == v and status.awaiting_approval:
        return (
            f"challenger, awaiting {status.approvals_needed} approval(s) by "
            f"{' or '.join(status.approver_roles)}"
        )
    return "challenger" if status.challenger == v else "passed the gates; not released"


# -- the model inventory, across use cases ------------------------------------------------------

INVENTORY_KEY = dg.AssetKey(["governance", "model_inventory"])


def inventory_asset(specs: list[UseCaseSpec], policy: RiskPolicy) -> dg.AssetsDefinition:
    @dg.asset(
        key=INVENTORY_KEY,
        deps=[dg.AssetKey([spec.id, RELEASE]) for spec in specs],
        group_name="governance",
        owners=list(dict.fromkeys(f"team:{spec.owners.team}" for spec in specs)),
        kinds={"python"},
        code_version=code_version(("modelops.governance.inventory",)),
        description=(
            "Every use case with its owner, risk tier, status, champion, last validation and "
            "next review date; built from the specs and the audit log."
        ),
    )
    def model_inventory(
        context: dg.AssetExecutionContext, tracking: ModelTracking, audit_log: AuditLog
    ) -> dg.MaterializeResult:
        rows = inventory_rows(specs, policy, tracking, audit_log)
        overdue = [r.use_case for r in rows if r.review_overdue]
        return dg.MaterializeResult(
            metadata=inventory_metadata(rows) | {"reviews_overdue": ", ".join(overdue) or "none"}
        )

    return model_inventory


def inventory_rows(
    specs: list[UseCaseSpec], policy: RiskPolicy, tracking: ModelTracking, audit_log: AuditLog
) -> list[Any]:
    from modelops.governance.inventory import inventory_row
    from modelops.governance.release_desk import ReleaseDesk

    return [inventory_row(ReleaseDesk(spec, policy, tracking, audit_log)) for spec in specs]


def inventory_metadata(rows: list[Any]) -> dict[str, Any]:
    from modelops.governance.inventory import inventory_markdown

    return {
        "inventory": dg.MetadataValue.md(inventory_markdown(rows)),
        "use_cases": len(rows),
        "in_production": sum(r.champion is not None for r in rows),
        "dagster/row_count": len(rows),
    }
