"""The scoring service's FastAPI app: `POST /v1/<use case>/score`, health, metrics, OpenAPI.

FastAPI because it generates the OpenAPI document from pydantic models (the request model is
built from the spec's schema: `request_model`) and runs on uvicorn. The body is read and
checked here rather than by FastAPI's validation: a request of the wrong shape gets a 422
with one entry per field in the service's own words, a value outside the data contract gets
the fallback answer (as a batch row would), and nothing a client sends can raise.

`app_from_env` is the factory uvicorn imports (`--workers N` starts one per worker process).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response

from modelops.ml.scoring.application_fields import ApplicationReader, ReadApplication
from modelops.ml.scoring.applications import ApplicationAnswer, fallback_answer
from modelops.ml.scoring.fallback_reasons import MODEL_ERROR
from modelops.serving.champion_watch import ChampionWatch, ServingState
from modelops.serving.decisions import DecisionWriter, decision_writer
from modelops.serving.metrics import CONTENT_TYPE, ServingMetrics
from modelops.serving.request_body import MAX_PROBLEMS, RequestRefused, applications_of, read_body
from modelops.serving.request_model import (
    DecisionAnswer,
    ErrorResponse,
    FieldError,
    ScoreResponse,
    request_schema,
)
from modelops.spec import UseCaseSpec

_log = logging.getLogger("modelops.serving")
STARTUP_WAIT_SECONDS = 10.0
"""How long a request waits for a starting worker's first look at the audit log before it is
answered 'model unavailable: the service is starting'."""


class _Counting:
    """Counts every response by endpoint and status and times it (pure ASGI: cheaper than
    an HTTP middleware on a sub-millisecond request)."""

    def __init__(self, app: Any, metrics: ServingMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", "other")
            self.metrics.observe_request(endpoint, status, time.perf_counter() - started)


def create_app(
    spec: UseCaseSpec,
    watch: ChampionWatch,
    *,
    metrics: ServingMetrics | None = None,
    write_decisions: DecisionWriter | None = None,
) -> FastAPI:
    """The app for one use case; `watch` is started with the app and closed with it."""
    metrics = metrics or ServingMetrics(spec.id)
    reader = ApplicationReader(spec)
    path = f"/v1/{spec.id}/score"

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        watch.start()
        try:
            yield
        finally:
            watch.close()

    app = FastAPI(
        title=f"modelops scoring: {spec.id}",
        version="1",
        description=(
            f"Answers {spec.id} applications with the champion model the audit log names: "
            "probability, decision, reason codes, outlier flag, model version, and the reason "
            "when the answer is the fallback decision. See docs/serving.md."
        ),
        lifespan=lifespan,
    )

    app.add_middleware(_Counting, metrics=metrics)

    @app.post(
        path,
        response_model=ScoreResponse,
        responses={
            400: {"model": ErrorResponse, "description": "not JSON"},
            413: {"model": ErrorResponse, "description": "body or application list too large"},
            422: {"model": ErrorResponse, "description": "one entry per field of the wrong shape"},
            503: {"model": ErrorResponse, "description": "the decision could not be logged"},
        },
        summary="Score one application, or a list of them",
    )
    async def score(request: Request) -> Response:
        """Send one application (an object of the schema's fields) or
        `{"applications": [...]}`; the answer is always `{"request_id", "answers": [...]}`,
        one answer per application, in order."""
        try:
            records = applications_of(await read_body(request))
            reads = [reader.read(r) for r in records]
            problems = [
                FieldError(application=i, field=p.field, kind=p.kind, problem=p.message)
                for i, read in enumerate(reads)
                for p in read.shape_problems
            ]
            if problems:
                raise RequestRefused(422, problems[:MAX_PROBLEMS])
        except RequestRefused as refused:
            return _error(refused.status, refused.detail)
        if not watch.ready:  # a worker still starting: wait for its first poll, briefly
            await asyncio.get_running_loop().run_in_executor(
                None, watch.wait_ready, STARTUP_WAIT_SECONDS
            )
        state = watch.state  # read once: the whole request is answered by one state
        request_id = uuid.uuid4().hex
        answers = [
            DecisionAnswer(**answer.model_dump(), decision_id=f"{request_id}-{i}")
            for i, answer in enumerate(_answers(state, reader, reads, records))
        ]
        if write_decisions is not None:
            try:
                write_decisions(request_id, state, reads, answers)
            except Exception as exc:  # an unlogged decision is not given
                _log.error("decision log failed: %s", type(exc).__name__)
                return _error(503, "the decision could not be logged; retry")
        for answer in answers:
            metrics.observe_answer(answer.decision, answer.fallback_reason)
        body = ScoreResponse(request_id=request_id, use_case=spec.id, answers=answers)
        return Response(body.model_dump_json(), media_type="application/json")

    @app.get("/healthz", summary="The process is alive")
    def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz", summary="The first look at the audit log is done (fallback included)")
    def readyz() -> Response:
        state = watch.state
        body = {
            "ready": watch.ready,
            "state": state.label,
            "champion": state.champion,
            "fallback_reason": state.fallback_reason if watch.ready else None,
        }
        return JSONResponse(body, status_code=200 if watch.ready else 503)

    @app.get("/metrics", summary="Prometheus metrics")
    def metrics_text() -> Response:
        state = watch.state
        metrics.show_model(state.champion, state.label)
        return Response(metrics.text(), media_type=CONTENT_TYPE)

    body_schema, components = request_schema(spec)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            document.setdefault("components", {}).setdefault("schemas", {}).update(components)
            document["paths"][path]["post"]["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": body_schema}},
            }
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _answers(
    state: ServingState,
    reader: ApplicationReader,
    reads: Sequence[ReadApplication],
    records: Sequence[Mapping[str, object]],
) -> list[ApplicationAnswer]:
    reason = state.fallback_reason
    if reason is not None or state.scorer is None:
        return [
            fallback_answer(
                reason or "", model_version=state.champion, application_id=reader.application_id(r)
            )
            for r in records
        ]
    scorer = state.scorer
    try:
        return scorer.answer_read(reads, records)
    except Exception:
        _log.exception("scoring failed; answering one application at a time")
    answers = []
    for read, record in zip(reads, records, strict=True):
        try:
            answers.extend(scorer.answer_read([read], [record]))
        except Exception as exc:
            answers.append(
                fallback_answer(
                    f"{MODEL_ERROR}: {type(exc).__name__}",
                    model_version=scorer.model_version,
                    application_id=reader.application_id(record),
                )
            )
    return answers


def _error(status: int, detail: list[FieldError] | str) -> Response:
    return Response(
        ErrorResponse(detail=detail).model_dump_json(),
        status_code=status,
        media_type="application/json",
    )


def app_from_env() -> FastAPI:
    """The app `modelops serve` runs: use case and poll interval from the environment
    (`MODELOPS_SERVING_USE_CASE`, `MODELOPS_SERVING_POLL_SECONDS`), resources from the
    platform settings."""
    from modelops.operator import Platform
    from modelops.settings import Settings

    platform = Platform(Settings.from_env())
    spec = platform.spec(os.environ.get("MODELOPS_SERVING_USE_CASE", ""))
    resources = platform.resources
    watch = ChampionWatch(
        spec,
        store=resources.store,
        audit_log=resources.audit_log,
        alerts=resources.alerts,
        poll_seconds=poll_seconds_from_env(),
    )
    return create_app(spec, watch, write_decisions=decision_writer(platform.settings, spec))


def poll_seconds_from_env() -> float:
    raw = os.environ.get("MODELOPS_SERVING_POLL_SECONDS", "1.0")
    try:
        seconds = float(raw)
    except ValueError:
        seconds = 1.0
    return min(max(seconds, 0.05), 60.0)
