"""A plot on its asset's page: small PNGs embedded (they show without the report server), large
ones linked, and an http address offered to open it full size; never a `file://` link."""

from __future__ import annotations

import base64

from modelops.defs.plot_metadata import MAX_EMBEDDED_BYTES, image_metadata

PNG = b"\x89PNG\r\n\x1a\n"
ADDRESS = "http://127.0.0.1:3002/uc/evaluation_report/v1/roc.png"


def test_a_small_plot_is_embedded_with_a_link_to_open_it() -> None:
    image = PNG + b"\x00" * 100
    text = image_metadata("roc_plot", image, ADDRESS).value
    encoded = base64.b64encode(image).decode()
    assert text.startswith(f"![roc_plot](data:image/png;base64,{encoded})")
    assert f"[open roc_plot]({ADDRESS})" in text


def test_a_large_plot_is_linked_not_embedded() -> None:
    text = image_metadata("roc_plot", PNG + b"\x00" * MAX_EMBEDDED_BYTES, ADDRESS).value
    assert "data:" not in text and text.startswith(f"![roc_plot]({ADDRESS})")


def test_a_storage_path_is_not_offered_as_a_link() -> None:
    text = image_metadata("roc_plot", PNG, "file:///data/uc/roc.png").value
    assert "file://" not in text and text.startswith("![roc_plot](data:image/png;base64,")
