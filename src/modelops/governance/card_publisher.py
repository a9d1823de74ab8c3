"""The model card of a version, rendered with its current release record and published: in
the artifact store, on the MLflow run, and as the registered version's description.

The pipeline renders it after the release decision (or the gates step, for a blocked version);
every approval, rejection, promotion and rollback renders it again from the same inputs, kept
beside the model the first time, with the new release facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from modelops.formatting import cell, quoted
from modelops.governance.blocked_release import blocked_release_markdown
from modelops.governance.gate_exceptions import exceptions_of
from modelops.governance.gate_review import GateReview
from modelops.governance.history import VersionState
from modelops.governance.model_card import (
    CardGovernance,
    HoldoutDrift,
    ModelCardInputs,
    render_html,
    render_model_card,
)
from modelops.governance.model_record import ModelRecord
from modelops.governance.release_desk import ReleaseDesk
from modelops.names import CARD, CARD_INPUTS_FILE, MODEL

if TYPE_CHECKING:
    from modelops.ml.release_gates import GateResult
    from modelops.resources.storage import ArtifactStore
    from modelops.resources.tracking import ModelTracking

CARD_FILE = "model_card.md"
CARD_HTML_FILE = "model_card.html"


class CardInputs(BaseModel):
    """What a card is rendered from besides the release record (`card_inputs.json`)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    model: ModelRecord = Field(alias="model_ref")
    evaluation: dict[str, JsonValue]
    """The version's stored evaluation report (`evaluation.json`)."""
    drift: dict[str, JsonValue]
    """The stored drift report of its holdout against its training set (`drift.json`)."""
    fairness_markdown: str
    explanation_markdown: str = ""
    """The evaluation's explanation section (`explanation.md`); empty for older versions."""

    def evaluation_auc(self) -> float | None:
        """The candidate's holdout AUC from the stored evaluation (None when undefined)."""
        from modelops.formatting import finite

        candidate = self.evaluation.get("candidate")
        auc = candidate.get("auc") if isinstance(candidate, dict) else None
        return finite(auc) if isinstance(auc, int | float) else None

    def to_bytes(self) -> bytes:
        from modelops.formatting import json_document

        data = self.model_dump(mode="json", by_alias=True)
        data["model_ref"].pop("spec", None)  # the spec is in the model record already
        return json_document(data)


@dataclass(frozen=True)
class PublishedCard:
    model_version: str
    markdown: str
    version: str
    """The card's own version: the fingerprint of its markdown."""
    uri: str


def publish_model_card(
    desk: ReleaseDesk,
    store: ArtifactStore,
    tracking: ModelTracking,
    version: str,
    inputs: CardInputs | None = None,
) -> PublishedCard:
    """Render the card of `version` with its current release record, store it (current when
    `version` is the current model) and attach it to MLflow. `inputs` are saved beside the
    model the first time; later calls re-render from them."""
    from modelops.ml.evaluation import EvaluationReport

    uc = desk.spec.id
    if inputs is not None:
        store.write_bytes(uc, MODEL, version, CARD_INPUTS_FILE, inputs.to_bytes())
    saved = CardInputs.model_validate_json(store.read_bytes(uc, MODEL, version, CARD_INPUTS_FILE))
    state = desk.state(version)
    governance = CardGovernance(
        tier=desk.tier,
        rationale=tuple(desk.assessment.rationale),
        gates=GateReview.from_dict(state.gates.details) if state.gates is not None else None,
        fairness_markdown=saved.fairness_markdown,
        release_status=release_status_text(desk, state),
        approvals=state.approvals,
        rejection=state.rejection,
        blocked=tuple(_blocked_lines(desk, state, version)),
    )
    markdown = render_model_card(
        ModelCardInputs(
            spec=desk.spec,
            model=saved.model,
            evaluation=EvaluationReport.from_dict(saved.evaluation),
            drift=HoldoutDrift.model_validate(saved.drift),
            governance=governance,
            explanation_markdown=saved.explanation_markdown,
        )
    )
    files = {CARD_FILE: markdown.encode(), CARD_HTML_FILE: render_html(markdown).encode()}
    # A card of an older version is kept but does not become the current card.
    current = store.current_version(uc, MODEL) == version
    card_version = store.store_files(uc, CARD, files, publish=current)
    tracking.log_files(saved.model.run_id, files, folder="model_card")
    model = saved.model
    card_links = {
        "in MLflow": tracking.artifact_url(
            model.experiment_id, model.run_id, f"model_card/{CARD_HTML_FILE}"
        ),
        "HTML": store.link(uc, CARD, card_version, CARD_HTML_FILE),
    }
    summary = registry_summary(
        VersionSummary(
            use_case=uc,
            version=version,
            auc=saved.evaluation_auc(),
            gates=governance.gates,
            status=governance.release_status,
            tier=governance.tier,
        ),
        card_links,
    )
    tracking.describe_version(model.registered_name, version, summary)
    return PublishedCard(
        model_version=version,
        markdown=markdown,
        version=card_version,
        uri=store.link(uc, CARD, card_version, CARD_FILE),
    )


@dataclass(frozen=True)
class VersionSummary:
    """What the registry's version page says of a version (the card is linked, not copied:
    MLflow cuts a description at 5,000 characters)."""

    use_case: str
    version: str
    auc: float | None
    gates: GateReview | None
    status: str
    tier: str


def registry_summary(summary: VersionSummary, card_links: dict[str, str]) -> str:
    """Use case, version, holdout AUC with its interval, the gates' verdict, the release state
    and the tier, then links to the full card (links a browser cannot open from a web page,
    `file://`, are left out)."""
    from modelops.formatting import number

    auc = f"AUC {number(summary.auc, 3)}"
    performance = _gate(summary.gates, "minimum_performance")
    measured = performance.measured if performance else {}
    low, high = measured.get("auc_low"), measured.get("auc_high")
    if isinstance(low, int | float) and isinstance(high, int | float):
        auc += f" [{number(low, 3)}, {number(high, 3)}]"
    gates = summary.gates
    if gates is None:
        verdict = "not run"
    elif gates.passed:
        verdict = "passed"
    else:
        verdict = "blocked by " + ", ".join(gates.blocking_gates)
    lines = [
        f"**{cell(summary.use_case)} version {cell(summary.version)}**: holdout {auc}; "
        f"release gates {cell(verdict)}; status: {cell(summary.status)}; "
        f"risk tier {cell(summary.tier)}.",
    ]
    links = [f"[{label}]({url})" for label, url in card_links.items() if url.startswith("http")]
    if links:
        lines.append("Full model card: " + " · ".join(links) + ".")
    return "\n\n".join(lines)


def _gate(gates: GateReview | None, name: str) -> GateResult | None:
    return next((r for r in gates.results if r.name == name), None) if gates else None


def has_card_inputs(store: ArtifactStore, use_case: str, version: str) -> bool:
    """Versions trained before cards kept their inputs cannot be re-rendered."""
    return store.exists(use_case, MODEL, version, CARD_INPUTS_FILE)


def release_status_text(desk: ReleaseDesk, state: VersionState) -> str:
    """One line: where the version stands in the release process."""
    status = desk.status()
    v = state.version
    if state.rejection is not None:
        return f"rejected by {quoted(state.rejection.actor)} ({quoted(state.rejection.reason)})"
    if status.champion == v:
        return "champion"
    if state.gates is None:
        return "candidate: release gates not run"
    if not state.gates_passed:
        return f"blocked by gate(s) {', '.join(state.blocking_gates)}"
    if v in [c.version for c in desk.champion_history()]:
        return "former champion"
    if status.challenger == v and status.awaiting_approval:
        return (
            f"challenger, awaiting {status.approvals_needed} approval(s) by "
            f"{' or '.join(status.approver_roles)}"
        )
    return "challenger" if status.challenger == v else "passed the gates; not released"


def _blocked_lines(desk: ReleaseDesk, state: VersionState, version: str) -> list[str]:
    """The card's account of a blocking gate and of any exception granted against one."""
    if state.gates is None:
        return []
    uc = desk.spec.id
    exceptions = exceptions_of(list(desk.audit_log.records(use_case=uc)), uc, version)
    return blocked_release_markdown(state.gates.details, exceptions, desk.tier_policy, use_case=uc)
