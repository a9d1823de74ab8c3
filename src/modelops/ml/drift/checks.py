"""Argument and column checks shared by Evidently's report and the engine.

Both fail fast with a message naming the columns, rather than deep inside numpy or Evidently.
`who` starts every message ("drift report", "drift engine", ...), so the caller is obvious.
"""

from __future__ import annotations

import polars as pl


def check_column_lists(who: str, numeric: list[str], categorical: list[str]) -> None:
    """At least one column, none listed twice (as numeric and categorical, say)."""
    columns = [*numeric, *categorical]
    if not columns:
        raise ValueError(f"{who}: no columns to compare (numeric and categorical are empty)")
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise ValueError(f"{who}: column(s) {duplicated} listed more than once")


def check_thresholds(who: str, drift_share: float, stattest_threshold: float | None) -> None:
    if not 0 < drift_share <= 1:
        raise ValueError(f"{who}: drift_share must be in (0, 1], got {drift_share}")
    if stattest_threshold is not None and not stattest_threshold > 0:
        raise ValueError(f"{who}: stattest_threshold must be positive, got {stattest_threshold}")


def check_frame(
    who: str, side: str, frame: pl.DataFrame, numeric: list[str], categorical: list[str]
) -> None:
    """Rows to compare, every column present, numeric columns numeric (or boolean) and no
    nested categorical column, so that nothing downstream has to guess a type."""
    if frame.height == 0:
        raise ValueError(f"{who}: the {side} frame is empty (0 rows); nothing to compare")
    missing = [c for c in [*numeric, *categorical] if c not in frame.columns]
    if missing:
        raise ValueError(f"{who}: column(s) {missing} missing from the {side} frame")
    not_numeric = [
        c for c in numeric if not (frame.schema[c].is_numeric() or frame.schema[c] == pl.Boolean)
    ]
    if not_numeric:
        raise ValueError(
            f"{who}: numeric column(s) {not_numeric} are not numeric in the {side} frame: "
            f"{[str(frame.schema[c]) for c in not_numeric]}"
        )
    nested = [c for c in categorical if frame.schema[c].is_nested()]
    if nested:
        raise ValueError(f"{who}: categorical column(s) {nested} are nested types")
