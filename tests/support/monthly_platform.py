"""A German credit platform with one monthly CSV batch, trained and approved, and the monthly
scoring job run in process: shared by the batch fallback and online monitoring tests."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import dagster as dg
import yaml

from modelops.definitions import build_definitions
from modelops.instance import local_instance
from modelops.names import scoring_job
from modelops.settings import Settings
from support import GERMAN_DATA, GERMAN_SPEC, make_settings, write_spec
from support.platform_cli import cli

UC = "german_credit"
MONTH = "2025-01"
ROWS = 200
INVALID = 2
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def write_month(root: Path) -> None:
    """200 applications of the German credit data, the first two with unreadable durations."""
    rows = list(csv.reader(GERMAN_DATA.open(newline="")))
    header, body = ["application_id", *rows[0][:-1]], rows[1 : ROWS + 1]
    duration = header.index("duration_in_month")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for n, row in enumerate(body):
        values = [f"A{n}", *row[:-1]]
        if n < INVALID:
            values[duration] = "NaN"
        writer.writerow(values)
    (root / "applications").mkdir(exist_ok=True)
    (root / "applications" / f"{MONTH}.csv").write_text(out.getvalue())


def trained_platform(root: Path, spec_path: Path = GERMAN_SPEC) -> Settings:
    """Version 1 trained and approved (the champion); CSV production batches under `root`."""
    spec = yaml.safe_load(spec_path.read_text())
    uc = spec["id"]
    spec["monitoring"]["batches"] = {"path": str(root / "applications" / "{month}.csv")}
    write_spec(root / "specs", spec)
    write_month(root)
    settings = make_settings(root, root / "specs")
    trained = cli(settings, "run", "-u", uc, env={"MODELOPS_ACTOR": "trainer@bank.example"})
    assert trained.code == 0, trained.printed
    approve = ("--by", "val@bank.example", "--role", "model_validator", "--reason", "VR-1")
    approved = cli(settings, "approve", "-u", uc, *approve)
    assert approved.code == 0, approved.printed
    return settings


def score_month(settings: Settings, use_case: str = UC) -> dg.ExecuteInProcessResult:
    job = build_definitions(settings).resolve_job_def(scoring_job(use_case))
    return job.execute_in_process(
        instance=local_instance(settings.dagster_home),
        partition_key=f"{MONTH}-01",
        raise_on_error=False,
        run_config=QUIET,
    )


def failures(result: dg.ExecuteInProcessResult) -> list[str]:
    return [
        f"{e.step_key}: {e.event_specific_data.error.message}"  # type: ignore[union-attr]
        for e in result.all_events
        if e.is_step_failure
    ]
