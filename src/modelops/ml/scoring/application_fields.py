"""One application as a caller sends it (JSON-like values keyed by the spec's column names),
read against the spec's schema without a DataFrame: the online and packaged doors answer one
application in well under a millisecond, so a row is checked field by field in plain Python.

Two kinds of problem, as a mature API separates them:
- the request's *shape* is wrong (a field the spec does not declare, a required field absent,
  a value of the wrong JSON type): the HTTP door refuses it with 422, one message per field;
- a *value* breaks the data contract (outside min/max, not an allowed category, null where
  the column is not nullable, not finite): the application is answered with the fallback
  decision and the reason, as a batch row that fails validation is quarantined and answered.
The packaged model and the batch door have no 422: every problem becomes a fallback answer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from modelops.ml.scoring.fallback_reasons import INVALID_INPUT
from modelops.spec import Column, UseCaseSpec

Value = str | int | float | bool | None


class FieldProblem(BaseModel):
    """What is wrong with one field of one application."""

    model_config = ConfigDict(frozen=True)

    field: str
    kind: Literal["unknown", "missing", "type", "value"]
    message: str


@dataclass(frozen=True)
class ApplicationField:
    """One field an application carries: a schema column (the target excepted) or the id."""

    column: Column
    required: bool

    @property
    def name(self) -> str:
        return self.column.name


@dataclass(frozen=True)
class ReadApplication:
    """An application read field by field: its typed values (None where a value broke the
    contract) and every problem found."""

    values: dict[str, Value]
    problems: tuple[FieldProblem, ...]

    @property
    def shape_problems(self) -> list[FieldProblem]:
        return [p for p in self.problems if p.kind != "value"]

    @property
    def reason(self) -> str | None:
        """The fallback reason, in the words of a quarantined batch row."""
        if not self.problems:
            return None
        return f"{INVALID_INPUT}: " + "; ".join(f"{p.field}: {p.message}" for p in self.problems)


def application_fields(spec: UseCaseSpec) -> tuple[ApplicationField, ...]:
    """The fields of an application: every declared column but the target (a production
    application has no outcome yet). Required unless the column is nullable."""
    return tuple(
        ApplicationField(column, required=not column.nullable)
        for column in spec.data_schema.columns
        if column.name not in spec.target.outcome_columns
    )


def id_field(spec: UseCaseSpec) -> str | None:
    """The optional field naming the application (the spec's `monitoring.id_column`)."""
    return spec.monitoring.id_column if spec.monitoring else None


class ApplicationReader:
    """Reads applications of one use case; built once, used for every request."""

    def __init__(self, spec: UseCaseSpec) -> None:
        self.fields = application_fields(spec)
        self.id_field = id_field(spec)
        self._by_name = {f.name: f for f in self.fields}
        self._allowed = {
            f.name: frozenset(f.column.allowed) for f in self.fields if f.column.allowed
        }
        # Inputs whose missing values a batch quarantines: the service refuses them alike.
        self._rejected = frozenset(spec.features.missing.rejected(spec.features.raw))

    def read(self, record: Mapping[str, object]) -> ReadApplication:
        problems: list[FieldProblem] = []
        values: dict[str, Value] = {}
        for name in record:
            if name not in self._by_name and name != self.id_field:
                problems.append(
                    FieldProblem(
                        field=str(name)[:80], kind="unknown", message="not a field of this use case"
                    )
                )
        for field in self.fields:
            name = field.name
            if name not in record:
                values[name] = None
                if field.required:
                    problems.append(FieldProblem(field=name, kind="missing", message="required"))
                continue
            value, problem = self._value(field.column, record[name])
            values[name] = value
            if problem is not None:
                problems.append(problem)
        return ReadApplication(values, tuple(problems))

    def application_id(self, record: Mapping[str, object]) -> str | None:
        if self.id_field is None:
            return None
        value = record.get(self.id_field)
        return None if value is None else str(value)[:200]

    def _value(self, column: Column, raw: object) -> tuple[Value, FieldProblem | None]:
        name = column.name
        if column.missing_values and not isinstance(raw, bool) and raw in column.missing_values:
            raw = None  # a sentinel code means missing, as in a batch
        if raw is None:
            if name in self._rejected:
                message = "value is missing (features.missing: reject)"
                return None, FieldProblem(field=name, kind="value", message=message)
            if column.nullable:
                return None, None
            return None, FieldProblem(field=name, kind="value", message="must not be null")
        kind = column.type
        if kind == "int":
            if isinstance(raw, bool) or not isinstance(raw, int | float):
                return None, _type_problem(name, "an integer", raw)
            if isinstance(raw, float):
                if not raw.is_integer():
                    return None, _type_problem(name, "an integer", raw)
                raw = int(raw)
            if not -(2**63) <= raw < 2**63:
                return None, FieldProblem(
                    field=name, kind="value", message="outside the 64-bit integer range"
                )
            value: Value = raw
        elif kind == "float":
            if isinstance(raw, bool) or not isinstance(raw, int | float):
                return None, _type_problem(name, "a number", raw)
            value = float(raw)
            if not math.isfinite(value):
                return None, FieldProblem(field=name, kind="value", message="value is not finite")
        elif kind == "bool":
            if not isinstance(raw, bool):
                return None, _type_problem(name, "true or false", raw)
            value = raw
        elif kind in ("category", "text"):
            if not isinstance(raw, str):
                return None, _type_problem(name, "text", raw)
            value = raw
        else:  # date, datetime: ISO text
            if not isinstance(raw, str):
                return None, _type_problem(name, f"an ISO {kind} as text", raw)
            try:
                (date.fromisoformat if kind == "date" else datetime.fromisoformat)(raw)
            except ValueError:
                return None, FieldProblem(
                    field=name, kind="value", message=f"not an ISO {kind}: {raw[:40]!r}"
                )
            value = raw
        return _contract(column, value, self._allowed.get(name))


def _contract(
    column: Column, value: Value, allowed: frozenset | None
) -> tuple[Value, FieldProblem | None]:
    name = column.name
    if allowed is not None and value not in allowed:
        shown = value if not isinstance(value, str) else value[:60]
        return None, FieldProblem(field=name, kind="value", message=f"{shown!r} not allowed")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if column.min is not None and value < column.min:
            return None, FieldProblem(
                field=name, kind="value", message=f"{value} below the minimum {column.min:g}"
            )
        if column.max is not None and value > column.max:
            return None, FieldProblem(
                field=name, kind="value", message=f"{value} above the maximum {column.max:g}"
            )
    return value, None


def _type_problem(name: str, expected: str, raw: object) -> FieldProblem:
    return FieldProblem(
        field=name, kind="type", message=f"expected {expected}, got {_json_type(raw)}"
    )


def _json_type(raw: object) -> str:
    if isinstance(raw, bool):
        return "a boolean"
    if isinstance(raw, int | float):
        return "a number"
    if isinstance(raw, str):
        return "text"
    if isinstance(raw, list | tuple):
        return "a list"
    if isinstance(raw, Mapping):
        return "an object"
    return type(raw).__name__
