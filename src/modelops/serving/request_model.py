"""The request and response models of the scoring endpoint, built from the spec's schema.

The service reads applications with the scoring core's `ApplicationReader` (so a shape
problem is a 422 per field, and a value out of contract is a fallback answer, as in batch);
these pydantic models exist so that `/openapi.json` documents each field as the spec declares
it: its JSON type, the allowed values as an enum, min/max as minimum/maximum, nullability and
the column's description.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from modelops.ml.scoring.application_fields import application_fields, id_field
from modelops.ml.scoring.applications import ApplicationAnswer
from modelops.spec import Column, UseCaseSpec

MAX_APPLICATIONS = 1000
"""Applications per request; more is refused with 413 (send several requests)."""

_PLAIN_TYPES: dict[str, type] = {
    "int": int,
    "float": float,
    "bool": bool,
    "category": str,
    "text": str,
    "date": dt.date,
    "datetime": dt.datetime,
}


class DecisionAnswer(ApplicationAnswer):
    """One application's answer, with the id its decision is logged under."""

    decision_id: str
    """`<request_id>-<index>`: the decision log's key for this answer."""


class ScoreResponse(BaseModel):
    """Every request is answered in this shape, whether one application or a list was sent."""

    request_id: str
    use_case: str
    answers: list[DecisionAnswer]


class FieldError(BaseModel):
    """What is wrong with one field of one application (a 422 lists one per field)."""

    application: int
    """The application's index in the request (0 for a single application)."""
    field: str
    kind: str
    """unknown | missing | type | request"""
    problem: str


class ErrorResponse(BaseModel):
    detail: list[FieldError] | str


def _field_type(column: Column) -> Any:
    if column.allowed and column.type in ("category", "int", "float", "bool"):
        return Literal[tuple(column.allowed)]  # type: ignore[valid-type]
    return _PLAIN_TYPES.get(column.type, str)


def example_application(spec: UseCaseSpec) -> dict[str, object]:
    """A valid application built from the schema alone (the first allowed value, a value in
    range): the example of the OpenAPI document and of the curl `modelops serve` prints."""
    example: dict[str, object] = {}
    for field in application_fields(spec):
        column = field.column
        if column.allowed:
            example[field.name] = column.allowed[0]
        elif column.type in ("int", "float"):
            low = column.min if column.min is not None else 0.0
            high = column.max if column.max is not None else max(low, 0.0)
            value = low + (high - low) / 2 if column.max is not None else low
            example[field.name] = int(value) if column.type == "int" else float(value)
        elif column.type == "bool":
            example[field.name] = False
        elif column.type == "date":
            example[field.name] = "2026-01-01"
        elif column.type == "datetime":
            example[field.name] = "2026-01-01T00:00:00"
        else:
            example[field.name] = "x"
    return example


def application_model(spec: UseCaseSpec) -> type[BaseModel]:
    """One application of `spec`'s use case: every schema column but the target."""
    fields: dict[str, Any] = {}
    for field in application_fields(spec):
        column = field.column
        kind = _field_type(column)
        numeric = column.type in ("int", "float") and not column.allowed
        constraints = {
            "ge": column.min if numeric and column.min is not None else None,
            "le": column.max if numeric and column.max is not None else None,
        }
        info = Field(
            ... if field.required else None,
            description=column.description,
            **{k: v for k, v in constraints.items() if v is not None},
        )
        fields[field.name] = (kind | None if column.nullable else kind, info)
    ident = id_field(spec)
    if ident and ident not in fields:
        fields[ident] = (
            str | int | None,
            Field(None, description="Your id of the application, echoed in the answer."),
        )
    name = "".join(part.capitalize() for part in spec.id.split("_")) + "Application"
    return create_model(
        name,
        __config__=ConfigDict(
            extra="forbid", json_schema_extra={"examples": [example_application(spec)]}
        ),
        __doc__=f"One {spec.id} application: the fields of the use case's schema.",
        **fields,
    )


def request_schema(spec: UseCaseSpec) -> tuple[dict[str, Any], dict[str, Any]]:
    """The request body's JSON schema (one application, or `{"applications": [...]}`) and the
    component schemas it refers to, for the OpenAPI document."""
    application = application_model(spec)
    batch = create_model(
        application.__name__ + "List",
        __config__=ConfigDict(extra="forbid"),
        __doc__=f"1 to {MAX_APPLICATIONS} applications, answered in order.",
        applications=(
            list[application],  # type: ignore[valid-type]
            Field(min_length=1, max_length=MAX_APPLICATIONS),
        ),
    )
    template = "#/components/schemas/{model}"
    components: dict[str, Any] = {}
    for model in (application, batch):
        schema = model.model_json_schema(ref_template=template)
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
    body = {"oneOf": [{"$ref": template.format(model=m.__name__)} for m in (application, batch)]}
    return body, components
