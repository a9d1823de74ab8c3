"""Engineered-feature SQL compiled to Python closures, checked value by value against polars
(the batch's evaluator) on rows of nulls, zeros, signs and edges."""

from __future__ import annotations

import math

import polars as pl
import pytest

from modelops.ml.scoring.applications import ApplicationScorer
from modelops.ml.scoring.row_expressions import (
    compile_row_expression,
    feature_value,
    same_value,
    sample_rows,
    verified_row_expression,
)
from modelops.ml.serving_bundle import ServingBundle
from modelops.spec.columns import ROW_ID

DTYPES: dict[str, pl.DataType] = {
    "amount": pl.Int64(),
    "months": pl.Int64(),
    "rate": pl.Float64(),
    "purpose": pl.String(),
    "owner": pl.Boolean(),
}

COMPILED = [
    ("amount / months", "numeric"),
    ("rate / 0", "numeric"),
    ("amount * months - rate + 3", "numeric"),
    ("-rate", "numeric"),
    ("amount + rate", "categorical"),
    (
        "CASE WHEN months < 12 THEN 'short' WHEN months < 36 THEN 'medium' ELSE 'long' END",
        "categorical",
    ),
    ("CASE WHEN rate >= 1 THEN 1 END", "numeric"),
    ("CASE WHEN purpose = 'car' AND NOT (amount > 1000) THEN 1 ELSE 0 END", "numeric"),
    ("CASE WHEN rate IS NULL OR purpose <> 'car' THEN 'x' ELSE 'y' END", "categorical"),
    ("CASE WHEN owner AND rate > 0 THEN amount ELSE NULL END", "numeric"),
    ("rate IS NOT NULL", "categorical"),
    ("rate = rate / 0", "categorical"),
]
NOT_COMPILED = [
    "ABS(rate)",  # a function
    "amount * 1.5",  # a decimal literal: polars' Decimal rounding
    "purpose < 'm'",  # text ordering
    "CAST(amount AS VARCHAR)",
    "COALESCE(rate, 0)",
    "amount % 7",
    "purpose + 1",  # a type error polars raises
    "not sql at all (",
]


def _polars_values(expression: str, rows: list[dict[str, object]], kind: str) -> list[object]:
    frame = pl.DataFrame({n: [r[n] for r in rows] for n in DTYPES}, schema=DTYPES)
    values = frame.select(pl.sql_expr(expression).alias("v"))["v"].to_list()
    return [feature_value(v, kind) for v in values]


@pytest.mark.parametrize(("expression", "kind"), COMPILED)
def test_compiled_expression_matches_polars_on_every_sample_row(expression: str, kind: str):
    function = verified_row_expression(expression, kind, DTYPES, {"purpose": ["car", "tv"]})
    assert function is not None, expression
    rows = sample_rows(expression, DTYPES, {"purpose": ["car", "tv"]})
    # Plus rows the verification did not see.
    rows += [
        {"amount": 5, "months": 0, "rate": -0.0, "purpose": "car", "owner": True},
        {"amount": -3, "months": 0, "rate": math.nan, "purpose": None, "owner": None},
        {"amount": 0, "months": 0, "rate": math.inf, "purpose": "tv", "owner": False},
    ]
    expected = _polars_values(expression, rows, kind)
    got = [feature_value(function(r), kind) for r in rows]
    mismatches = [
        (r, g, e) for r, g, e in zip(rows, got, expected, strict=True) if not same_value(g, e)
    ]
    assert not mismatches, mismatches[:3]


@pytest.mark.parametrize("expression", NOT_COMPILED)
def test_outside_the_subset_is_left_to_polars(expression: str):
    assert compile_row_expression(expression, DTYPES) is None
    assert verified_row_expression(expression, "numeric", DTYPES) is None


def test_sql_null_semantics():
    total = compile_row_expression("amount + rate", DTYPES)
    both = compile_row_expression("rate > 0 AND purpose = 'car'", DTYPES)
    either = compile_row_expression("rate > 0 OR purpose = 'car'", DTYPES)
    case = compile_row_expression("CASE WHEN rate > 0 THEN 'pos' ELSE 'other' END", DTYPES)
    assert total and both and either and case
    assert total({"amount": None, "rate": 1.0}) is None
    assert both({"rate": None, "purpose": "tv"}) is False  # null AND false = false
    assert both({"rate": None, "purpose": "car"}) is None
    assert either({"rate": None, "purpose": "car"}) is True  # null OR true = true
    assert either({"rate": None, "purpose": "tv"}) is None
    assert case({"rate": None}) == "other"  # a null condition is not true


def test_division_by_zero_gives_what_polars_gives():
    divide = compile_row_expression("rate / months", DTYPES)
    assert divide is not None
    assert divide({"rate": 2.0, "months": 0}) == math.inf
    assert divide({"rate": -2.0, "months": 0}) == -math.inf
    assert math.isnan(divide({"rate": 0.0, "months": 0}))  # type: ignore[arg-type]
    assert feature_value(divide({"rate": 2.0, "months": 0}), "numeric") is None


def test_a_closure_differing_from_polars_is_refused(monkeypatch: pytest.MonkeyPatch):
    """The differential check is what makes a compiled expression trusted: break the
    compiler's division and verification must refuse it."""
    import modelops.ml.scoring.row_expressions as module

    monkeypatch.setattr(module, "_divide", lambda x, y: float(x) // float(y) if y else 0.0)
    assert compile_row_expression("amount / months", DTYPES) is not None
    assert verified_row_expression("amount / months", "numeric", DTYPES) is None


def test_enum_columns_are_left_to_polars():
    dtypes = {"band": pl.Enum(["b", "a"])}
    assert compile_row_expression("band = 'a'", dtypes) is None


def test_scorer_uses_compiled_features_and_answers_as_polars_does(
    german_spec, german_split, german_valid, fitted
):
    """The German credit spec's engineered features are compiled, and answers with them are
    the answers polars' evaluation gives."""
    train, holdout = german_split
    bundle = ServingBundle.build(
        german_spec,
        model_version="7",
        pipeline=fitted["scorecard"],
        training=train,
        holdout=holdout,
        model_sha256="cd" * 32,
    )
    scorer = ApplicationScorer(bundle, german_spec)
    assert scorer.row_engine_verified
    engine, dtypes = scorer.engine, scorer._raw_dtypes
    assert engine._compiled_expressions(dtypes) is not None
    rows = german_valid.drop(ROW_ID, german_spec.target.column).head(200)
    records = rows.with_columns(pl.col(pl.Enum).cast(pl.String)).to_dicts()
    records[0] = {**records[0], "duration_months": None, "age_years": None}
    fast = [a.model_dump() for r in records for a in scorer.answer([r])]
    engine._row_expressions = (dtypes, None)
    slow = [a.model_dump() for r in records for a in scorer.answer([r])]
    assert fast == slow
