"""`modelops demo`: a year of production traffic for one use case, on the embedded default.

The story: the current model is released (champion); each simulated month a batch of
applications lands and is scored, its drift measured; outcomes arrive a few months later and
realised performance is computed; from the scenario's start month the traffic drifts, the
retraining sensor asks for a new model, the new version passes the release gates, a
validator approves it (the use case is high risk), it is promoted, and scoring moves to it.
Everything runs as real Dagster runs on the local instance (so `dagster dev` shows them) and
the sensors are the ones `dagster dev` runs, ticked here.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import yaml

from modelops.definitions import build_definitions
from modelops.demo_summary import (
    DEMO_MLFLOW_UI,
    DEMO_REPORTS,
    DemoMonth,
    DemoStory,
    decay_alerts,
    month_line,
    sent_alerts,
    story_summary,
)
from modelops.governance.release_desk import ReleaseDesk
from modelops.governance.signatures import signing_as
from modelops.instance import local_instance
from modelops.local_identities import simulated_person
from modelops.monitoring.estimate_history import backtest
from modelops.monitoring.history import month_incidents, monthly_drift, performance_summaries
from modelops.names import (
    MODEL,
    RETRAINING_REASON_TAG,
    history_job,
    new_files_sensor,
    retraining_sensor,
    training_job,
)
from modelops.operator import Platform, release_action
from modelops.progress import Progress
from modelops.resources.audit_anchor_store import anchor_store_for
from modelops.resources.storage import ArtifactStore
from modelops.settings import Settings
from modelops.spec import UseCaseSpec, load_specs
from modelops.spec.roles import load_roles_file

QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def run_demo(
    settings: Settings,
    *,
    use_case: str = "german_credit",
    months: int = 12,
    rows: int = 5_000,
    scenario: str = "unit_change@3+population_shift@6",
    scenario_start: int = 6,
    label_delay: int = 2,
    history_rows: int = 20_000,
    scenario_params: dict[str, Any] | None = None,
    seed: int = 7,
    say: Callable[[str], None] = print,
) -> DemoStory:
    from modelops.resources.source import LocalFileSource
    from modelops.simulation.scenarios import make_scenario
    from modelops.simulation.simulator import TrafficSimulator
    from modelops.simulation.synthetic import SyntheticApplications
    from modelops.simulation.writers import Layout

    project_specs = {
        spec.id: spec for spec in load_specs(settings.specs_dir, settings.spec_allowances)
    }
    base = project_specs.get(use_case)
    if base is None or base.monitoring is None or base.monitoring.labels is None:
        raise ValueError(f"use case '{use_case}' needs a monitoring section with labels")

    # The demo's own sandbox: a synthetic loan book calibrated on the real data is the
    # development sample, so production months differ from it only by the scenario.
    sandbox = demo_home(settings)
    if sandbox.exists():
        shutil.rmtree(sandbox)
    real = _typed_source(LocalFileSource(root=str(settings.project_dir)).read(base.source), base)
    generator = SyntheticApplications.fit(real, base)
    history = sandbox / "traffic" / "history.parquet"
    history.parent.mkdir(parents=True)
    generator.sample(history_rows, seed=seed).write_parquet(history)
    demo_settings = _sandbox_settings(settings, base, sandbox, history)
    spec = load_specs(demo_settings.specs_dir, demo_settings.spec_allowances)[0]
    assert spec.monitoring is not None

    defs = build_definitions(demo_settings)
    instance = local_instance(demo_settings.dagster_home)
    platform = Platform(demo_settings)
    store = platform.resources.store
    desk = platform.desk(spec.id)
    story = DemoStory(tier=desk.tier)

    def execute(job: str, **kwargs: Any) -> dg.ExecuteInProcessResult:
        result = defs.resolve_job_def(job).execute_in_process(
            instance=instance, run_config=QUIET, raise_on_error=False, **kwargs
        )
        story.run_ids.append(result.run_id)
        if not result.success:
            failed = [e.step_key for e in result.all_events if e.is_step_failure]
            raise RuntimeError(f"run {result.run_id} of {job} failed at {failed}")
        return result

    # 1. The model in production before the year starts.
    say(
        f"Sandbox {sandbox}: {history_rows:,} synthetic past applications calibrated on "
        f"{base.source.description}."
    )
    say("Releasing the first model: training it and making it champion ...")
    execute(training_job(spec.id))
    champion = _promote_latest(platform, desk, story, say, reason="first release")
    say(
        f"Champion: {spec.registered_model_name} version {champion} ({desk.tier} risk tier: "
        f"gates passed, approved by {DEMO_VALIDATOR})"
        if desk.tier_policy.approval.required
        else f"Champion: {spec.registered_model_name} version {champion} ({desk.tier} tier)"
    )

    # 2. A year of traffic, month by month.
    simulator = TrafficSimulator(
        generator,
        spec,
        start_month=spec.monitoring.start_month,
        label_delay_months=label_delay,
        seed=seed,
    )
    drift_scenario = make_scenario(scenario, start_month=scenario_start, **(scenario_params or {}))
    layout = Layout(prefix="", production="applications", labels_dir="outcomes")
    cursors: dict[str, str | None] = {}
    say(
        f"Simulating {months} months of {rows:,} applications; scenario '{scenario}' "
        + (
            f"from month {scenario_start + 1}"
            if "@" not in scenario
            else "(name@month: 0-based month each starts in)"
        )
        + f"; outcomes arrive {label_delay} months later.\n"
    )

    def demo_month(index: int, month: str, progress: Progress) -> str:
        """One month: traffic lands, the sensors run their jobs, retraining if due."""
        simulator.simulate(
            1,
            rows,
            drift_scenario,
            sandbox / "traffic",
            layout=layout,
            first_month=index,
            on_progress=lambda _: None,
        )
        for sensor in (new_files_sensor(spec.id, "batches"), new_files_sensor(spec.id, "labels")):
            for request in _tick(defs, instance, sensor, cursors):
                job = request.job_name or defs.resolve_sensor_def(sensor).job_name
                execute(job, partition_key=request.partition_key)
        execute(history_job(spec.id))
        line = _month_line(store, spec, month)
        for request in _tick(defs, instance, retraining_sensor(spec.id), cursors):
            reason = request.tags.get(RETRAINING_REASON_TAG, "?")
            story.retraining.append(f"{month}: {reason}")
            line.events.append(f"retraining requested ({reason})")
            story.first_breach = story.first_breach or month
            progress.note(
                f"{month}  retraining requested ({reason}): training, gates, approval ..."
            )
            execute(training_job(spec.id), tags=dict(request.tags))
            promoted = _promote_latest(
                platform, desk, story, say=lambda _: None, reason=f"retrained on {reason}"
            )
            line.events.append(
                f"version {promoted} "
                + (
                    "promoted to champion"
                    if promoted != line.drift.model_version
                    else "not promoted"
                )
            )
        escalated = json.loads(cursors.get(retraining_sensor(spec.id)) or "{}").get("escalated", [])
        for version in escalated[len(story.escalations) :]:
            story.escalations.append(f"{month}: v{version}")
            line.events.append(f"ESCALATION: drift persists after retraining v{version}")
        story.months.append(line)
        return month_line(line)

    progress = Progress(months, write=say)
    for index in range(months):
        month = simulator.month_name(index)
        with progress.step(month, announce=False) as step:
            step.summary = demo_month(index, month, progress)
    story.realised_auc = _realised(store, spec)
    story.backtest = backtest(store, spec)
    story.decay_alerts = decay_alerts(demo_settings.home_dir / "alerts.jsonl")
    story.fairness_alerts = sent_alerts(demo_settings.home_dir / "alerts.jsonl", "fairness")
    say(story_summary(story, spec, demo_settings))
    return story


def demo_home(settings: Settings) -> Path:
    return settings.home_dir / "demo"


def _sandbox_settings(
    settings: Settings, base: UseCaseSpec, sandbox: Path, history: Path
) -> Settings:
    """The use case's spec with the synthetic history as its source and the sandbox's
    landing folders as its monthly files; its own Dagster instance and MLflow store."""
    spec = base.model_dump(mode="json", by_alias=True, exclude_none=True)
    spec["source"] = {
        "path": str(history),
        "format": "parquet",
        "attribution": f"synthetic, calibrated on {base.source.description}",
    }
    spec["monitoring"]["batches"] = {"path": str(sandbox / "traffic/applications/{month}.parquet")}
    spec["monitoring"]["labels"] = {"path": str(sandbox / "traffic/outcomes/{month}.parquet")}
    specs = sandbox / "specs"
    specs.mkdir(parents=True)
    (specs / f"{base.id}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return Settings.from_env(
        {
            "MODELOPS_PROJECT_DIR": str(settings.project_dir),
            "MODELOPS_HOME": str(sandbox),
            "MODELOPS_SPECS_DIR": str(specs),
            # The sandbox's own UIs (`make demo-ui`, `make demo-mlflow-ui`): the links the
            # demo's runs record open there, not in the main platform's.
            "MODELOPS_MLFLOW_UI_URL": DEMO_MLFLOW_UI,
            "MODELOPS_REPORTS_URL": DEMO_REPORTS,
        }
    )


def _typed_source(raw: pl.DataFrame, spec: UseCaseSpec) -> pl.DataFrame:
    """The training source with numbers as numbers (a CSV is read as text), for calibration."""
    types = {"int": pl.Int64, "float": pl.Float64}
    return raw.with_columns(
        pl.col(c.header).cast(types[c.type], strict=False)
        for c in spec.data_schema.columns
        if c.type in types
    )


def _tick(
    defs: dg.Definitions, instance: dg.DagsterInstance, name: str, cursors: dict[str, str | None]
) -> list[dg.RunRequest]:
    """One evaluation of a sensor, exactly as the daemon would run it, cursor kept."""
    sensor = defs.resolve_sensor_def(name)
    # A context manager: the alert resource nests the audit log resource.
    with dg.build_sensor_context(
        instance=instance, cursor=cursors.get(name), definitions=defs, resources=defs.resources
    ) as context:
        data = sensor.evaluate_tick(context)
    cursors[name] = data.cursor if data.cursor is not None else cursors.get(name)
    return list(data.run_requests or [])


DEMO_VALIDATOR = "validator@bank.example"
"""The model validator the demo plays: someone other than the model's developer."""


def _promote_latest(
    platform: Platform,
    desk: ReleaseDesk,
    story: DemoStory,
    say: Callable[[str], None],
    *,
    reason: str,
) -> str:
    """Release the newest version the way the risk policy says: the pipeline made it
    challenger if it passed every gate; where the tier needs a human approval, the demo's
    validator gives it (recorded in the audit log like any approval)."""
    spec = desk.spec
    latest = platform.resources.store.require_current(spec.id, MODEL)
    state = desk.state(latest)
    current = desk.champion()
    if not state.gates_passed:
        say(f"version {latest} not promoted: blocked by gate(s) {', '.join(state.blocking_gates)}")
        story.blocked.append(f"v{latest}: {', '.join(state.blocking_gates)}")
        return current or latest
    if current != latest:
        role = desk.tier_policy.approval.roles[0] if desk.tier_policy.approval.roles else ""
        # Through the operator command's code: the card is re-rendered with the approval and
        # the Dagster UI gets the new release state, as with `modelops approve`; signed with
        # the sandbox validator's key, the head anchored afterwards.
        validator = simulated_person(platform.settings, DEMO_VALIDATOR, (role,))
        with signing_as(validator):
            release_action(
                platform,
                "approve",
                spec.id,
                version=latest,
                actor=DEMO_VALIDATOR,
                role=role,
                reason=f"demo: independent validation of version {latest} ({reason})",
            )
        anchor_store_for(platform.settings).anchor(
            platform.resources.audit_log, load_roles_file(platform.settings.roles_file)
        )
        story.approvals.append(f"v{latest} by {DEMO_VALIDATOR} ({role})")
    if desk.champion() != latest:
        say(f"version {latest} not promoted: " + "; ".join(desk.promotion_problems(state)))
        return current or latest
    story.promotions.append(f"{current or '-'} -> {latest} ({reason})")
    return latest


def _month_line(store: ArtifactStore, spec: UseCaseSpec, month: str) -> DemoMonth:
    drift = monthly_drift(store, spec, month)
    events: list[str] = []
    incidents = month_incidents(store, spec, month)
    if incidents is not None and incidents.is_incident:
        kinds = ", ".join(dict.fromkeys(i.kind for i in incidents.incidents))
        events.insert(0, f"DATA INCIDENT ({kinds}): answered {incidents.action}, never teaches")
    elif drift.breach:
        events.append(drift.breach_reason())
    return DemoMonth(drift, events, incident=incidents is not None and incidents.is_incident)


def _realised(store: ArtifactStore, spec: UseCaseSpec) -> dict[str, tuple[str, float]]:
    return {s.month: (s.model_version, s.auc) for s in performance_summaries(store, spec)}
