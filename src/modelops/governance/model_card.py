"""The model card of a model version, generated from what the platform recorded.

Sections follow Mitchell et al., "Model Cards for Model Reporting" (2019): details, intended
use, factors, metrics, evaluation data, training data, quantitative analyses, ethical
considerations, caveats; plus the risk tier, gate results and approvals of the release. Nothing
in it is typed by hand except the spec's `documentation`, so the card cannot drift from the
model it describes. Every value taken from data or the spec (segment values, reasons, messages,
the spec's free text) is escaped through `modelops.formatting`: the card is markdown, shown in
the Dagster UI and as the MLflow version's description, and rendered to HTML.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from modelops.formatting import (
    Markdown,
    bullets,
    cell,
    code,
    number,
    paragraphs,
    pass_fail,
    percent,
    quoted,
    table,
)
from modelops.governance.audit_records import AuditRecord
from modelops.governance.gate_review import GateReview
from modelops.governance.history import Approval
from modelops.governance.model_record import ModelRecord
from modelops.spec import UseCaseSpec

if TYPE_CHECKING:
    from modelops.ml.evaluation import EvaluationReport

_METRICS = (
    ("auc", "AUC"),
    ("gini", "Gini"),
    ("ks", "KS"),
    ("brier", "Brier"),
    ("pr_auc", "PR-AUC"),
    ("log_loss", "Log loss"),
)


class HoldoutDrift(BaseModel):
    """What the card says of the holdout's drift against the training data (`drift.json`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    drifted_share: float | None = None
    dataset_drift: bool = False


@dataclass(frozen=True)
class CardGovernance:
    """The release side of a card: why the model is trusted."""

    tier: str
    rationale: tuple[str, ...]
    gates: GateReview | None
    fairness_markdown: str | None
    release_status: str
    approvals: tuple[Approval, ...] = ()
    rejection: AuditRecord | None = None
    blocked: tuple[str, ...] = ()
    """Which gate blocks, by how much, the ways forward and any exception (markdown lines)."""


@dataclass(frozen=True)
class ModelCardInputs:
    spec: UseCaseSpec
    model: ModelRecord
    evaluation: EvaluationReport
    drift: HoldoutDrift
    governance: CardGovernance | None = None
    """None for a card drafted before the release gates ran."""
    explanation_markdown: str = ""
    """The evaluation's explanation section (already escaped), when it was computed."""


def _trained_in(model: ModelRecord, preprocessing: str) -> list[str]:
    """Which runtime and language trained the version, and how it is scored."""
    runtime = model.runtime
    if runtime is None:
        return [
            f"Estimator: {code(model.estimator)} with {cell(preprocessing)} preprocessing",
            "Trained in: Python, in the platform's own process",
        ]
    online = (
        "online through its portable export (coefficients), which matched "
        f"{cell(runtime.language)}'s holdout scores to {runtime.portable_max_gap or 0:.1e}"
        if runtime.portable
        else "batch only (no portable export)"
    )
    return [
        f"Model: {cell(runtime.family)}",
        f"Trained in: {cell(runtime.language)} {cell(runtime.language_version)}, "
        f"script {code(runtime.script)} (sha256 `{runtime.script_sha256[:12]}`), "
        "through Dagster Pipes",
        f"Model file: {code(runtime.model_file)} (sha256 `{runtime.model_sha256[:12]}`); "
        f"scored in {cell(runtime.language)} for monthly batches, {online}",
    ]


def render_model_card(inputs: ModelCardInputs) -> str:
    spec, model, evaluation = inputs.spec, inputs.model, inputs.evaluation
    candidate = evaluation.candidate
    lines = [
        f"# Model card: {spec.id} version {model.version}",
        "",
        paragraphs(spec.description),
        "",
        "## Model details",
        "",
        *_list(
            f"Registered model: {code(model.registered_name)} version {cell(model.version)} "
            f"({code(model.model_uri)})",
            *_trained_in(model, spec.model.preprocessing),
            "Parameters: "
            + (
                ", ".join(code(f"{k}={v}") for k, v in sorted(spec.model.params.items()))
                or "defaults"
            ),
            f"Owner: {cell(spec.owners.person)} (team {cell(spec.owners.team)})",
            f"Code: commit `{model.git_commit}`, code version `{model.code_version}`",
            f"MLflow run: `{model.run_id}`",
        ),
        "",
        *_governance_section(inputs.governance),
        "## Intended use",
        "",
        paragraphs(spec.documentation.intended_use),
        "",
    ]
    if spec.documentation.out_of_scope_uses:
        lines += ["Out of scope:", "", *bullets(spec.documentation.out_of_scope_uses), ""]
    lines += [
        "## Factors",
        "",
        *_list(
            f"Target: {cell(spec.target.definition_text())}"
            + (f" ({cell(spec.target.description)})" if spec.target.description else ""),
            f"Model inputs ({len(spec.model_inputs)}): "
            + ", ".join(code(c) for c in spec.model_inputs),
            "Protected attributes (not model inputs): "
            + (", ".join(code(c) for c in spec.data_schema.protected_attributes) or "none"),
            "Evaluation segments: "
            + (", ".join(code(c) for c in spec.evaluation.segments) or "none"),
        ),
        "",
        "## Metrics",
        "",
        f"Holdout metrics of the candidate, a baseline ({cell(evaluation.baseline_name)}) and "
        f"the champion at evaluation time; decisions at score >= {evaluation.threshold}.",
        "",
        *_metrics_table(evaluation),
        "",
        *_thresholds(evaluation),
        "",
        "## Evaluation data",
        "",
        *_list(
            f"Holdout: {candidate.n} rows, {candidate.positives} positives "
            f"({_split_description(spec)})",
            f"Drift of the holdout against the training data: "
            f"{percent(inputs.drift.drifted_share)} of features drifted "
            f"({'dataset drift' if inputs.drift.dataset_drift else 'no dataset drift'})",
        ),
        "",
        "## Training data",
        "",
        *_list(
            f"Source: {code(spec.source.description)}"
            + (f" — {cell(spec.source.attribution)}" if spec.source.attribution else ""),
            f"Training set version `{model.training_set_version}`: {model.training_rows} "
            f"rows, positive rate {percent(model.training_positive_rate)}",
        ),
        "",
        "## Quantitative analyses",
        "",
        *_segments_table(evaluation),
        "",
        *_fairness_section(inputs.governance),
        *([inputs.explanation_markdown.rstrip(), ""] if inputs.explanation_markdown else []),
        "## Ethical considerations",
        "",
        *(bullets(spec.documentation.ethical_considerations) or ["None recorded in the spec."]),
        "",
        "## Caveats and recommendations",
        "",
        *(bullets(spec.documentation.caveats) or ["None recorded in the spec."]),
        "",
    ]
    return "\n".join(lines)


def _list(*items: str) -> list[str]:
    """Bullets the card writes itself from recorded facts (code spans kept)."""
    return [f"- {item}" for item in items]


def _fairness_section(governance: CardGovernance | None) -> list[str]:
    """The fairness report as a subsection of the quantitative analyses (headings one
    level down)."""
    if governance is None or not governance.fairness_markdown:
        return []
    lines = [
        f"#{line}" if line.startswith("#") else line
        for line in governance.fairness_markdown.strip().splitlines()
    ]
    return [*lines, ""]


def _governance_section(governance: CardGovernance | None) -> list[str]:
    if governance is None:
        return ["## Risk and release", "", "The release gates have not run for this version.", ""]
    lines = [
        "## Risk and release",
        "",
        f"Risk tier: **{governance.tier}**",
        "",
        *bullets(governance.rationale),
        "",
        f"Release status: {cell(governance.release_status)}",
        "",
    ]
    gates = governance.gates
    if gates is None:
        lines += ["The release gates have not run for this version.", ""]
    else:
        verdict = "passed every required gate" if gates.passed else "**blocked**"
        rows = [
            [
                g.name,
                "yes" if g.required else "no",
                "pass" if g.passed else Markdown(f"**{pass_fail(False)}**"),
                g.summary,
            ]
            for g in gates.results
        ]
        lines += [
            f"Release gates ({verdict}; thresholds fixed at training, plan "
            f"`{gates.plan_fingerprint[:12]}`):",
            "",
            *table(["gate", "required", "result", "summary"], rows),
            "",
        ]
    if governance.blocked:
        lines += [*governance.blocked, ""]
    if governance.approvals:
        lines += ["Approvals:", ""]
        lines += bullets(
            f"{quoted(a.approver)} ({a.role}) at {a.recorded_at}: {quoted(a.reason)}"
            for a in governance.approvals
        )
        lines.append("")
    if governance.rejection is not None:
        r = governance.rejection
        lines += [
            f"Rejected by {cell(quoted(r.actor))} at {r.recorded_at}: {cell(quoted(r.reason))}",
            "",
        ]
    return lines


def render_html(markdown: str) -> str:
    """A standalone HTML page of the card. Raw HTML in the markdown is escaped, not rendered."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    title = html.escape(markdown.splitlines()[0].lstrip("# ") if markdown else "Model card")
    return (
        "<!doctype html>\n<html><head><meta charset='utf-8'>"
        f"<title>{title}</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em}</style>"
        f"</head><body>\n{body}</body></html>\n"
    )


def _split_description(spec: UseCaseSpec) -> str:
    if spec.split_strategy == "out_of_time":
        return f"the latest {spec.split.holdout_fraction:.0%} by `{spec.data_schema.date_column}`"
    kind = "stratified random" if spec.split.stratify else "random"
    return f"{kind} {spec.split.holdout_fraction:.0%}, seed {spec.split.seed}"


def _metrics_table(evaluation: EvaluationReport) -> list[str]:
    champion = evaluation.champion
    champion_metrics = champion.metrics if champion else None
    label = f"champion v{champion.version}" if champion else "champion"
    rows = [
        [
            name,
            number(getattr(evaluation.candidate, key)),
            number(getattr(evaluation.baseline, key)),
            number(getattr(champion_metrics, key)) if champion_metrics else "-",
        ]
        for key, name in _METRICS
    ]
    lines = table(["metric", "candidate", "baseline", label], rows)
    if champion is None:
        lines += ["", "No champion existed when this version was evaluated."]
    elif champion.error:
        lines += ["", f"The champion could not be scored: {cell(champion.error)}"]
    return lines


def _thresholds(evaluation: EvaluationReport) -> list[str]:
    results = evaluation.threshold_results
    if not results:
        return ["No evaluation thresholds are set in the spec."]
    return table(
        ["threshold", "limit", "actual", "result"],
        [
            [t.name, t.limit, number(t.actual), "pass" if t.passed else Markdown("**FAIL**")]
            for t in results
        ],
    )


def _segments_table(evaluation: EvaluationReport) -> list[str]:
    if not evaluation.segments:
        return ["No segments declared in the spec."]
    return table(
        ["segment", "value", "rows", "bad rate", "mean score", "AUC", "approval rate"],
        [
            [
                s.column,
                s.value,
                s.n,
                percent(s.bad_rate),
                number(s.mean_score),
                number(s.auc),
                percent(s.approval_rate),
            ]
            for s in evaluation.segments
        ],
    )
