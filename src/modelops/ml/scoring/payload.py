"""Pickle-free bytes for the fitted scoring objects, written once at training time and loaded
by any process: numpy `.npz` arrays beside a JSON header that names the format and its version.

Loading never unpickles (`allow_pickle=False`), so a tampered file cannot run code; bytes of
another format or version, or bytes that are not such a payload at all, are refused with a
ValueError that says which.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, ValidationError

_HEADER = "header"
_TIMESTAMP = (1980, 1, 1, 0, 0, 0)


class Header(BaseModel):
    """What a payload says besides its arrays (names, scalars); validated on load."""

    model_config = ConfigDict(extra="forbid", frozen=True)


H = TypeVar("H", bound=Header)


@dataclass(frozen=True)
class Payload(Generic[H]):
    """A loaded payload: its validated header and its arrays."""

    label: str
    header: H
    arrays: Mapping[str, np.ndarray]

    def array(self, name: str) -> np.ndarray:
        if name not in self.arrays:
            raise self.invalid(f"the array {name!r} is missing")
        return self.arrays[name]

    def frame(self, name: str) -> pl.DataFrame:
        """The table `frame_to_array` stored under `name`."""
        try:
            return pl.read_parquet(io.BytesIO(self.array(name).tobytes()))
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise self.invalid(f"the table {name!r} cannot be read ({exc})") from exc

    def invalid(self, reason: str) -> ValueError:
        """The error for a payload of the right format whose content does not hold together."""
        return ValueError(f"not {self.label}: {reason}")


def pack(form: str, version: int, header: Header, arrays: Mapping[str, np.ndarray]) -> bytes:
    """The `.npz` bytes of `arrays` and of the header, stamped with `form` and `version`."""
    if _HEADER in arrays:
        raise ValueError(f"{_HEADER!r} is reserved for the payload's header")
    document = {"format": form, "version": version, **header.model_dump()}
    encoded = np.frombuffer(json.dumps(document).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    # `np.savez`'s layout, with a fixed timestamp: the same object gives the same bytes.
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, array in {_HEADER: encoded, **arrays}.items():
            entry = zipfile.ZipInfo(f"{name}.npy", date_time=_TIMESTAMP)
            with archive.open(entry, "w", force_zip64=True) as handle:
                np.lib.format.write_array(handle, np.asanyarray(array), allow_pickle=False)
    return buffer.getvalue()


def unpack(data: bytes, form: str, version: int, header_type: type[H], label: str) -> Payload[H]:
    """The payload in `data` if it is of format `form`, version `version`; else a ValueError
    that starts "not {label}" (e.g. label "a reason codes payload")."""
    try:
        loaded = np.load(io.BytesIO(data), allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError("a single array, not an .npz archive")
        with loaded as npz:
            arrays = {name: npz[name] for name in npz.files}
        if _HEADER not in arrays:
            raise ValueError("no header")
        document = json.loads(arrays.pop(_HEADER).tobytes().decode())
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"not {label}: the bytes are not a readable payload ({exc})") from exc
    if not isinstance(document, dict):
        raise ValueError(f"not {label}: its header is not a JSON object")
    found = document.pop("format", None), document.pop("version", None)
    if found != (form, version):
        raise ValueError(
            f"not {label} of format {form!r} version {version}: "
            f"found format {found[0]!r} version {found[1]!r}"
        )
    try:
        header = header_type.model_validate(document)
    except ValidationError as exc:
        raise ValueError(f"not {label}: its header is invalid ({exc})") from exc
    return Payload(label, header, arrays)


def frame_to_array(frame: pl.DataFrame) -> np.ndarray:
    """A table as Parquet bytes in a uint8 array (read back by `Payload.frame`): its values
    and dtypes, Enums too, survive."""
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return np.frombuffer(buffer.getvalue(), dtype=np.uint8)
