"""The model card of a model version (M6), generated from what the platform recorded.

Sections follow Mitchell et al., "Model Cards for Model Reporting" (2019): details, intended
use, factors, metrics, evaluation data, training data, quantitative analyses, ethical
considerations, caveats. Nothing in it is typed by hand except the spec's `documentation`,
so the card cannot drift from the model it describes.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from modelops.spec.model import UseCaseSpec

_METRICS = (
    ("auc", "AUC"),
    ("gini", "Gini"),
    ("ks", "KS"),
    ("brier", "Brier"),
    ("pr_auc", "PR-AUC"),
    ("log_loss", "Log loss"),
)


@dataclass(frozen=True)
class ModelCardInputs:
    spec: UseCaseSpec
    model_ref: dict[str, Any]
    """What the trained-model asset recorded: version, run id, estimator, commit, data version."""
    evaluation: dict[str, Any]
    """`EvaluationReport.to_dict()` of this version."""
    drift: dict[str, Any]
    """`DriftReport.to_dict()` of the holdout against the training data."""
    training_rows: int
    training_positive_rate: float
    governance: Governance | None = None
    """Risk tier, gate results, fairness and release record; None for a card drafted before
    the release gates ran."""


@dataclass(frozen=True)
class Governance:
    """The release side of a card: why the model is trusted (M3, M4, M9)."""

    tier: str
    rationale: tuple[str, ...]
    gates: dict[str, Any] | None
    """The `release_gates` output: {passed, plan_fingerprint, results: [GateResult dicts]}."""
    fairness_markdown: str | None
    release_status: str
    approvals: tuple[dict[str, str], ...] = ()
    """{approver, role, reason, recorded_at} of each approval of this version."""
    rejection: dict[str, str] | None = None


def render_model_card(inputs: ModelCardInputs) -> str:
    spec, ref, evaluation, drift = inputs.spec, inputs.model_ref, inputs.evaluation, inputs.drift
    candidate = evaluation.get("candidate") or {}
    lines = [
        f"# Model card: {spec.id} version {ref['version']}",
        "",
        spec.description.strip(),
        "",
        "## Model details",
        "",
        *_bullets(
            [
                f"Registered model: `{ref['registered_name']}` version {ref['version']} "
                f"(`{ref['model_uri']}`)",
                f"Estimator: `{ref['estimator']}` with {spec.model.preprocessing} preprocessing",
                f"Parameters: {_params(spec.model.params)}",
                f"Owner: {spec.owners.person} (team {spec.owners.team})",
                f"Code: commit `{ref.get('git_commit', 'unknown')}`, "
                f"code version `{ref.get('code_version', 'unknown')}`",
                f"MLflow run: `{ref['run_id']}`",
            ]
        ),
        "",
        *_governance_section(inputs.governance),
        "## Intended use",
        "",
        spec.documentation.intended_use.strip(),
        "",
    ]
    if spec.documentation.out_of_scope_uses:
        lines += ["Out of scope:", "", *_bullets(spec.documentation.out_of_scope_uses), ""]
    lines += [
        "## Factors",
        "",
        *_bullets(
            [
                f"Target: `{spec.target.column}` = {spec.target.positive_class!r}"
                + (f" ({spec.target.description})" if spec.target.description else ""),
                f"Model inputs ({len(spec.model_inputs)}): "
                + ", ".join(f"`{c}`" for c in spec.model_inputs),
                "Protected attributes (not model inputs): "
                + (", ".join(f"`{c}`" for c in spec.data_schema.protected_attributes) or "none"),
                "Evaluation segments: "
                + (", ".join(f"`{c}`" for c in spec.evaluation.segments) or "none"),
            ]
        ),
        "",
        "## Metrics",
        "",
        f"Holdout metrics of the candidate, a baseline ({evaluation.get('baseline_name', '?')})"
        " and the champion at evaluation time; decisions at score >= "
        f"{evaluation.get('threshold', spec.evaluation.operating_threshold)}.",
        "",
        *_metrics_table(evaluation),
        "",
        *_thresholds(evaluation),
        "",
        "## Evaluation data",
        "",
        *_bullets(
            [
                f"Holdout: {candidate.get('n', '?')} rows, {candidate.get('positives', '?')} "
                f"positives ({_split_description(spec)})",
                f"Drift of the holdout against the training data: "
                f"{_pct(drift.get('drifted_share'))} of features drifted "
                f"({'dataset drift' if drift.get('dataset_drift') else 'no dataset drift'})",
            ]
        ),
        "",
        "## Training data",
        "",
        *_bullets(
            [
                f"Source: `{spec.source.description}`"
                + (f" — {spec.source.attribution}" if spec.source.attribution else ""),
                f"Training set version `{ref.get('training_set_version', '?')}`: "
                f"{inputs.training_rows} rows, positive rate {_pct(inputs.training_positive_rate)}",
            ]
        ),
        "",
        "## Quantitative analyses",
        "",
        *_segments_table(evaluation),
        "",
        *_fairness_section(inputs.governance),
        "## Ethical considerations",
        "",
        *(_bullets(spec.documentation.ethical_considerations) or ["None recorded in the spec."]),
        "",
        "## Caveats and recommendations",
        "",
        *(_bullets(spec.documentation.caveats) or ["None recorded in the spec."]),
        "",
    ]
    return "\n".join(lines)


def _fairness_section(governance: Governance | None) -> list[str]:
    """The fairness report as a subsection of the quantitative analyses (headings one
    level down)."""
    if governance is None or not governance.fairness_markdown:
        return []
    lines = [
        f"#{line}" if line.startswith("#") else line
        for line in governance.fairness_markdown.strip().splitlines()
    ]
    return [*lines, ""]


def _governance_section(governance: Governance | None) -> list[str]:
    if governance is None:
        return ["## Risk and release", "", "The release gates have not run for this version.", ""]
    lines = [
        "## Risk and release",
        "",
        f"Risk tier: **{governance.tier}**",
        "",
        *_bullets(list(governance.rationale)),
        "",
        f"Release status: {governance.release_status}",
        "",
    ]
    gates = governance.gates
    if gates is None:
        lines += ["The release gates have not run for this version.", ""]
    else:
        verdict = "passed every required gate" if gates.get("passed") else "**blocked**"
        lines += [
            f"Release gates ({verdict}; thresholds fixed at training, plan "
            f"`{str(gates.get('plan_fingerprint', '?'))[:12]}`):",
            "",
            "| gate | required | result | summary |",
            "|---|---|---|---|",
            *(
                f"| {g['name']} | {'yes' if g['required'] else 'no'} | "
                f"{'pass' if g['passed'] else '**FAIL**'} | {_cell(g['summary'])} |"
                for g in gates.get("results", [])
            ),
            "",
        ]
    if governance.approvals:
        lines += ["Approvals:", ""]
        lines += _bullets(
            [
                f"{a['approver']} ({a['role']}) at {a['recorded_at']}: {_cell(a['reason'])}"
                for a in governance.approvals
            ]
        )
        lines.append("")
    if governance.rejection:
        r = governance.rejection
        lines += [f"Rejected by {r['actor']} at {r['recorded_at']}: {_cell(r['reason'])}", ""]
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


def _bullets(items: list[str]) -> list[str]:
    return [f"- {item}" for item in items]


def _params(params: dict[str, Any]) -> str:
    return ", ".join(f"`{k}={v}`" for k, v in sorted(params.items())) or "defaults"


def _split_description(spec: UseCaseSpec) -> str:
    if spec.split_strategy == "out_of_time":
        return f"the latest {spec.split.holdout_fraction:.0%} by `{spec.data_schema.date_column}`"
    kind = "stratified random" if spec.split.stratify else "random"
    return f"{kind} {spec.split.holdout_fraction:.0%}, seed {spec.split.seed}"


def _num(value: Any) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _metrics_table(evaluation: dict[str, Any]) -> list[str]:
    candidate = evaluation.get("candidate") or {}
    baseline = evaluation.get("baseline") or {}
    champion = evaluation.get("champion") or {}
    champion_metrics = champion.get("metrics") or {}
    champion_label = f"champion v{champion['version']}" if champion else "champion"
    rows = [
        f"| {label} | {_num(candidate.get(key))} | {_num(baseline.get(key))} | "
        f"{_num(champion_metrics.get(key)) if champion_metrics else '-'} |"
        for key, label in _METRICS
    ]
    lines = [f"| metric | candidate | baseline | {champion_label} |", "|---|---|---|---|", *rows]
    if not champion:
        lines += ["", "No champion existed when this version was evaluated."]
    elif champion.get("error"):
        lines += ["", f"The champion could not be scored: {champion['error']}"]
    return lines


def _thresholds(evaluation: dict[str, Any]) -> list[str]:
    results = evaluation.get("thresholds") or []
    if not results:
        return ["No evaluation thresholds are set in the spec."]
    return ["| threshold | limit | actual | result |", "|---|---|---|---|"] + [
        f"| {t['name']} | {t['limit']} | {_num(t['actual'])} | "
        f"{'pass' if t['passed'] else '**FAIL**'} |"
        for t in results
    ]


def _segments_table(evaluation: dict[str, Any]) -> list[str]:
    segments = evaluation.get("segments") or []
    if not segments:
        return ["No segments declared in the spec."]
    header = [
        "| segment | value | rows | bad rate | mean score | AUC | approval rate |",
        "|---|---|---|---|---|---|---|",
    ]
    return header + [
        f"| {s['column']} | {_cell(s['value'])} | {s['n']} | {_pct(s['bad_rate'])} | "
        f"{_num(s['mean_score'])} | {_num(s['auc'])} | {_pct(s['approval_rate'])} |"
        for s in segments
    ]


def _cell(value: Any) -> str:
    """A table cell: a pipe or a line break in a data value must not break the row."""
    return " ".join(str(value).split()).replace("|", "\\|")
