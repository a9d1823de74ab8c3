"""The body of a scoring request, read and checked before any application is: size, JSON,
and shape (one application object, or `{"applications": [objects]}`). Anything else is a
`RequestRefused` with the status and the words the client gets; nothing here raises
anything else, whatever the bytes."""

from __future__ import annotations

import json
from collections.abc import Mapping

from fastapi import Request

from modelops.serving.request_model import MAX_APPLICATIONS, FieldError

MAX_BODY_BYTES = 4 * 1024 * 1024
"""A larger body is refused with 413 before it is parsed."""
MAX_PROBLEMS = 200
"""Field problems listed in a 422 (a body of thousands of unknown keys gets the first ones)."""


class RequestRefused(Exception):
    """A request answered with `status` and `detail`, before any application is scored."""

    def __init__(self, status: int, detail: list[FieldError] | str) -> None:
        self.status, self.detail = status, detail


async def read_body(request: Request) -> object:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise RequestRefused(413, f"body larger than {MAX_BODY_BYTES} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise RequestRefused(413, f"body larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (ValueError, RecursionError) as exc:
        raise RequestRefused(400, f"body is not JSON: {str(exc)[:120]}") from None


def applications_of(body: object) -> list[Mapping[str, object]]:
    """The applications of a body: one object, or `{"applications": [objects]}`."""
    if not isinstance(body, dict):
        raise RequestRefused(422, _request_problem("body", "expected a JSON object"))
    if "applications" not in body:
        return [body]
    listed = body["applications"]
    if len(body) != 1:
        extra = sorted(k for k in body if k != "applications")[0]
        raise RequestRefused(
            422, _request_problem(str(extra)[:80], "not allowed beside 'applications'")
        )
    if not isinstance(listed, list) or not listed:
        raise RequestRefused(422, _request_problem("applications", "expected a non-empty list"))
    if len(listed) > MAX_APPLICATIONS:
        raise RequestRefused(
            413, f"{len(listed)} applications; at most {MAX_APPLICATIONS} per request"
        )
    wrong = [
        FieldError(application=i, field="application", kind="type", problem="expected an object")
        for i, item in enumerate(listed)
        if not isinstance(item, dict)
    ]
    if wrong:
        raise RequestRefused(422, wrong)
    return listed


def _request_problem(field: str, problem: str) -> list[FieldError]:
    return [FieldError(application=0, field=field, kind="request", problem=problem)]
