"""Tests for the checks Evidently's report and the engine share (`modelops.ml.drift.checks`)."""

from __future__ import annotations

import polars as pl
import pytest

from modelops.ml.drift.checks import check_column_lists, check_frame, check_thresholds

FRAME = pl.DataFrame(
    {
        "amount": [1.0, 2.0],
        "flag": [True, False],
        "label": ["a", "b"],
        "tags": [["x"], ["y"]],
    }
)


def test_column_lists_need_a_column_and_no_repeat() -> None:
    check_column_lists("drift engine", ["amount"], ["label"])
    with pytest.raises(ValueError, match="drift engine: no columns to compare"):
        check_column_lists("drift engine", [], [])
    with pytest.raises(ValueError, match=r"drift report: column\(s\) \['x'\] listed more than"):
        check_column_lists("drift report", ["x"], ["x"])


def test_thresholds_in_range() -> None:
    check_thresholds("drift engine", 1.0, None)
    check_thresholds("drift engine", 0.5, 0.05)
    for share in (0.0, 1.01):
        with pytest.raises(ValueError, match=r"drift_share must be in \(0, 1\]"):
            check_thresholds("drift engine", share, None)
    with pytest.raises(ValueError, match="stattest_threshold must be positive"):
        check_thresholds("drift engine", 0.5, -0.1)


def test_frame_columns_present_and_typed() -> None:
    check_frame("drift engine", "current", FRAME, ["amount", "flag"], ["label"])  # booleans count
    with pytest.raises(ValueError, match="drift engine: the current frame is empty"):
        check_frame("drift engine", "current", FRAME.clear(), ["amount"], [])
    with pytest.raises(ValueError, match=r"\['gone'\] missing from the reference frame"):
        check_frame("drift report", "reference", FRAME, ["amount"], ["gone"])
    with pytest.raises(ValueError, match=r"\['label'\] are not numeric in the current frame"):
        check_frame("drift engine", "current", FRAME, ["label"], [])
    with pytest.raises(ValueError, match=r"\['tags'\] are nested types"):
        check_frame("drift engine", "current", FRAME, [], ["tags"])
