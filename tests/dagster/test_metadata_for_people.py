"""Every number the UI shows has at most four decimals, whatever produced it: the results of
a release's assets are rounded on their way out (`defs/outputs.for_the_ui`), while the stored
JSON keeps full precision."""

from __future__ import annotations

import csv
import io
import re

import dagster as dg

from modelops.defs.data_assets import data_assets
from modelops.defs.outputs import for_the_ui, stored_report
from support import GERMAN_DATA
from support.fakes import MemoryArtifactStore, MemorySource


def _decimals(value: float) -> int:
    text = repr(value)
    return len(text.split(".")[1]) if "." in text and "e" not in text else 0


def test_stored_results_show_rounded_floats_and_keep_the_file_exact() -> None:
    store = MemoryArtifactStore()
    exact = 0.05555555555555555
    result = stored_report(
        store,
        dg.AssetKey(["uc", "report"]),
        "report",
        {"report.json": repr(exact).encode()},
        {"share": exact, "rows": 7, "label": "x"},
    )
    shown = {k: v.value if hasattr(v, "value") else v for k, v in result.metadata.items()}
    assert shown["share"] == 0.0556 and shown["rows"] == 7 and shown["label"] == "x"
    version = store.current_version("uc", "report")
    assert store.read_bytes("uc", "report", version, "report.json") == repr(exact).encode()


def test_check_metadata_is_rounded_too() -> None:
    values = for_the_ui({"auc": 0.785132275132275, "limit/min_auc": 0.7, "n": 3})
    assert all(_decimals(v) <= 4 for v in values.values() if isinstance(v, float))
    assert values["n"] == 3


def _floats(value: object) -> list[float]:
    """The floats a metadata value shows: itself, or those inside a markdown table."""
    raw = getattr(value, "value", value)
    if isinstance(raw, float):
        return [raw]
    if isinstance(raw, str) and "|" in raw:
        return [float(x) for x in re.findall(r"(?<![\w.])-?\d+\.\d+(?![\w.])", raw)]
    return []


def test_materialized_data_assets_show_no_float_with_more_than_four_decimals(german_spec):
    # 900 rows, 5 with an unreadable duration: a quarantine share of 0.00555...
    header, *rows = list(csv.reader(io.StringIO(GERMAN_DATA.read_text())))[:901]
    duration = header.index("duration_in_month")
    for row in rows[:5]:
        row[duration] = "NaN"
    batch = io.StringIO()
    csv.writer(batch).writerows([header, *rows])
    store, source = MemoryArtifactStore(), MemorySource()
    source.put(str(german_spec.source.path), batch.getvalue().encode())
    result = dg.materialize(data_assets(german_spec), resources={"store": store, "source": source})
    assert result.success
    shown = [
        (str(e.asset_key), name, value)
        for e in result.get_asset_materialization_events()
        for name, value in e.materialization.metadata.items()  # type: ignore[union-attr]
    ] + [
        (e.check_name, name, value)
        for e in result.get_asset_check_evaluations()
        for name, value in e.metadata.items()
    ]
    floats = [(where, name, f) for where, name, value in shown for f in _floats(value)]
    assert floats, "the data assets show some figures"
    assert [(w, n, f) for w, n, f in floats if _decimals(f) > 4] == []
