"""A killed service loses no decision it answered: `modelops serve --workers 2` (two
processes, two decision log files) is loaded by client threads, then SIGKILLed with every
process of its group mid-traffic. Every decision a client received is in the decision log
with its model version, inputs and score; at most one torn line per writer file (a request
killed while being logged, never answered); the daily reader reads it all.

One platform is trained and approved for the module (version 1 champion)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import polars as pl
import pytest

from modelops.monitoring.decision_log import read_decisions
from modelops.settings import Settings
from support import copy_german_spec, make_settings
from support.platform_cli import cli
from support.scoring_service import start_service

UC = "german_credit"
CLIENTS = 6
SERVE = ("--workers", "2")
TRAINER = {"MODELOPS_ACTOR": "trainer@bank.example"}
VALIDATOR = ("--by", "val@bank.example", "--role", "model_validator")


@pytest.fixture(scope="module")
def champion(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("killed_service")
    copy_german_spec(root / "specs")
    settings = make_settings(root, root / "specs")
    assert cli(settings, "run", "-u", UC, env=TRAINER).code == 0
    assert cli(settings, "approve", "-u", UC, *VALIDATOR, "--reason", "VR-1").code == 0
    return settings


def _start(settings: Settings, log: Path) -> tuple[subprocess.Popen, str, str]:
    process, url = start_service(settings, UC, log, *SERVE)
    curl = re.search(r"-d '(.*)'$", log.read_text(), re.MULTILINE)
    assert curl, log.read_text()
    return process, url, curl.group(1)


def test_a_killed_service_loses_no_decision_it_answered(champion: Settings, tmp_path: Path) -> None:
    process, url, example = _start(champion, tmp_path / "serve.log")
    answered: list[dict] = []
    stop = threading.Event()
    lock = threading.Lock()

    def client(worker: int) -> None:
        with httpx.Client(timeout=5) as http:
            n = 0
            while not stop.is_set():
                body = example.replace("}", f',"application_id":"c{worker}-{n}"}}', 1)
                n += 1
                try:
                    response = http.post(
                        f"{url}/v1/{UC}/score",
                        content=body,
                        headers={"Content-Type": "application/json"},
                    )
                except httpx.TransportError:
                    return  # the service is gone: this request was never answered
                if response.status_code == 200:
                    with lock:
                        answered.extend(response.json()["answers"])

    threads = [threading.Thread(target=client, args=(w,)) for w in range(CLIENTS)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while len(answered) < 300 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)  # mid-traffic: no shutdown code runs
        process.wait(timeout=10)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert len(answered) >= 300, (tmp_path / "serve.log").read_text()

    today = datetime.now(UTC).date()
    days = [read_decisions(champion.decision_log_dir, UC, d) for d in (today - timedelta(1), today)]
    logged = pl.concat([d.decisions for d in days])
    # One file per worker that answered (the kernel decides which worker accepts each
    # connection: all six may land on one).
    assert sum(d.files for d in days) >= 1
    assert sum(d.torn_lines for d in days) <= sum(d.files for d in days)
    kept = {row["decision_id"]: row for row in logged.iter_rows(named=True)}
    missing = [a["decision_id"] for a in answered if a["decision_id"] not in kept]
    assert missing == [], f"{len(missing)} answered decisions not in the log"
    for answer in answered:  # kept as answered (a worker still starting answers 'refer')
        row = kept[answer["decision_id"]]
        for field in ("application_id", "model_version", "decision", "fallback_reason"):
            assert row[field] == answer[field], (field, answer)
        assert row["probability"] == pytest.approx(answer["probability"])
        assert '"duration_months"' in row["inputs"]
    assert sum(a["model_version"] == "1" for a in answered) > len(answered) / 2
