"""Every number the UI shows has at most four decimals, whatever produced it: the results of
a release's assets are rounded on their way out (`defs/outputs.for_the_ui`), while the stored
JSON keeps full precision."""

from __future__ import annotations

import dagster as dg

from modelops.defs.outputs import for_the_ui, stored_report
from support.fakes import MemoryArtifactStore


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
