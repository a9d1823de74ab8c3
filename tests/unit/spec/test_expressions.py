"""Engineered features' SQL: scalar expressions over the row are allowed, anything that
queries, aggregates, looks at other rows or reads a file is refused, and the declared kind
must match what the expression yields on the declared column types."""

from __future__ import annotations

import pytest

from modelops.spec import Column, EngineeredFeature
from modelops.spec.expressions import expression_roots, kind_problem

COLUMNS = [
    Column(name="amount", type="int", min=1, max=100),
    Column(name="rate", type="float"),
    Column(name="purpose", type="category", allowed=["car", "education"]),
    Column(name="city", type="category"),
    Column(name="flag", type="bool"),
    Column(name="opened", type="date"),
]


@pytest.mark.parametrize(
    ("expression", "roots"),
    [
        ("amount / rate", ["amount", "rate"]),
        ("CASE WHEN amount > 10 THEN 'high' ELSE 'low' END", ["amount"]),
        ("CAST(amount AS DOUBLE) * 2", ["amount"]),
        ("COALESCE(rate, 0) + ABS(amount)", ["rate", "amount"]),
        ("EXTRACT(year FROM opened)", ["opened"]),
        ("amount IS DISTINCT FROM 3", ["amount"]),
        ("UPPER(CAST(city AS VARCHAR))", ["city"]),
    ],
)
def test_a_scalar_expression_is_allowed_and_its_columns_named(expression, roots) -> None:
    found, problem = expression_roots(expression)
    assert problem is None
    assert found == roots


@pytest.mark.parametrize(
    ("expression", "named"),
    [
        ("(SELECT 1)", "'SELECT' is not allowed"),
        ("amount + (select max(a) from t)", "'select' is not allowed"),
        ("read_csv('/etc/passwd')", "not a valid SQL expression"),
        ("SUM(amount)", "an aggregate"),
        ("COUNT(*)", "COUNT(*)"),
        ("amount - LAG(amount) OVER (ORDER BY rate)", "a window function"),
        ("ROW_NUMBER() OVER (ORDER BY rate)", "a window function"),
        ("amount +", "not a valid SQL expression"),
        ("SUBSTRING(city FROM 2)", "'FROM' is not allowed"),
    ],
)
def test_what_is_not_a_row_expression_is_refused_with_why(expression, named) -> None:
    roots, problem = expression_roots(expression)
    assert roots == []
    assert problem is not None and named in problem


def _feature(expression: str, kind: str) -> EngineeredFeature:
    return EngineeredFeature(name="f", expression=expression, kind=kind)


@pytest.mark.parametrize(
    ("expression", "kind"),
    [
        ("amount / rate", "numeric"),
        ("flag", "numeric"),
        ("purpose = 'car'", "numeric"),
        ("EXTRACT(year FROM opened)", "numeric"),
        ("CASE WHEN amount > 10 THEN 'high' ELSE 'low' END", "categorical"),
        ("purpose", "categorical"),
        ("amount % 4", "categorical"),
        ("CAST(city AS VARCHAR) || '-x'", "categorical"),
    ],
)
def test_an_expression_of_its_declared_kind_passes(expression, kind) -> None:
    assert kind_problem(_feature(expression, kind), COLUMNS) is None


@pytest.mark.parametrize(
    ("expression", "kind", "field", "reason"),
    [
        ("purpose", "numeric", "kind", "yields text"),
        ("opened", "numeric", "kind", "yields dates"),
        ("rate * 2", "categorical", "kind", "every distinct value would be a category"),
        ("opened", "categorical", "kind", "yields dates"),
        ("purpose / 2", "expression", "expression", "cannot be computed"),
        ("LENGTH(city)", "categorical", "expression", "CAST(column AS VARCHAR)"),
        ("SUM(amount)", "numeric", "expression", "an aggregate"),
    ],
)
def test_an_expression_of_another_kind_is_named(expression, kind, field, reason) -> None:
    declared = "numeric" if kind == "expression" else kind
    problem = kind_problem(_feature(expression, declared), COLUMNS)
    assert problem is not None
    assert problem[0] == field
    assert reason in problem[1]
