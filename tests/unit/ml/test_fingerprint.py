"""Content fingerprints: equal content gives equal fingerprints, any change gives a new one."""

from __future__ import annotations

import hashlib
import re

import polars as pl
import pytest

from modelops.ml.fingerprint import bytes_fingerprint, frame_fingerprint

HEX16 = re.compile(r"^[0-9a-f]{16}$")


def make_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "row_id": [1, 2, 3],
            "amount": [1169.0, 5951.0, 2096.0],
            "purpose": ["radio/television", "car (new)", None],
        }
    )


def test_same_content_same_fingerprint():
    # Two frames built separately (not the same object) with equal content.
    first, second = make_frame(), make_frame()
    assert first is not second
    assert frame_fingerprint(first) == frame_fingerprint(second)
    assert HEX16.match(frame_fingerprint(first))


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            lambda f: f.with_columns(pl.Series("amount", [1169.0, 5951.0, 2096.5])),
            id="changed-value",
        ),
        pytest.param(
            lambda f: f.with_columns(pl.Series("purpose", ["radio/television", "car (new)", ""])),
            id="null-to-empty-string",
        ),
        pytest.param(lambda f: f.reverse(), id="reordered-rows"),
        pytest.param(lambda f: f.rename({"amount": "credit_amount"}), id="renamed-column"),
        pytest.param(lambda f: f.select("amount", "row_id", "purpose"), id="reordered-columns"),
        pytest.param(lambda f: f.with_columns(pl.col("row_id").cast(pl.Int32)), id="int-dtype"),
        pytest.param(
            lambda f: f.with_columns(pl.col("purpose").cast(pl.Categorical)), id="string-dtype"
        ),
        pytest.param(lambda f: f.head(2), id="dropped-row"),
        pytest.param(lambda f: f.drop("purpose"), id="dropped-column"),
    ],
)
def test_any_change_changes_the_fingerprint(change):
    frame = make_frame()
    changed = change(frame)
    assert not changed.equals(frame) or changed.schema != frame.schema
    assert frame_fingerprint(changed) != frame_fingerprint(frame)


def test_empty_frames():
    no_columns = pl.DataFrame()
    no_rows = make_frame().clear()
    assert no_rows.height == 0
    for frame in (no_columns, no_rows):
        assert HEX16.match(frame_fingerprint(frame))
    # The schema still counts when there are no rows.
    assert frame_fingerprint(no_columns) != frame_fingerprint(no_rows)
    assert frame_fingerprint(no_rows) == frame_fingerprint(make_frame().head(0))
    assert frame_fingerprint(no_rows) != frame_fingerprint(make_frame())


def test_bytes_fingerprint_is_16_hex_digits_of_sha256():
    content = b"# Model card: german_credit version 1\n"
    fingerprint = bytes_fingerprint(content)
    assert HEX16.match(fingerprint)
    assert fingerprint == hashlib.sha256(content).hexdigest()[:16]
    assert bytes_fingerprint(content + b" ") != fingerprint
    assert HEX16.match(bytes_fingerprint(b""))
