"""The stop switch end to end (issue 11, item 4): `modelops stop` makes the monthly batch
answer `refer` with who stopped it and why, `modelops status`, `audit show` and the Dagster
UI (runless materializations of `<uc>/model_release`) show it, and `modelops resume` makes the
champion answer again. Refusals and mistakes get clear messages and exit codes, never a
traceback.

One platform is trained for the module with `modelops run` and approved (version 1 the
champion), with a production month of 200 applications; each test works on a copy.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import dagster as dg
import pytest
import yaml

from modelops.definitions import build_definitions
from modelops.instance import local_instance
from modelops.names import PREDICTIONS, RELEASE, monthly, scoring_job
from modelops.resources.audit_sqlite import SqliteAuditLog
from modelops.resources.storage import LocalArtifactStore
from modelops.settings import Settings
from support import GERMAN_DATA, GERMAN_SPEC, make_settings, write_spec
from support.platform_cli import cli, copy_platform

UC = "german_credit"
MONTH = "2025-02"
ROWS = 200
OPS = ("--by", "ops@bank.example")
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Version 1 champion; the month's applications as a CSV batch under the root."""
    root = tmp_path_factory.mktemp("stop_switch")
    spec = yaml.safe_load(GERMAN_SPEC.read_text())
    spec["monitoring"]["batches"] = {"path": str(root / "applications" / "{month}.csv")}
    write_spec(root / "specs", spec)
    rows = list(csv.reader(GERMAN_DATA.open(newline="")))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["application_id", *rows[0][:-1]])
    writer.writerows([f"A{n}", *row[:-1]] for n, row in enumerate(rows[1 : ROWS + 1]))
    (root / "applications").mkdir()
    (root / "applications" / f"{MONTH}.csv").write_text(out.getvalue())
    settings = make_settings(root, root / "specs")
    trained = cli(settings, "run", "-u", UC, env={"MODELOPS_ACTOR": "trainer@bank.example"})
    assert trained.code == 0, trained.printed
    approve = ("--by", "val@bank.example", "--role", "model_validator", "--reason", "VR-1")
    assert cli(settings, "approve", "-u", UC, *approve).code == 0
    return settings


@pytest.fixture
def platform(released: Settings, tmp_path: Path) -> Settings:
    return copy_platform(released, tmp_path)


def score_month(settings: Settings):
    """The monthly scoring job on the month, in process; its answers."""
    job = build_definitions(settings).resolve_job_def(scoring_job(UC))
    result = job.execute_in_process(
        instance=local_instance(settings.dagster_home),
        partition_key=f"{MONTH}-01",
        raise_on_error=False,
        run_config=QUIET,
    )
    succeeded = {str(e.step_key) for e in result.all_events if e.is_step_success}
    assert f"{UC}__predictions" in succeeded, [
        e.event_specific_data.error.message  # type: ignore[union-attr]
        for e in result.all_events
        if e.is_step_failure
    ]
    store = LocalArtifactStore(root=str(settings.data_dir))
    return result, store.read_table(UC, monthly(PREDICTIONS, MONTH))


def ui_scoring(settings: Settings) -> dict[str, object]:
    """What the Dagster UI shows of `<uc>/model_release` now (its latest materialization)."""
    event = local_instance(settings.dagster_home).get_latest_materialization_event(
        dg.AssetKey([UC, RELEASE])
    )
    assert event is not None and event.asset_materialization is not None
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def test_stop_refers_every_application_and_resume_scores_them_again(platform: Settings) -> None:
    _, before = score_month(platform)
    assert before["score"].null_count() == 0  # the control: the champion answers

    stopped = cli(platform, "stop", "-u", UC, *OPS, "--reason", "INC-7: scores look wrong")
    assert stopped.code == 0, stopped.printed
    assert stopped.out.startswith(f"{UC} stopped: every door answers 'refer'")
    assert "'ops@bank.example': 'INC-7: scores look wrong'" in stopped.out
    status = cli(platform, "status", "-u", UC).out.splitlines()
    assert status[1].startswith("  scoring: STOPPED by 'ops@bank.example' at 20"), status
    assert status[1].endswith(": 'INC-7: scores look wrong'")
    shown = ui_scoring(platform)
    assert str(shown["scoring"]).startswith("STOPPED by 'ops@bank.example'"), shown
    assert shown["action"] == "stop" and shown["champion"] == "1"  # the release state kept

    result, answers = score_month(platform)
    assert result.success  # drift is measured on the inputs; the month has no scores
    assert answers.height == ROWS and set(answers["decision"]) == {"refer"}
    assert answers["score"].null_count() == ROWS and set(answers["model_version"]) == {"1"}
    (reason,) = set(answers["reason_1"])
    assert reason.startswith("scoring stopped by ops@bank.example at 20"), reason
    assert reason.endswith(": INC-7: scores look wrong")
    (materialization,) = result.asset_materializations_for_node(f"{UC}__predictions")
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    assert metadata["fallback_reason"] == reason and metadata["refer_share"] == 1.0
    log = SqliteAuditLog(path=str(platform.audit_log_path))
    assert not log.records(use_case=UC, events=["scoring_fallback"])  # a decision, not a fault

    resumed = cli(platform, "resume", "-u", UC, *OPS, "--reason", "INC-7 closed")
    assert resumed.code == 0, resumed.printed
    assert resumed.out.startswith(f"{UC} resumed: the champion answers again")
    assert cli(platform, "status", "-u", UC).out.splitlines()[1] == (
        "  scoring: answering (champion v1)"
    )
    assert ui_scoring(platform)["scoring"] == "answering (champion v1)"
    _, after = score_month(platform)
    assert after["score"].null_count() == 0
    assert after["score"].to_list() == before["score"].to_list()
    assert after["decision"].to_list() == before["decision"].to_list()

    shown = cli(platform, "audit", "show", "-u", UC, "--limit", "3").out.splitlines()
    assert "scoring_stopped" in shown[-2] and "'INC-7: scores look wrong'" in shown[-2]
    assert "scoring_resumed" in shown[-1] and "'ops@bank.example'" in shown[-1]
    assert cli(platform, "audit", "verify").code == 0


def test_refused_and_mistaken_switch_commands_say_why(platform: Settings) -> None:
    not_stopped = cli(platform, "resume", "-u", UC, *OPS, "--reason", "x")
    assert not_stopped.code == 3 and f"{UC} is not stopped" in not_stopped.err
    first = cli(platform, "stop", "-u", UC, *OPS, "--reason", "first\nscoring: answering")
    assert first.code == 0, first.printed
    again = cli(platform, "stop", "-u", UC, "--by", "other@bank.example", "--reason", "again")
    assert again.code == 3
    assert f"{UC} is already stopped by 'ops@bank.example' at " in again.err
    assert "'first\\nscoring: answering'" in again.err  # quoted: cannot forge a line
    status = cli(platform, "status", "-u", UC).out
    assert "\nscoring: answering" not in status
    unknown = cli(platform, "stop", "-u", "nope", *OPS, "--reason", "x")
    assert unknown.code == 2 and "no use case 'nope'" in unknown.err
    # Nobody logged in: no identity, whatever is typed or set (MODELOPS_ACTOR names no one).
    nobody = cli(platform, "resume", "-u", UC, "--reason", "x", env={"MODELOPS_ACTOR": "x@y.z"})
    assert nobody.code == 3 and "not authenticated: no ID token" in nobody.err
    for outcome in (not_stopped, again, unknown, nobody):
        assert "Traceback" not in outcome.printed
    events = [
        r.event
        for r in SqliteAuditLog(path=str(platform.audit_log_path)).records(use_case=UC)
        if r.event.startswith("scoring_")
    ]
    assert events == ["scoring_stopped"]  # refusals record nothing


def test_a_release_run_shows_how_the_use_case_answers(released: Settings) -> None:
    """The `model_release` asset's own materialization (by the training run, before any
    champion) says so; the runless report of the approval says who answers now."""
    instance = local_instance(released.dagster_home)
    records = instance.fetch_materializations(dg.AssetKey([UC, RELEASE]), limit=10).records
    by_run = [r for r in records if r.run_id]
    assert by_run, records
    first = by_run[-1].asset_materialization
    assert first is not None
    assert first.metadata["scoring"].value == (
        "answering 'refer' throughout: no champion model to score with"
    )
    assert ui_scoring(released)["scoring"] == "answering (champion v1)"
