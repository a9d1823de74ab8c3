"""Content fingerprints of tables: the data version Dagster shows and MLflow records.

Two tables with the same columns, types and rows in the same order get the same fingerprint,
whatever produced them; so an unchanged upstream leaves downstream assets "in sync" and a
changed one marks them "Unsynced" in the Dagster UI.
"""

from __future__ import annotations

import hashlib

import polars as pl

_SEED = 0x5EED_C0FFEE


def frame_fingerprint(frame: pl.DataFrame) -> str:
    """A 16-hex-digit content hash of a polars DataFrame (schema and rows, in order).

    Row hashes come from polars with fixed seeds (about 50 ms per million rows), so the value
    is stable for a given polars release; a polars upgrade may change every fingerprint,
    which is reported as new data versions rather than silently treated as equal.
    """
    digest = hashlib.sha256()
    digest.update(repr([(name, str(dtype)) for name, dtype in frame.schema.items()]).encode())
    digest.update(str(frame.height).encode())
    if frame.height and frame.width:
        row_hashes = frame.hash_rows(seed=_SEED)
        digest.update(row_hashes.to_numpy().tobytes())
    return digest.hexdigest()[:16]


def bytes_fingerprint(content: bytes) -> str:
    """The same 16-hex-digit form for documents (reports, cards)."""
    return hashlib.sha256(content).hexdigest()[:16]
