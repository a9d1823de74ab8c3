"""Numbers, tables and cell escaping for every markdown report, card and UI summary.

Column names, category values, group labels and error messages are user data: in a table
they pass through `cell`, which makes them inert in markdown and in the HTML rendered from it
(no broken row, no link, no emphasis, no tag). Text the platform writes itself and wants
rendered (bold verdicts, code spans) is wrapped in `Markdown` to say so.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

NOT_AVAILABLE = "n/a"
"""How an absent or undefined figure (None, NaN, infinity) reads."""

_ESCAPED = {c: "\\" + c for c in "\\|`*[]"}


class Markdown(str):
    """Markdown written by the platform: a table keeps it as it is (never user data)."""

    __slots__ = ()


def finite(value: float | None) -> float | None:
    """A figure as a report stores it: None when absent or undefined (NaN, infinity)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def number(value: float | None, digits: int = 4) -> str:
    """Fixed decimals; undefined or absent values read 'n/a'."""
    value = finite(value)
    return NOT_AVAILABLE if value is None else f"{value:.{digits}f}"


def signed(value: float | None, digits: int = 4) -> str:
    """A difference, always with its sign."""
    value = finite(value)
    return NOT_AVAILABLE if value is None else f"{value:+.{digits}f}"


def percent(value: float | None, digits: int = 1) -> str:
    value = finite(value)
    return NOT_AVAILABLE if value is None else f"{value:.{digits}%}"


def limit(value: float) -> str:
    """A limit as a policy writes it, with at least two decimals (0.7 reads 0.70)."""
    return f"{value:.2f}" if round(value, 2) == value else f"{value:g}"


def pass_fail(passed: bool) -> str:
    """A check's verdict as every report writes it."""
    return "PASS" if passed else "FAIL"


def cell(value: object) -> str:
    """Data-derived text made inert inside a markdown table cell (and its HTML rendering)."""
    if isinstance(value, Markdown):
        return " ".join(value.split())
    escaped = "".join(_ESCAPED.get(char, char) for char in str(value))
    escaped = escaped.replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(escaped.split())


def table(
    header: Sequence[object], rows: Iterable[Sequence[object]], *, align: str | None = None
) -> list[str]:
    """A markdown table, every cell through `cell`. `align` is one character per column:
    'l', 'r' or 'c' (default: left throughout)."""
    header = list(header)
    rules = {"l": "---", "r": "---:", "c": ":---:"}
    spec = align or "l" * len(header)
    if len(spec) != len(header):
        raise ValueError(f"align {spec!r} does not have one letter per column of {header}")
    lines = [
        "| " + " | ".join(cell(h) for h in header) + " |",
        "|" + "|".join(rules[a] for a in spec) + "|",
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines


def frame_table(frame: pl.DataFrame, *, limit: int) -> str:
    """The first `limit` rows of a table, with a note of how many more there are."""
    if frame.height == 0:
        return "_none_"
    lines = table(frame.columns, frame.head(limit).iter_rows())
    if frame.height > limit:
        lines.append(f"\n_{frame.height - limit} more rows not shown_")
    return "\n".join(lines)


def bullets(items: Iterable[object]) -> list[str]:
    """A markdown list; each item escaped like a cell."""
    return [f"- {cell(item)}" for item in items]


def json_document(data: object) -> bytes:
    """A stored JSON document (report, plan, record): indented, keys sorted, UTF-8."""
    return json.dumps(data, indent=2, sort_keys=True, default=str).encode()
