"""The online scoring service as a user runs it: `modelops serve` in its own process on a free
loopback port, against a platform trained for the module (version 1 champion, version 2 the
challenger), called over real HTTP.

The tests run in order on one service: scoring, 422s, metrics and OpenAPI; a bundle file
tampered with and restored; the stop switch; last, version 2 approved while `wrk` (or a
threaded client where wrk is not installed) loads the service.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import polars as pl
import pytest

from modelops.governance.serving_switch import resume_scoring, stop_scoring
from modelops.monitoring.decision_log import read_decisions
from modelops.names import MODEL, SERVING_BUNDLE_PREFIX
from modelops.resources.audit_sqlite import SqliteAuditLog
from modelops.settings import Settings
from support import copy_german_spec, make_settings
from support.platform_cli import cli
from support.scoring_service import start_service, stop_service

UC = "german_credit"
POLL = 0.2
TRAINER = {"MODELOPS_ACTOR": "trainer@bank.example"}
VALIDATOR = ("--by", "val@bank.example", "--role", "model_validator")


@dataclass(frozen=True)
class Service:
    url: str
    settings: Settings
    example: dict
    printed: str
    process: subprocess.Popen

    def decisions(self) -> pl.DataFrame:
        today = datetime.now(UTC).date()
        return read_decisions(self.settings.decision_log_dir, UC, today).decisions

    @property
    def score_url(self) -> str:
        return f"{self.url}/v1/{UC}/score"

    def score(self, body: object) -> httpx.Response:
        return httpx.post(self.score_url, json=body, timeout=10)

    def audit_log(self) -> SqliteAuditLog:
        return SqliteAuditLog(path=str(self.settings.audit_log_path))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("serving")
    copy_german_spec(root / "specs")
    settings = make_settings(root, root / "specs")
    assert cli(settings, "run", "-u", UC, env=TRAINER).code == 0
    assert cli(settings, "approve", "-u", UC, *VALIDATOR, "--reason", "VR-1").code == 0
    second = cli(settings, "run", "-u", UC, env=TRAINER)
    assert second.code == 0, second.printed
    return settings


@pytest.fixture(scope="module")
def service(trained: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    log = tmp_path_factory.mktemp("service") / "serve.log"
    process, url = start_service(
        trained, UC, log, env={"MODELOPS_SERVING_POLL_SECONDS": str(POLL)}, timeout=60
    )
    try:
        printed = log.read_text()
        curl = re.search(r"-d '(.*)'$", printed, re.MULTILINE)
        assert curl, printed
        yield Service(url, trained, json.loads(curl.group(1)), printed, process)
    finally:
        stop_service(process)


def _until(check: Callable[[], bool], seconds: float = 10 * POLL + 3) -> float:
    """Waits for `check`; returns how long it took."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, "condition not reached in time"
        time.sleep(POLL / 4)
    return time.monotonic() - started


def _answer(service: Service) -> dict:
    response = service.score(service.example)
    assert response.status_code == 200, response.text
    return response.json()["answers"][0]


def test_the_printed_curl_is_answered_with_a_score(service: Service) -> None:
    assert f"Serving {UC} on {service.url}" in service.printed
    curl = re.search(r"^\s*(curl .*)$", service.printed, re.MULTILINE)
    assert curl and shutil.which("curl")
    result = subprocess.run(curl.group(1), shell=True, capture_output=True, text=True, timeout=20)
    body = json.loads(result.stdout)
    answer = body["answers"][0]
    assert answer["model_version"] == "1"
    assert 0 <= answer["probability"] <= 1
    assert answer["decision"] in ("accept", "refer")
    assert len(answer["reasons"]) == 3 and {"feature", "contribution"} <= set(answer["reasons"][0])
    assert answer["fallback_reason"] is None
    assert answer["decision_id"] == f"{body['request_id']}-0"


def test_serve_refuses_what_it_cannot_do_with_exit_2(service: Service) -> None:
    unknown = cli(service.settings, "serve", "-u", "nope")
    assert unknown.code == 2 and "no use case 'nope'" in unknown.err, unknown.printed
    port = service.url.rsplit(":", 1)[1]
    taken = cli(service.settings, "serve", "-u", UC, "--port", port)
    assert taken.code == 2 and "cannot listen on 127.0.0.1:" in taken.err, taken.printed


def test_a_list_of_applications_is_answered_in_order(service: Service) -> None:
    changed = {**service.example, "credit_amount": 1000, "application_id": "A-2"}
    out_of_range = {**service.example, "duration_months": 10_000}
    body = {"applications": [service.example, changed, out_of_range]}
    answers = service.score(body).json()["answers"]
    assert [a["application_id"] for a in answers] == [None, "A-2", None]
    assert answers[0]["probability"] != answers[1]["probability"]
    assert answers[0]["probability"] == _answer(service)["probability"]
    assert answers[2]["decision"] == "refer"
    assert answers[2]["fallback_reason"].startswith("input failed validation: duration_months")


def test_every_answer_is_in_the_decision_log_with_its_validated_inputs(
    service: Service,
) -> None:
    changed = {**service.example, "application_id": "A-9", "age_years": -1}
    body = service.score({"applications": [service.example, changed]}).json()
    kept = service.decisions().filter(pl.col("request_id") == body["request_id"])
    assert kept["decision_id"].to_list() == [a["decision_id"] for a in body["answers"]]
    assert kept["probability"].to_list() == [a["probability"] for a in body["answers"]]
    assert kept["model_version"].to_list() == ["1", "1"]
    assert kept["application_id"].to_list() == [None, "A-9"]
    assert json.loads(kept["inputs"][1])["age_years"] is None  # as validated
    assert kept["fallback_reason"][1].startswith("input failed validation: age_years")


def test_a_request_of_the_wrong_shape_gets_422_with_one_entry_per_field(service: Service) -> None:
    application = {**service.example, "duration_months": "long", "shoe_size": 44}
    del application["purpose"]
    response = service.score({"applications": [service.example, application]})
    assert response.status_code == 422
    problems = {(p["application"], p["field"], p["kind"]) for p in response.json()["detail"]}
    assert problems == {
        (1, "duration_months", "type"),
        (1, "shoe_size", "unknown"),
        (1, "purpose", "missing"),
    }


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"{not json", 400), (b"[]", 422), (b'"x"', 422), (b'{"applications": []}', 422),
     (b'{"applications": 3}', 422), (b"[" * 100_000, 400), (b" " * (5 * 1024 * 1024), 413)],
)  # fmt: skip
def test_malformed_requests_are_refused_and_the_service_lives_on(
    service: Service, body: bytes, status: int
) -> None:
    response = httpx.post(service.score_url, content=body, timeout=20)
    assert response.status_code == status, response.text
    assert httpx.get(f"{service.url}/healthz").json() == {"status": "alive"}


def test_metrics_and_openapi_answer(service: Service) -> None:
    _answer(service)
    metrics = httpx.get(f"{service.url}/metrics").text
    assert 'modelops_serving_requests_total{endpoint="/v1/german_credit/score"' in metrics
    endpoint = f'endpoint="/v1/{UC}/score"'
    assert f'modelops_serving_request_seconds_bucket{{{endpoint},le="0.0001"' in metrics
    assert "modelops_serving_answers_total{decision=" in metrics
    version = f'state="scoring",use_case="{UC}",version="1"'
    assert f"modelops_serving_model_version_info{{{version}}} 1.0" in metrics
    document = httpx.get(f"{service.url}/openapi.json").json()
    application = document["components"]["schemas"]["GermanCreditApplication"]
    assert "car (new)" in application["properties"]["purpose"]["enum"]
    duration = application["properties"]["duration_months"]
    assert (duration["type"], duration["minimum"], duration["maximum"]) == ("integer", 1, 120)
    assert application["additionalProperties"] is False
    assert httpx.get(f"{service.url}/docs").status_code == 200


def test_a_tampered_bundle_turns_answers_into_the_fallback_until_restored(
    service: Service,
) -> None:
    bundle = service.settings.data_dir / UC / MODEL / "1" / f"{SERVING_BUNDLE_PREFIX}pipeline.skops"
    original = bundle.read_bytes()
    bundle.write_bytes(original + b"\x00tampered")
    try:
        took = _until(lambda: _answer(service)["fallback_reason"] is not None)
        answer = _answer(service)
        assert took < 2 * POLL + 1.5
        assert answer["decision"] == "refer" and answer["probability"] is None
        assert answer["fallback_reason"].startswith("model unavailable: serving bundle file(s)")
        assert "pipeline.skops" in answer["fallback_reason"]
        metrics = httpx.get(f"{service.url}/metrics").text
        assert 'modelops_serving_fallbacks_total{reason="model_unavailable"' in metrics
        assert httpx.get(f"{service.url}/readyz").json()["state"] == "fallback"
    finally:
        bundle.write_bytes(original)
    _until(lambda: _answer(service)["fallback_reason"] is None)
    assert _answer(service)["model_version"] == "1"
    records = service.audit_log().records(use_case=UC, events=["scoring_fallback"])
    assert len(records) == 1 and records[0].actor.startswith("service:")
    alerts = [
        json.loads(line)
        for line in (service.settings.home_dir / "alerts.jsonl").read_text().splitlines()
    ]
    assert [a["severity"] for a in alerts if a["kind"] == "serving"] == ["critical", "info"]


def test_the_stop_switch_answers_the_fallback_and_resume_restores_scoring(
    service: Service,
) -> None:
    stop_scoring(service.audit_log(), UC, by="officer@bank.example", reason="incident 7")
    _until(lambda: _answer(service)["fallback_reason"] is not None)
    answer = _answer(service)
    assert answer["fallback_reason"].startswith("scoring stopped by officer@bank.example")
    assert "incident 7" in answer["fallback_reason"] and answer["decision"] == "refer"
    assert httpx.get(f"{service.url}/readyz").json()["state"] == "stopped"
    resume_scoring(service.audit_log(), UC, by="officer@bank.example", reason="fixed")
    _until(lambda: _answer(service)["fallback_reason"] is None)


def test_a_promotion_under_load_fails_no_request_and_switches_every_answer(
    service: Service, tmp_path: Path
) -> None:
    seen: list[tuple[float, int, str | None, str | None]] = []
    done = threading.Event()

    def client() -> None:
        with httpx.Client(timeout=10) as http:
            while not done.is_set():
                response = http.post(service.score_url, json=service.example)
                answer = response.json()["answers"][0] if response.status_code == 200 else {}
                seen.append(
                    (time.monotonic(), response.status_code, answer.get("model_version"),
                     answer.get("fallback_reason"))
                )  # fmt: skip

    load = _load(service, tmp_path, seconds=6)
    watcher = threading.Thread(target=client)
    watcher.start()
    time.sleep(1)
    approved = cli(service.settings, "approve", "-u", UC, *VALIDATOR, "--reason", "VR-2")
    assert approved.code == 0, approved.printed
    promoted_at = time.monotonic()
    _until(lambda: seen[-1][2] == "2")
    time.sleep(1)
    done.set()
    watcher.join()
    failures = load()
    assert failures == 0
    assert all(status == 200 and reason is None for _, status, _, reason in seen)
    assert len(seen) > 50
    versions = [version for _, _, version, _ in seen]
    first_v2 = versions.index("2")
    assert set(versions[:first_v2]) == {"1"} and set(versions[first_v2:]) == {"2"}
    assert seen[first_v2][0] - promoted_at < 2 * POLL + 5  # load + check of v2, under load


def _load(service: Service, folder: Path, seconds: int) -> Callable[[], int]:
    """Starts a load generator; returns a function that waits for it and gives the number of
    failed requests (non-2xx responses and socket errors)."""
    if shutil.which("wrk"):
        script = folder / "score.lua"
        script.write_text(
            'wrk.method = "POST"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = [[{json.dumps(service.example)}]]\n"
        )
        process = subprocess.Popen(
            ["wrk", "-t2", "-c8", f"-d{seconds}s", "-s", str(script), service.score_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

        def finished() -> int:
            out, _ = process.communicate(timeout=seconds + 30)
            assert process.returncode == 0, out
            assert (
                re.search(r"(\d+) requests in", out)
                and int(re.search(r"(\d+) requests in", out).group(1)) > 100
            ), out
            non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
            sockets = re.search(r"Socket errors: (.*)", out)
            assert sockets is None, out
            return int(non_2xx.group(1)) if non_2xx else 0

        return finished
    failures: list[int] = []
    stop_at = time.monotonic() + seconds

    def hammer() -> None:
        with httpx.Client(timeout=10) as http:
            while time.monotonic() < stop_at:
                if http.post(service.score_url, json=service.example).status_code != 200:
                    failures.append(1)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()

    def joined() -> int:
        for thread in threads:
            thread.join()
        return len(failures)

    return joined


def test_a_killed_service_loses_no_decision_it_answered(service: Service) -> None:
    """Last: SIGKILL right after the answers, then every answered decision is in the log."""
    answered = []
    for _ in range(30):
        body = service.score({"applications": [service.example] * 3}).json()
        answered += [a["decision_id"] for a in body["answers"]]
    os.killpg(service.process.pid, signal.SIGKILL)
    service.process.wait(timeout=10)
    kept = set(service.decisions()["decision_id"].to_list())
    assert set(answered) <= kept
