"""Engineered features' SQL expressions: what they may do, which columns they read, what kind
of value they yield.

An expression is evaluated by polars on each row of a validated batch, so it must be a scalar
expression over the row's own columns: arithmetic, comparisons, CASE, CAST and scalar
functions. It is checked by parsing it with polars' SQL parser and walking the expression
tree polars builds, against an allow-list of node kinds and function families.

One thing is checked before parsing: polars plans a subquery while it parses it, and planning
`FROM read_csv('/etc/passwd')` reads the file (its first line then shows in the error). So the
words that start a query (SELECT, FROM) are refused in the raw text first, except in the
scalar forms `EXTRACT(field FROM ...)` and `IS [NOT] DISTINCT FROM`. The check is deliberately
coarse (a category literal holding the word 'from' is refused too) because it must not depend
on tokenizing the SQL exactly as polars does.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from modelops.spec.base import Problem
from modelops.spec.schema import validated_dtype

if TYPE_CHECKING:
    import polars as pl

    from modelops.spec.modelling import EngineeredFeature
    from modelops.spec.schema import Column

_SCALAR_FROM = re.compile(
    r"\bIS\s+(?:NOT\s+)?DISTINCT\s+FROM\b|\bEXTRACT\s*\(\s*[A-Za-z_]+\s+FROM\b", re.IGNORECASE
)
_QUERY_WORD = re.compile(r"(?<![A-Za-z_$])(SELECT|FROM)(?![A-Za-z0-9_$])", re.IGNORECASE)

_PLAIN_NODES = frozenset({"Column", "Literal", "BinaryExpr", "Ternary", "Cast", "Alias"})
_FUNCTIONS = frozenset(
    {
        "Abs",
        "Atan2",
        "Boolean",
        "Ceil",
        "Coalesce",
        "Exp",
        "FillNull",
        "Floor",
        "ListExpr",
        "Log",
        "Log1p",
        "MaxHorizontal",
        "MinHorizontal",
        "Pow",
        "Sign",
        "Sql",
        "StringExpr",
        "StructExpr",
        "TemporalExpr",
        "Trigonometry",
    }
)
"""Function families of polars' expression tree that compute a value from the row alone."""
_REFUSED_NAMES = {
    "SubPlan": "a subquery",
    "Agg": "an aggregate (SUM, COUNT, AVG, MAX, ...)",
    "Len": "COUNT(*)",
    "Over": "a window function (... OVER ...)",
    "Shift": "a window function (LAG, LEAD)",
    "Rank": "a window function (RANK)",
    "Range": "a window function (ROW_NUMBER)",
    "Explode": "UNNEST",
    "Selector": "COLUMNS(...)",
}
_WHY = (
    "an engineered feature is computed from its own row's columns with arithmetic, "
    "comparisons, CASE, CAST and scalar functions"
)


def expression_roots(expression: str) -> tuple[list[str], str | None]:
    """The columns an allowed expression reads, or why it is not allowed."""
    parsed, problem = _parse(expression)
    if parsed is None:
        return [], problem
    return parsed.meta.root_names(), None


def kind_problem(feature: EngineeredFeature, columns: Sequence[Column]) -> Problem | None:
    """Why `feature`'s expression cannot yield its declared kind on validated rows of the
    declared `columns`, as (its field, reason); None when it can.

    The expression is evaluated on one row of plausible values typed as validation types
    them (categories as Enum or Categorical), so a wrong operand (UPPER on an Enum, a
    category divided by a number) fails here as it would fail on every row of a run.
    """
    import polars as pl

    parsed, problem = _parse(feature.expression)
    if parsed is None:
        return "expression", str(problem)
    try:
        dtype = _sample_row(columns).select(parsed).dtypes[0]
    except Exception as exc:  # polars raises several error types for a wrong operand
        reason = _first_line(exc)
        if "got `enum`" in reason or "got `cat`" in reason:
            reason += " (a category column is not plain text: write CAST(column AS VARCHAR))"
        return "expression", f"cannot be computed on the declared column types: {reason}"
    if feature.kind == "numeric" and not (dtype.is_numeric() or dtype == pl.Boolean):
        return "kind", (
            f"declared numeric, but the expression yields {_describe(dtype)}; a model input "
            "must be a number (or declare the feature categorical)"
        )
    if feature.kind == "categorical" and (dtype.is_float() or dtype.is_temporal()):
        return "kind", (
            f"declared categorical, but the expression yields {_describe(dtype)}: every "
            "distinct value would be a category of its own; band it (CASE WHEN ... THEN "
            "'band' END) or declare it numeric"
        )
    return None


def _sample_row(columns: Sequence[Column]) -> pl.DataFrame:
    """One row of the declared columns with a plausible value each (an allowed value, a
    number within min and max), typed as validated batches are."""
    import polars as pl

    return pl.DataFrame(
        [pl.Series(c.name, [_sample_value(c)], dtype=validated_dtype(c)) for c in columns]
    )


def _sample_value(column: Column) -> Any:
    if column.allowed:
        return column.allowed[0]
    if column.type in ("int", "float"):
        low = 1.0 if column.max is None else min(1.0, column.max)
        low = low if column.min is None else column.min
        return math.ceil(low) if column.type == "int" else float(low)
    return {
        "category": "a",
        "text": "a",
        "bool": True,
        "date": date(2000, 1, 1),
        "datetime": datetime(2000, 1, 1),
    }[column.type]


def _parse(expression: str) -> tuple[pl.Expr | None, str | None]:
    import polars as pl

    word = _QUERY_WORD.search(_SCALAR_FROM.sub(" ", expression))
    if word is not None:
        return None, (
            f"'{word.group(1)}' is not allowed: {_WHY}, never a query or a file "
            "(EXTRACT(field FROM ...) and IS DISTINCT FROM are the only uses of FROM; write "
            "SUBSTR(s, start, length) or TRIM(s) for their FROM forms)"
        )
    try:
        parsed = pl.sql_expr(expression)
        tree = json.loads(parsed.meta.serialize(format="json"))
    except Exception as exc:  # polars raises several error types for bad SQL
        return None, f"not a valid SQL expression: {_first_line(exc)}"
    for kind in _node_kinds(tree):
        if kind not in _PLAIN_NODES and kind not in _FUNCTIONS and kind != "Function":
            shown = _REFUSED_NAMES.get(kind, f"the construct '{kind}'")
            return None, f"{shown} is not allowed: {_WHY}"
    return parsed, None


def _node_kinds(node: Any) -> Iterator[str]:
    """The kind of every expression node of polars' JSON tree, and every function family."""
    if isinstance(node, str):
        yield node  # a node without fields ("Len")
        return
    if not isinstance(node, dict) or len(node) != 1:
        return
    ((kind, body),) = node.items()
    yield kind
    if kind in ("Column", "Literal"):
        return
    if kind == "Function":
        function = body["function"]
        yield function if isinstance(function, str) else next(iter(function))
        for child in body["input"]:
            yield from _node_kinds(child)
    elif kind == "BinaryExpr":
        yield from _node_kinds(body["left"])
        yield from _node_kinds(body["right"])
    elif kind == "Ternary":
        for key in ("predicate", "truthy", "falsy"):
            yield from _node_kinds(body[key])
    elif kind == "Cast":
        yield from _node_kinds(body["expr"])
    elif kind == "Alias":
        yield from _node_kinds(body[0])


def _describe(dtype: pl.DataType) -> str:
    import polars as pl

    if isinstance(dtype, pl.String | pl.Categorical | pl.Enum):
        return "text"
    if dtype.is_numeric():
        return f"numbers ({dtype})"
    if dtype.is_temporal():
        return f"dates ({dtype})"
    return str(dtype)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
