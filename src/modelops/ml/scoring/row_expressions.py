"""Engineered features' SQL compiled to Python closures for one online application.

Polars evaluates the spec's expressions on a one-row frame in ~0.45 ms, most of an online
decision. The common subset of what specs write (column references, numeric and string
literals, + - * /, comparisons, AND/OR/NOT, IS [NOT] NULL, CASE WHEN) is compiled here from
the tree polars itself parses, with SQL's null rules (any null operand gives null; AND/OR are
three-valued; a null CASE condition is false) and polars' float rules (x/0 is ±inf, 0/0 NaN,
NaN the largest number and equal to itself). Anything else compiles to None and polars keeps
evaluating it. A compiled expression is only trusted after it matched polars exactly on
sample rows built to hit nulls, zeros, signs, the expression's own literals and the values
either side of them (`verified_row_expression`).
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import polars as pl

Row = Mapping[str, object]
RowExpression = Callable[[Row], object]
_Compiled = tuple[RowExpression, str]
"""A closure and the kind of value it yields: num, str, bool or null."""

_NUMERIC = ("num",)
_ARITHMETIC = {"Plus", "Minus", "Multiply", "TrueDivide", "Add", "Sub", "Mul", "Div"}
_ORDERING = {"Lt", "LtEq", "Gt", "GtEq"}
_EQUALITY = {"Eq", "NotEq"}


class _Unsupported(Exception):
    """The expression uses something outside the compiled subset: polars evaluates it."""


def compile_row_expression(
    expression: str, dtypes: Mapping[str, pl.DataType]
) -> RowExpression | None:
    """`expression` as a function of one row's values, or None when it is outside the subset
    (or does not parse): the caller then evaluates it with polars."""
    try:
        tree = json.loads(pl.sql_expr(expression).meta.serialize(format="json"))
        function, _ = _compile(tree, dtypes)
    except Exception:  # any parse problem or construct outside the subset
        return None
    return function


def verified_row_expression(
    expression: str,
    kind: str,
    dtypes: Mapping[str, pl.DataType],
    samples: Mapping[str, Sequence[object]] | None = None,
) -> RowExpression | None:
    """The compiled expression when it gives polars' values (as a feature of `kind` keeps
    them) on every sample row; None when it is not compiled or differs on any row."""
    function = compile_row_expression(expression, dtypes)
    if function is None:
        return None
    try:
        rows = sample_rows(expression, dtypes, samples or {})
        frame = pl.DataFrame({n: [r[n] for r in rows] for n in dtypes}, schema=dict(dtypes))
        expected = frame.select(pl.sql_expr(expression).alias("value"))["value"].to_list()
        for row, want in zip(rows, expected, strict=True):
            if not same_value(feature_value(function(row), kind), feature_value(want, kind)):
                return None
    except Exception:  # polars or the closure refusing a sample row: trust polars alone
        return None
    return function


def feature_value(value: object, kind: str) -> object:
    """An engineered value as the row engine keeps it: a finite float (numeric, else None)
    or text (categorical)."""
    if kind == "numeric":
        if value is None:
            return None
        number = float(value)  # type: ignore[arg-type]
        return number if math.isfinite(number) else None
    return None if value is None else str(value)


def same_value(left: object, right: object) -> bool:
    return type(left) is type(right) and left == right


def sample_rows(
    expression: str, dtypes: Mapping[str, pl.DataType], samples: Mapping[str, Sequence[object]]
) -> list[dict[str, object]]:
    """Rows mixing, per column, null, zero, signs, fractions, the expression's literals and
    their neighbours, and any given `samples` (allowed categories): every column cycles
    through its values at a different stride so pairs of values meet."""
    literals = _literals(expression)
    numbers = [n for n in literals if isinstance(n, int | float) and not isinstance(n, bool)]
    texts = [t for t in literals if isinstance(t, str)]
    per_column: dict[str, list[object]] = {}
    for name, dtype in dtypes.items():
        given = list(samples.get(name, ()))
        if dtype.is_integer():
            base = [0, 1, -1, 2, 7, 1000, *[int(n) + d for n in numbers for d in (-1, 0, 1)]]
            values: list[object] = [None, *base, *[v for v in given if isinstance(v, int)]]
        elif dtype.is_float():
            base = [
                0.0,
                1.0,
                -1.0,
                0.5,
                -2.5,
                1e6,
                *[float(n) + d for n in numbers for d in (-0.5, 0, 0.5)],
            ]
            values = [None, *base, *[float(v) for v in given if isinstance(v, int | float)]]
        elif dtype == pl.Boolean:
            values = [None, True, False]
        elif isinstance(dtype, pl.Enum):
            values = [None, *dtype.categories.to_list()]
        else:
            values = [None, "", "a", *texts, *[str(v) for v in given]]
        per_column[name] = values
    longest = max((len(v) for v in per_column.values()), default=0)
    count = 4 * longest + 2
    rows: list[dict[str, object]] = [
        {name: None for name in dtypes},
        {name: _zero(dtype) for name, dtype in dtypes.items()},
    ]
    for i in range(count):
        rows.append(
            {
                name: values[(i * (k % 3 + 1) + k) % len(values)]
                for k, (name, values) in enumerate(per_column.items())
            }
        )
    return rows


def _zero(dtype: pl.DataType) -> object:
    if dtype.is_integer():
        return 0
    if dtype.is_float():
        return 0.0
    return None


def _literals(expression: str) -> list[object]:
    try:
        tree = json.loads(pl.sql_expr(expression).meta.serialize(format="json"))
    except Exception:
        return []
    found: list[object] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "Literal" in node:
                # a dtype literal ({"Literal": "Boolean"}) or a decimal is no sample value
                with contextlib.suppress(Exception):
                    found.append(_literal_value(node["Literal"])[0])
                return
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(tree)
    return found


# Compiling polars' expression tree ---------------------------------------------------------


def _compile(node: Any, dtypes: Mapping[str, pl.DataType]) -> _Compiled:
    if not isinstance(node, dict) or len(node) != 1:
        raise _Unsupported(str(node)[:40])
    ((kind, body),) = node.items()
    if kind == "Column":
        return _column(body, dtypes)
    if kind == "Literal":
        value, value_kind = _literal_value(body)
        return (lambda row: value), value_kind
    if kind == "Alias":
        return _compile(body[0], dtypes)
    if kind == "BinaryExpr":
        return _binary(body["op"], _compile(body["left"], dtypes), _compile(body["right"], dtypes))
    if kind == "Ternary":
        return _ternary(*(_compile(body[k], dtypes) for k in ("predicate", "truthy", "falsy")))
    if kind == "Cast" and body.get("dtype") == {"Literal": "Boolean"}:
        inner, inner_kind = _compile(body["expr"], dtypes)
        if inner_kind not in ("bool", "null"):
            raise _Unsupported("cast")
        return inner, "bool"
    if kind == "Function":
        return _function(body, dtypes)
    raise _Unsupported(kind)


def _column(name: str, dtypes: Mapping[str, pl.DataType]) -> _Compiled:
    dtype = dtypes.get(name)
    if dtype is None:
        raise _Unsupported(name)
    if dtype.is_numeric():
        kind = "num"
    elif dtype == pl.Boolean:
        kind = "bool"
    elif dtype == pl.String:
        kind = "str"  # Enum columns order by category, not text: left to polars
    else:
        raise _Unsupported(str(dtype))
    return (lambda row: row.get(name)), kind


def _literal_value(body: Any) -> tuple[object, str]:
    if not isinstance(body, dict) or len(body) != 1:
        raise _Unsupported("literal")
    ((family, inner),) = body.items()
    if family not in ("Dyn", "Scalar") or not isinstance(inner, dict):
        raise _Unsupported("literal")
    ((literal_kind, value),) = inner.items()
    if literal_kind == "Int" and isinstance(value, int):
        return value, "num"
    if literal_kind == "Float" and isinstance(value, float):
        return value, "num"
    if literal_kind == "String" and isinstance(value, str):
        return value, "str"
    if literal_kind == "Null":
        return None, "null"
    raise _Unsupported(literal_kind)  # decimals round as polars' Decimal does: not compiled


def _function(body: Any, dtypes: Mapping[str, pl.DataType]) -> _Compiled:
    function, inputs = body["function"], body["input"]
    if function == {"Boolean": "Not"} and len(inputs) == 1:
        inner, inner_kind = _compile(inputs[0], dtypes)
        if inner_kind not in ("bool", "null"):
            raise _Unsupported("not")
        return (lambda row: None if (v := inner(row)) is None else not v), "bool"
    if function in ({"Boolean": "IsNull"}, {"Boolean": "IsNotNull"}) and len(inputs) == 1:
        inner, _ = _compile(inputs[0], dtypes)
        if function["Boolean"] == "IsNull":
            return (lambda row: inner(row) is None), "bool"
        return (lambda row: inner(row) is not None), "bool"
    if isinstance(function, dict) and "Sql" in function and len(inputs) == 2:
        op = function["Sql"].get("Binary") if isinstance(function["Sql"], dict) else None
        if op in ("Div", "Mul"):
            return _binary(op, _compile(inputs[0], dtypes), _compile(inputs[1], dtypes))
    raise _Unsupported(str(function)[:40])


def _binary(op: str, left: _Compiled, right: _Compiled) -> _Compiled:
    (a, a_kind), (b, b_kind) = left, right
    if op in ("And", "Or", "LogicalAnd", "LogicalOr"):
        if a_kind not in ("bool", "null") or b_kind not in ("bool", "null"):
            raise _Unsupported(op)
        return (_and(a, b) if op in ("And", "LogicalAnd") else _or(a, b)), "bool"
    if op in _ARITHMETIC:
        if a_kind not in ("num", "null") or b_kind not in ("num", "null"):
            raise _Unsupported(op)
        return _arithmetic(op, a, b), "num"
    if op in _ORDERING:
        if a_kind not in ("num", "null") or b_kind not in ("num", "null"):
            raise _Unsupported(op)  # text ordering is collation-dependent: left to polars
        return _compare(op, a, b), "bool"
    if op in _EQUALITY:
        if "null" not in (a_kind, b_kind) and a_kind != b_kind:
            raise _Unsupported(op)
        return _compare(op, a, b), "bool"
    raise _Unsupported(op)


def _and(a: RowExpression, b: RowExpression) -> RowExpression:
    def evaluate(row: Row) -> object:
        x, y = a(row), b(row)
        if x is False or y is False:
            return False
        return None if x is None or y is None else True

    return evaluate


def _or(a: RowExpression, b: RowExpression) -> RowExpression:
    def evaluate(row: Row) -> object:
        x, y = a(row), b(row)
        if x is True or y is True:
            return True
        return None if x is None or y is None else False

    return evaluate


def _arithmetic(op: str, a: RowExpression, b: RowExpression) -> RowExpression:
    if op in ("Plus", "Add"):
        combine: Callable[[Any, Any], object] = lambda x, y: x + y  # noqa: E731
    elif op in ("Minus", "Sub"):
        combine = lambda x, y: x - y  # noqa: E731
    elif op in ("Multiply", "Mul"):
        combine = lambda x, y: x * y  # noqa: E731
    else:
        combine = _divide

    def evaluate(row: Row) -> object:
        x, y = a(row), b(row)
        if x is None or y is None:
            return None
        return combine(x, y)

    return evaluate


def _divide(x: Any, y: Any) -> float:
    """x / y as polars gives it on floats: ±inf for x/0, NaN for 0/0 or NaN/0."""
    x, y = float(x), float(y)
    if y != 0.0:
        return x / y
    if x == 0.0 or math.isnan(x):
        return math.nan
    return math.copysign(math.inf, x) * math.copysign(1.0, y)


def _order_key(value: Any) -> tuple[int, Any]:
    """Polars' total order of floats: NaN above every number and equal to itself."""
    return (1, 0.0) if value != value else (0, value)


def _compare(op: str, a: RowExpression, b: RowExpression) -> RowExpression:
    test: Callable[[Any, Any], bool] = {
        "Lt": lambda x, y: x < y,
        "LtEq": lambda x, y: x <= y,
        "Gt": lambda x, y: x > y,
        "GtEq": lambda x, y: x >= y,
        "Eq": lambda x, y: x == y,
        "NotEq": lambda x, y: x != y,
    }[op]

    def evaluate(row: Row) -> object:
        x, y = a(row), b(row)
        if x is None or y is None:
            return None
        if isinstance(x, float) or isinstance(y, float):
            return test(_order_key(x), _order_key(y))
        return test(x, y)

    return evaluate


def _ternary(predicate: _Compiled, truthy: _Compiled, falsy: _Compiled) -> _Compiled:
    (p, p_kind), (t, t_kind), (f, f_kind) = predicate, truthy, falsy
    if p_kind not in ("bool", "null"):
        raise _Unsupported("case")
    kinds = {t_kind, f_kind} - {"null"}
    if len(kinds) > 1:
        raise _Unsupported("case branches of different kinds")

    def evaluate(row: Row) -> object:
        return t(row) if p(row) is True else f(row)

    return evaluate, (kinds.pop() if kinds else "null")
