"""A stored PNG plot on its asset's page in the Dagster UI.

Dagster's markdown metadata renders `data:` images (its sanitizer allows the scheme for
`src`), so a small plot is embedded and shows whether or not the report server is running,
on every environment; a larger one is only linked. The http address opens it full size.
"""

from __future__ import annotations

import base64

import dagster as dg

MAX_EMBEDDED_BYTES = 100_000
"""Larger plots would bloat the event log: they are linked instead of embedded."""


def image_metadata(label: str, png: bytes, address: str) -> dg.MetadataValue:
    """Markdown showing `png` (stored at `address`) with a link to open it."""
    embedded = len(png) <= MAX_EMBEDDED_BYTES
    source = "data:image/png;base64," + base64.b64encode(png).decode() if embedded else address
    text = f"![{label}]({source})"
    if address.startswith(("http://", "https://")):
        text += f"\n\n[open {label}]({address})"
    return dg.MetadataValue.md(text)
