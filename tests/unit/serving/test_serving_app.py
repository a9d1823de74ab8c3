"""The scoring endpoint in process (FastAPI's test client) against a real scorer of the German
credit scorecard, with the watch's state set by the test: answers in every state, 422s per
field, and no request that can make it answer 500."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from modelops.governance.serving_switch import StopState
from modelops.ml.scoring.applications import ApplicationScorer
from modelops.ml.serving_bundle import ServingBundle
from modelops.ml.training import fit_model
from modelops.serving.app import create_app
from modelops.serving.champion_watch import STARTING, ServingState
from modelops.serving.request_model import example_application

PATH = "/v1/german_credit/score"


class StubWatch:
    """A champion watch whose state the test sets."""

    def __init__(self, state: ServingState) -> None:
        self.state = state

    @property
    def ready(self) -> bool:
        return self.state.polled

    def start(self) -> None: ...

    def close(self) -> None: ...


class FailingScorer:
    model_version = "9"

    def answer_read(self, reads, records):
        raise RuntimeError("secret internals")


@pytest.fixture(scope="module")
def scorer(german_spec, german_split) -> ApplicationScorer:
    train, holdout = german_split
    bundle = ServingBundle.build(
        german_spec,
        model_version="7",
        pipeline=fit_model(train, german_spec),
        training=train,
        holdout=holdout,
        model_sha256="cd" * 32,
    )
    return ApplicationScorer(bundle, german_spec)


@pytest.fixture
def watch(scorer) -> StubWatch:
    return StubWatch(ServingState("7", scorer))


@pytest.fixture
def client(german_spec, watch) -> TestClient:
    with TestClient(create_app(german_spec, watch)) as test_client:  # type: ignore[arg-type]
        yield test_client


@pytest.fixture
def example(german_spec) -> dict:
    return example_application(german_spec)


def test_one_application_and_a_list_get_the_same_answer(client, example, scorer) -> None:
    single = client.post(PATH, json=example).json()
    listed = client.post(PATH, json={"applications": [example, example]}).json()
    expected = scorer.answer([example])[0]
    assert single["answers"][0]["probability"] == expected.probability
    assert [a["probability"] for a in listed["answers"]] == [expected.probability] * 2
    assert [a["decision_id"] for a in listed["answers"]] == [
        f"{listed['request_id']}-0",
        f"{listed['request_id']}-1",
    ]


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        (ServingState(None, None), "no champion model to score with"),
        (
            ServingState("7", None, unavailable="bundle changed"),
            "model unavailable: bundle changed",
        ),
        (ServingState("7", None, stop=StopState("a@b", "why", "t", 1)), "scoring stopped by a@b"),
    ],
)
def test_without_a_usable_model_every_answer_is_the_fallback(
    client, watch, example, state, reason
) -> None:
    watch.state = state
    answers = client.post(PATH, json={"applications": [example] * 3}).json()["answers"]
    assert {a["decision"] for a in answers} == {"refer"}
    assert all(a["fallback_reason"].startswith(reason) for a in answers)
    assert {a["model_version"] for a in answers} == {state.champion}


def test_a_scoring_exception_is_a_model_error_fallback_without_its_message(
    client, watch, example
) -> None:
    watch.state = ServingState("9", FailingScorer())  # type: ignore[arg-type]
    answer = client.post(PATH, json=example).json()["answers"][0]
    assert answer["fallback_reason"] == "model error: RuntimeError"
    assert answer["decision"] == "refer"


def test_readyz_waits_for_the_first_look_and_then_reports_fallback_as_ready(client, watch) -> None:
    watch.state = STARTING
    assert client.get("/readyz").status_code == 503
    watch.state = ServingState(None, None)
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["state"] == "fallback"


def test_a_wrong_shape_is_422_with_one_entry_per_field(client, example) -> None:
    wrong = {**example, "age_years": "old", "extra": 1}
    del wrong["housing"]
    detail = client.post(PATH, json={"applications": [example, wrong]}).json()["detail"]
    assert sorted((d["application"], d["field"], d["kind"]) for d in detail) == [
        (1, "age_years", "type"),
        (1, "extra", "unknown"),
        (1, "housing", "missing"),
    ]


HOSTILE = [
    b"",
    b"null",
    b"nan",
    b'{"applications": null}',
    b'{"applications": [[]]}',
    b'{"applications": [{}], "more": 1}',
    b'{"age_years": 1e999}',
    b'{"age_years": {"$gt": 1}}',
    b"\xff\xfe",
    b'{"a": "\\ud800"}',
    json.dumps({"applications": [{}] * 1001}).encode(),
    b'{"x":' * 50_000,
]


@pytest.mark.parametrize("body", HOSTILE, ids=range(len(HOSTILE)))
def test_no_body_makes_it_answer_500(client, body: bytes) -> None:
    response = client.post(PATH, content=body, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    assert "detail" in response.json()


def test_values_out_of_contract_are_fallback_answers_not_422(client, example) -> None:
    answer = client.post(PATH, json={**example, "age_years": -5}).json()["answers"][0]
    assert answer["fallback_reason"].startswith("input failed validation: age_years")


def test_metrics_count_requests_answers_and_fallbacks(client, watch, example) -> None:
    client.post(PATH, json=example)
    watch.state = ServingState(None, None)
    client.post(PATH, json=example)
    client.post(PATH, content=b"{")
    text = client.get("/metrics").text
    assert 'endpoint="/v1/german_credit/score",status="200"' in text
    assert 'endpoint="/v1/german_credit/score",status="400"' in text
    assert 'modelops_serving_fallbacks_total{reason="no_champion"' in text


def test_a_flood_of_unknown_fields_gets_a_bounded_422(client, example) -> None:
    flood = {**example, **{f"k{i}": i for i in range(5000)}}
    response = client.post(PATH, json=flood)
    assert response.status_code == 422
    assert len(response.json()["detail"]) == 200


def test_decisions_are_written_before_the_answer_and_a_failed_write_gives_503(
    german_spec, watch, example
) -> None:
    written: list[tuple[str, list[str]]] = []

    def write(request_id, state, reads, answers) -> None:
        written.append((request_id, [a.decision_id for a in answers]))

    with TestClient(create_app(german_spec, watch, write_decisions=write)) as client:  # type: ignore[arg-type]
        body = client.post(PATH, json={"applications": [example, example]}).json()
    assert written == [(body["request_id"], [a["decision_id"] for a in body["answers"]])]

    def broken(*_: object) -> None:
        raise OSError("disk full")

    with TestClient(create_app(german_spec, watch, write_decisions=broken)) as client:  # type: ignore[arg-type]
        response = client.post(PATH, json=example)
    assert response.status_code == 503 and "answers" not in response.json()
