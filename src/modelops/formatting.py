"""Numbers, tables and escaping for every markdown report, card, UI summary and message.

Column names, category values, group labels and error messages are user data: in a table
they pass through `cell`, which makes them inert in markdown and in the HTML rendered from it
(no broken row, no link, no emphasis, no tag); a spec's free text (descriptions, intended
uses) passes through `paragraphs`, a value shown as code through `code`. Text the platform
writes itself and wants rendered (bold verdicts, code spans) is wrapped in `Markdown` to say
so. On a terminal, user text (reasons, actors) is `quoted` so it cannot pass for a record.
(Secrets in connection strings are removed from messages by `settings.redact`.)
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import timedelta

    import polars as pl

NOT_AVAILABLE = "n/a"
"""How an absent or undefined figure (None, NaN, infinity) reads."""

_ESCAPED = {c: "\\" + c for c in "\\|`*[]~"}
_LONE_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")
"""An underscore that could open or close emphasis: not between two letters or digits
(`60_plus` stays as it is)."""
_ORDERED_ITEM = re.compile(r"^(\d+)([.)])")


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


PEOPLE_DECIMALS = 4
"""Decimals a person reads: in the UI, reports and the CLI (stored JSON keeps every digit)."""


def for_people(value: object) -> object:
    """A float rounded to `PEOPLE_DECIMALS` (0.05555555555555555 reads 0.0556); anything
    else unchanged. Booleans and integers are not floats here."""
    if isinstance(value, float) and math.isfinite(value):
        rounded = round(value, PEOPLE_DECIMALS)
        return 0.0 if rounded == 0 else rounded
    return value


def cell(value: object) -> str:
    """Data-derived text made inert inside a markdown table cell (and its HTML rendering);
    a float is rounded for people first."""
    if isinstance(value, Markdown):
        return " ".join(value.split())
    value = for_people(value)
    escaped = "".join(_ESCAPED.get(char, char) for char in str(value))
    escaped = _LONE_UNDERSCORE.sub(r"\\_", escaped)
    escaped = escaped.replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(escaped.split())


def paragraphs(value: object) -> str:
    """Free text (a spec's description, intended use, attribution) as inert markdown: blank
    lines still separate paragraphs; each paragraph is one line escaped like a cell that
    cannot start a heading, list, quote, rule or code block."""
    blocks = re.split(r"\n\s*\n", str(value).strip())
    return "\n\n".join(text for text in (_inline_block(block) for block in blocks) if text)


def code(value: object) -> str:
    """A value shown as a code span (a path, a parameter): its backticks cannot close the
    span, and what is inside a code span is never rendered. Not for table cells (a `|` still
    splits the row there: use `cell`)."""
    text = " ".join(str(value).split())
    if not text:
        return ""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text[0] == "`" or text[-1] == "`" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _inline_block(value: object) -> str:
    """`cell`, and a leading character that would open a block (`#`, `-`, `+`, `=`, `1.`)
    escaped: the text stays one paragraph (or list item) of plain text."""
    text = cell(value)
    ordered = _ORDERED_ITEM.match(text)
    if ordered:
        return f"{ordered.group(1)}\\{ordered.group(2)}{text[ordered.end() :]}"
    return "\\" + text if text[:1] in ("#", "-", "+", "=") else text


def quoted(value: object) -> str:
    """User text (a reason, an actor, a role) on a terminal line or in a message: quoted,
    with newlines, control and invisible formatting characters escaped (Python's `repr`), so
    it cannot start a line of its own or pass for a record the platform wrote."""
    return repr(str(value))


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
    return [f"- {_inline_block(item)}" for item in items]


def json_document(data: object) -> bytes:
    """A stored JSON document (report, plan, record): indented, keys sorted, UTF-8."""
    return json.dumps(data, indent=2, sort_keys=True, default=str).encode()


def duration(delta: timedelta) -> str:
    """A length of time as an SLA is read: '45 min', '2 h 30 min', '1.5 days', '31 days'
    (never '0.1 days' for a sub-day SLA)."""
    minutes = round(abs(delta.total_seconds()) / 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 24 * 60:
        hours, rest = divmod(minutes, 60)
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    days = minutes / (24 * 60)
    if round(days, 1) == 1:
        return "1 day"
    return f"{days:.0f} days" if round(days, 1) == round(days) else f"{days:.1f} days"
