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
    gates = governance.gates
    verdict = "not run" if gates is None else ("passed" if gates.passed else "blocked")
    summary = (
        f"**Risk tier {governance.tier}; release gates {verdict}; "
        f"status: {cell(governance.release_status)}.** Full card: "
        f"[model card]({store.link(uc, CARD, card_version, CARD_HTML_FILE)}) (run artifact "
        "`model_card/model_card.md` and `.html`).\n\n"
    )
    tracking.describe_version(saved.model.registered_name, version, summary + markdown)
    return PublishedCard(
        model_version=version,
        markdown=markdown,
        version=card_version,
        uri=store.link(uc, CARD, card_version, CARD_FILE),
    )


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
