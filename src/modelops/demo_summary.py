"""What the demo prints: a line per month, and the summary of the story at the end (what
happened, estimated against realised, where to look). Kept apart from `demo.py`, which plays
the story."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from modelops.ml.monthly_drift import MonthlyDrift
from modelops.ml.performance_alerts import BacktestRow, backtest_lines
from modelops.printed_commands import modelops

if TYPE_CHECKING:
    from modelops.settings import Settings
    from modelops.spec import UseCaseSpec

DEMO_UI = "http://127.0.0.1:3001"
DEMO_MLFLOW_UI = "http://127.0.0.1:5001"
DEMO_REPORTS = "http://127.0.0.1:3003"


@dataclass
class DemoMonth:
    drift: MonthlyDrift
    """What the month's `monthly_drift` stored: the scoring version, rows, drift, breach."""
    events: list[str] = field(default_factory=list)
    incident: bool = False
    """The month was classified as a data incident (not drift)."""


@dataclass
class DemoStory:
    months: list[DemoMonth] = field(default_factory=list)
    realised_auc: dict[str, tuple[str, float]] = field(default_factory=dict)
    first_breach: str | None = None
    retraining: list[str] = field(default_factory=list)
    escalations: list[str] = field(default_factory=list)
    backtest: list[BacktestRow] = field(default_factory=list)
    decay_alerts: list[str] = field(default_factory=list)
    """Relative-decay alerts as "month (estimated|realised)", in the order they were sent."""
    fairness_alerts: list[str] = field(default_factory=list)
    """What each fairness alert said, as "month: problems"."""
    promotions: list[str] = field(default_factory=list)
    approvals: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    tier: str = ""
    run_ids: list[str] = field(default_factory=list)


def sent_alerts(path: Path, kind: str) -> list[str]:
    """The summaries of the alerts of one kind the owners received."""
    if not path.exists():
        return []
    sent = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [a["summary"] for a in sent if a["kind"] == kind]


def decay_alerts(path: Path) -> list[str]:
    """The AUC decay alerts the owners received, as "month (basis)"."""
    if not path.exists():
        return []
    sent = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [
        f"{a['details'].get('month')} ({a['details'].get('basis')})"
        for a in sent
        if a["kind"] == "performance" and "AUC" in a["summary"]
    ]


def month_line(line: DemoMonth) -> str:
    drift = line.drift
    flag = "INCIDENT" if line.incident else ("BREACH  " if drift.breach else "ok      ")
    psi = f"{drift.score_psi:.3f}" if drift.score_psi is not None else "  n/a"
    events = "; ".join(line.events)
    return (
        f"{drift.month}  model v{drift.model_version:<3} {drift.rows:>7,} rows  "
        f"drifted {drift.drifted_share:>4.0%}  score PSI {psi}  {flag}  {events}"
    ).rstrip()


def story_summary(story: DemoStory, spec: UseCaseSpec, settings: Settings) -> str:
    drifts = [m.drift for m in story.months]
    versions = sorted({d.model_version for d in drifts}, key=int)
    breaches = [m.drift.month for m in story.months if m.drift.breach and not m.incident]
    incidents = [m.drift.month for m in story.months if m.incident]
    moved = [d.month for d in drifts if d.model_version != drifts[0].model_version]
    after = [d for d in drifts if moved and d.month >= moved[0]]
    realised = ", ".join(
        f"{month} v{v} {auc:.3f}" for month, (v, auc) in sorted(story.realised_auc.items())
    )
    lines = [
        "",
        "What happened:",
        f"  data incidents:        {', '.join(incidents) or 'none'}"
        + (" (alerted to the data owner, answered refer, never taught)" if incidents else ""),
        f"  drift breaches:        {', '.join(breaches) or 'none'} (population only)",
        "  after the new model:   "
        + (
            f"{sum(d.breach for d in after)} breach(es) in {len(after)} month(s)"
            if after
            else "no new model"
        ),
        f"  escalations:           {', '.join(story.escalations) or 'none'}",
        f"  retraining triggered:  {', '.join(story.retraining) or 'never'}",
        f"  risk tier:             {story.tier}",
        f"  approvals:             {', '.join(story.approvals) or 'none needed'}",
        f"  promotions:            {', '.join(story.promotions) or 'none'}",
        f"  blocked by gates:      {', '.join(story.blocked) or 'none'}",
        f"  scoring versions:      {', '.join('v' + v for v in versions)}"
        + (f" (new version from {moved[0]})" if moved else ""),
        f"  realised AUC by month: {realised or 'no outcomes yet'}",
        f"  AUC decay alerts:      {_first_decay(story.decay_alerts)}",
        "  fairness alerts:       "
        + (
            f"{story.fairness_alerts[0]} (first of {len(story.fairness_alerts)})"
            if story.fairness_alerts
            else "none"
        ),
        "",
        "Estimated before the labels vs realised (CBPE; assumes calibrated scores, no concept "
        "shift):",
        *[f"  {row}" for row in backtest_lines(story.backtest)],
        f"  Dagster runs:          {len(story.run_ids)}",
        "",
        "Where to look:",
        f"  Dagster UI: `make demo-ui` ({DEMO_UI}) -> group "
        f"'{spec.id}': predictions, monthly_drift and realised_performance per month "
        f"(reports on {DEMO_REPORTS}); no daemon runs there, so nothing starts by itself",
        f"  Alerts:     {settings.home_dir / 'alerts.jsonl'}",
        f"  MLflow UI:  `make demo-mlflow-ui` ({DEMO_MLFLOW_UI}) -> registered model "
        f"'{spec.registered_model_name}' (alias champion)",
        f"  Audit log:  MODELOPS_HOME={settings.home_dir} "
        f"MODELOPS_SPECS_DIR={settings.specs_dir} {modelops('status')} -u {spec.id}",
        "              (and `modelops audit show`, `modelops audit verify` with the same "
        "variables)",
    ]
    return "\n".join(lines)


def _first_decay(alerts: list[str]) -> str:
    """When decay was first seen from the estimate, and when the labels confirmed it."""
    estimated = [a for a in alerts if a.endswith("(estimated)")]
    realised = [a for a in alerts if a.endswith("(realised)")]
    if not alerts:
        return "none"
    parts = []
    if estimated:
        parts.append(f"estimated from {estimated[0].split()[0]}, before its labels")
    if realised:
        parts.append(f"realised from {realised[0].split()[0]}, once its labels arrived")
    return f"{'; '.join(parts)} ({len(alerts)} in all)"
