"""The one formatting module: figures, limits, cell escaping and tables of every report."""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest

from modelops.formatting import (
    NOT_AVAILABLE,
    Markdown,
    bullets,
    cell,
    finite,
    frame_table,
    json_document,
    limit,
    number,
    pass_fail,
    percent,
    signed,
    table,
)

UNDEFINED = [None, math.nan, math.inf, -math.inf, np.float64("nan")]


@pytest.mark.parametrize("value", UNDEFINED)
def test_an_undefined_figure_reads_not_available(value: float | None) -> None:
    assert NOT_AVAILABLE == "n/a"
    assert number(value) == "n/a"
    assert number(value, digits=3) == "n/a"
    assert signed(value) == "n/a"
    assert percent(value) == "n/a"
    assert finite(value) is None


def test_figures_keep_the_decimals_asked_for() -> None:
    assert number(0.78512) == "0.7851"  # four by default, like the evaluation report
    assert number(0.78512, digits=3) == "0.785"  # the release gates' summaries
    assert number(np.float32(0.5), digits=2) == "0.50"
    assert number(3) == "3.0000"
    assert signed(0.0102, digits=3) == "+0.010"
    assert signed(-0.0625) == "-0.0625"
    assert signed(0.0) == "+0.0000"
    assert percent(0.625) == "62.5%"
    assert percent(1 / 3, digits=2) == "33.33%"
    assert finite(np.float64(0.25)) == 0.25
    assert isinstance(finite(np.float64(0.25)), float)


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.7, "0.70"), (0.02, "0.02"), (0.1, "0.10"), (1.0, "1.00"), (0.025, "0.025"), (20, "20.00")],
)
def test_limits_read_as_a_policy_writes_them(value: float, text: str) -> None:
    assert limit(value) == text


def test_pass_fail() -> None:
    assert (pass_fail(True), pass_fail(False)) == ("PASS", "FAIL")


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("a|b", "a\\|b"),
        ("`code`", "\\`code\\`"),
        ("*bold*", "\\*bold\\*"),
        ("[x](http://evil)", "\\[x\\](http://evil)"),
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("back\\slash", "back\\\\slash"),
        ("two\nlines\r\n  and\ttabs ", "two lines and tabs"),
        ("60_plus", "60_plus"),  # underscores are left alone: category codes use them
        ("", ""),
    ],
)
def test_cell_makes_user_text_inert(raw: str, escaped: str) -> None:
    assert cell(raw) == escaped


def test_cell_of_other_values() -> None:
    assert cell(7) == "7"
    assert cell(0.5) == "0.5"
    assert cell(None) == "None"


def test_markdown_is_kept_as_is_but_stays_on_one_line() -> None:
    assert cell(Markdown("**FAIL** `x` | <b>")) == "**FAIL** `x` | <b>"
    assert cell(Markdown(">= 0.70\nnext")) == ">= 0.70 next"
    assert isinstance(Markdown("x"), str)


def test_table_escapes_every_cell_but_markdown() -> None:
    lines = table(["Name", "Verdict"], [["a|b", Markdown("**PASS**")], [3, "<i>"]])
    assert lines == [
        "| Name | Verdict |",
        "|---|---|",
        "| a\\|b | **PASS** |",
        "| 3 | &lt;i&gt; |",
    ]


def test_table_alignment() -> None:
    assert table(["a", "b", "c"], [], align="lrc")[1] == "|---|---:|:---:|"
    assert table(["a", "b"], [])[1] == "|---|---|"  # left throughout by default
    with pytest.raises(ValueError, match="one letter per column"):
        table(["a", "b"], [], align="l")
    with pytest.raises(KeyError):
        table(["a"], [], align="x")


def test_a_row_with_a_hostile_value_keeps_its_columns() -> None:
    (row,) = table(["k", "v"], [["k|1", "[x](http://evil)\n| injected |"]])[2:]
    assert row.replace("\\|", "").count("|") == 3
    assert "[x](" not in row


def test_frame_table_shows_up_to_the_limit_and_counts_the_rest() -> None:
    frame = pl.DataFrame({"col|umn": ["a", "b*", "c"], "n": [1, 2, 3]})
    assert frame_table(frame, limit=5) == "\n".join(
        ["| col\\|umn | n |", "|---|---|", "| a | 1 |", "| b\\* | 2 |", "| c | 3 |"]
    )
    shown = frame_table(frame, limit=2)
    assert shown.splitlines()[2:4] == ["| a | 1 |", "| b\\* | 2 |"]
    assert "| c | 3 |" not in shown
    assert shown.endswith("\n\n_1 more rows not shown_")
    assert "more rows" not in frame_table(frame, limit=3)
    assert frame_table(frame.clear(), limit=5) == "_none_"


def test_bullets_escape_like_cells() -> None:
    assert bullets(["ok", "*x*"]) == ["- ok", "- \\*x\\*"]


def test_json_document_is_indented_sorted_utf8() -> None:
    document = json_document({"b": 1, "a": "é"})
    assert document == json.dumps({"a": "é", "b": 1}, indent=2).encode()
    assert json.loads(document) == {"a": "é", "b": 1}


def test_numbers_read_by_people_have_at_most_four_decimals() -> None:
    from modelops.formatting import for_people

    assert for_people(0.05555555555555555) == 0.0556
    assert for_people(-0.00001) == 0.0  # no "-0.0"
    assert (
        for_people(12) == 12 and for_people(True) is True and for_people("0.123456") == "0.123456"
    )
    assert for_people(float("nan")) != for_people(float("nan"))  # NaN stays NaN
    assert cell(0.8412345) == "0.8412"
    assert frame_table(pl.DataFrame({"share": [1 / 3]}), limit=5).endswith("| 0.3333 |")
