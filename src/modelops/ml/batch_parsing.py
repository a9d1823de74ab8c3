"""A batch as delivered, turned into a table the same way wherever it came from.

The platform keeps a source's bytes as they were delivered (the raw dataset), so what was
validated and trained on can be shown byte for byte later; these functions read those bytes.
A batch that cannot be read as a table (empty, not UTF-8, another separator, a header column
twice, not Parquet) is refused with a `BatchFormatError` naming the file, the spec field to
look at and the reason, never a parser's error.
"""

from __future__ import annotations

import codecs
import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from modelops.spec import Source

if TYPE_CHECKING:
    import pyarrow.parquet as pq

_SEPARATORS = (",", ";", "\t", "|")
"""Separators a CSV file is commonly written with, to recognise a file read with the wrong one."""
_CHUNK = 1 << 24
_SHOWN = 60


class BatchFormatError(ValueError):
    """The batch cannot be read as a table; the message names the file, the field, the reason."""

    def __init__(self, file: str, field: str, reason: str) -> None:
        self.file, self.field, self.reason = file, field, reason
        super().__init__(f"{file}: {field}: {reason}")


@dataclass(frozen=True)
class BatchFacts:
    rows: int
    schema: dict[str, str]


def batch_filename(source: Source) -> str:
    return f"batch.{source.resolved_format}"


def parse_batch(content: bytes, source: Source, *, section: str = "source") -> pl.DataFrame:
    """The batch as a table with the source's own headers.

    CSV columns are read as text: typing is validation's job, so a stray 'abc' in a numeric
    column becomes a quarantined row instead of a failed read. Parquet keeps its types.
    `section` is the spec section the file is declared in (`source`, `monitoring.batches`,
    `monitoring.labels`), named in errors.
    """
    fields = _Fields(source, section)
    if not content or content.isspace():
        raise fields.error("path", f"the file is empty ({len(content)} bytes)")
    if source.resolved_format == "parquet":
        _check_header(_parquet_metadata(content, fields).schema.to_arrow_schema().names, fields)
        frame = _read(lambda: pl.read_parquet(io.BytesIO(content)), fields, "format", "Parquet")
    else:
        _check_utf8(content, fields)
        _check_header(_csv_header(content, source, fields), fields)
        frame = _read(
            lambda: pl.read_csv(
                io.BytesIO(content),
                infer_schema=False,
                separator=source.csv_separator,
                null_values=source.null_values,
            ),
            fields,
            "path",
            f"CSV separated by {source.csv_separator!r}",
        )
    if frame.height == 0:
        raise fields.error("path", _no_rows(frame.width, source))
    return frame


def batch_facts(content: bytes, source: Source, *, section: str = "source") -> BatchFacts:
    """Row count and columns, from the Parquet footer when there is one (no full read)."""
    if source.resolved_format == "parquet" and content and not content.isspace():
        fields = _Fields(source, section)
        metadata = _parquet_metadata(content, fields)
        schema = metadata.schema.to_arrow_schema()
        _check_header(schema.names, fields)
        if metadata.num_rows == 0:
            raise fields.error("path", _no_rows(len(schema), source))
        return BatchFacts(metadata.num_rows, {f.name: str(f.type) for f in schema})
    frame = parse_batch(content, source, section=section)
    return BatchFacts(frame.height, {name: str(dtype) for name, dtype in frame.schema.items()})


@dataclass(frozen=True)
class _Fields:
    """Names the file and the spec fields of a batch in errors."""

    source: Source
    section: str

    def error(self, field: str, reason: str) -> BatchFormatError:
        """`field` is one of the file's own fields (`path`, `format`) or, with a dot, a full
        spec path (the CSV separator is always the training source's)."""
        if "." not in field:
            located = "path" if self.source.path is not None else "bigquery"
            field = f"{self.section}.{located if field == 'path' else field}"
        return BatchFormatError(self.source.description, field, reason)


def _no_rows(columns: int, source: Source) -> str:
    counted = f"{columns} column{'s' if columns != 1 else ''}"
    if source.resolved_format == "csv":
        return f"the file has a header ({counted}) but no rows"
    return f"the file has {counted} but no rows"


def _check_utf8(content: bytes, fields: _Fields) -> None:
    """CSV text must be UTF-8; checked in chunks, so a large file is not copied whole."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(content)
    for start in range(0, len(content), _CHUNK):
        try:
            decoder.decode(view[start : start + _CHUNK], final=start + _CHUNK >= len(content))
        except UnicodeDecodeError as exc:
            offset = start + exc.start - len(decoder.getstate()[0])
            offset = max(offset, 0)
            line = content.count(b"\n", 0, offset) + 1
            raise fields.error(
                "path",
                f"the file is not UTF-8 text (byte 0x{content[offset]:02x} on line {line}); "
                "save it as UTF-8",
            ) from None


def _csv_header(content: bytes, source: Source, fields: _Fields) -> list[str]:
    """The header row's names as written (polars would rename a repeated one)."""
    first = _read(
        lambda: pl.read_csv(
            io.BytesIO(content),
            has_header=False,
            n_rows=1,
            infer_schema=False,
            separator=source.csv_separator,
            truncate_ragged_lines=True,  # the header alone; rows are read later
        ),
        fields,
        "path",
        f"CSV separated by {source.csv_separator!r}",
    )
    names = [str(v) if v is not None else "" for v in first.row(0)]
    if len(names) == 1:
        found = [s for s in _SEPARATORS if s != source.csv_separator and s in names[0]]
        if found:
            shown = names[0] if len(names[0]) <= _SHOWN else names[0][:_SHOWN] + "…"
            raise fields.error(
                "source.csv_separator",
                f"one column was found, '{shown}', with {found[0]!r} in its name: the file "
                f"looks {found[0]!r}-separated, not {source.csv_separator!r}; set "
                f"source.csv_separator: {found[0]!r} in the spec",
            )
    return names


def _check_header(names: list[str], fields: _Fields) -> None:
    repeated = {name: n for name, n in Counter(names).items() if n > 1}
    if repeated:
        listed = ", ".join(f"'{name}' ({n} times)" for name, n in repeated.items())
        raise fields.error(
            "path", f"the header repeats column(s) {listed}; each column must appear once"
        )


def _parquet_metadata(content: bytes, fields: _Fields) -> pq.FileMetaData:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(io.BytesIO(content)).metadata
    except (pa.ArrowException, OSError) as exc:
        raise fields.error("format", f"cannot be read as Parquet: {_first_line(exc)}") from None


def _read(read: Callable[[], pl.DataFrame], fields: _Fields, field: str, what: str) -> pl.DataFrame:
    """Run a polars reader; its error becomes a `BatchFormatError` with the parser's reason."""
    try:
        return read()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise fields.error(field, f"cannot be read as {what}: {_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
