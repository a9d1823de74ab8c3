"""BigQuery as a source and as the destination of scored predictions.

Everything here stops at the client boundary: the SQL text, the schema mapping and checks are
plain functions, and the two functions that talk to BigQuery (`read_source`,
`write_predictions`) take a `google.cloud.bigquery.Client` (or anything with the same methods)
as an argument, so that tests can see exactly what would be sent.

The SQL runs in BigQuery and only the spec's declared columns come back: a filter (`where`) or
an aggregation (`query`) never moves data out of the warehouse, and undeclared columns
(possibly personal data the use case has no business with) never reach the platform.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import re
from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl

from modelops.spec import Source, UseCaseSpec
from modelops.spec.sources import BIGQUERY_TABLE_PATTERN

BIGQUERY_TYPES: dict[str, str] = {
    "int": "INT64",
    "float": "FLOAT64",
    "category": "STRING",
    "text": "STRING",
    "bool": "BOOL",
    "date": "DATE",
    "datetime": "TIMESTAMP",
}
"""The BigQuery type each spec column type is stored as."""

# What a table may hold for a spec type: the type above, its legacy SQL name, and types that
# validation converts without loss (an INT64 or NUMERIC column read as float).
_COMPATIBLE: dict[str, frozenset[str]] = {
    "int": frozenset({"INT64", "INTEGER"}),
    "float": frozenset({"FLOAT64", "FLOAT", "NUMERIC", "BIGNUMERIC", "INT64", "INTEGER"}),
    "category": frozenset({"STRING"}),
    "text": frozenset({"STRING"}),
    "bool": frozenset({"BOOL", "BOOLEAN"}),
    "date": frozenset({"DATE"}),
    "datetime": frozenset({"TIMESTAMP", "DATETIME"}),
}

_TABLE = re.compile(BIGQUERY_TABLE_PATTERN)
# Inside backticks BigQuery reads backslash escapes, and a backtick ends the name: neither
# may appear in a name, nor may control characters (a newline would end a `--` comment).
_UNSAFE_IN_NAME = re.compile(r"[`\\\x00-\x1f\x7f]")


class SourceSchemaError(ValueError):
    """The BigQuery table does not hold the columns the spec declares."""


# SQL -----------------------------------------------------------------------------------------


def quote_identifier(name: str) -> str:
    """A column name as a BigQuery quoted identifier; refused if it could break the quoting."""
    if not name or _UNSAFE_IN_NAME.search(name):
        raise ValueError(
            f"column name {name!r} cannot be used in BigQuery SQL: it is empty or contains a "
            "backtick, a backslash or a control character"
        )
    return f"`{name}`"


def quote_table(table: str) -> str:
    """`project.dataset.table` as one quoted path (the project id may contain dashes)."""
    if not _TABLE.match(table) or _UNSAFE_IN_NAME.search(table):
        raise ValueError(f"{table!r} is not a BigQuery table id of the form project.dataset.table")
    return f"`{table}`"


def source_sql(source: Source, spec: UseCaseSpec) -> str:
    """The query that reads a BigQuery source: the declared columns, filtered or computed in
    BigQuery, in a fixed order.

    The ORDER BY makes the same data come back as the same bytes, so an unchanged table keeps
    its raw-data fingerprint (no needless retraining) and row ids stay stable for quarantine
    follow-up. The `where` and `query` texts come from the reviewed spec; they are still
    refused if they could escape the parentheses they are wrapped in (a `;` or an unbalanced
    `)`), so they can only ever be one filter or one SELECT.
    """
    bigquery = source.bigquery
    if bigquery is None:
        raise ValueError(f"source {source.description} is not a BigQuery source")
    headers = [quote_identifier(column.header) for column in spec.data_schema.columns]
    select = "SELECT\n" + ",\n".join(f"  {h} AS {h}" for h in headers)
    order = "ORDER BY " + ", ".join(headers)
    if bigquery.table is not None:
        sql = f"{select}\nFROM {quote_table(bigquery.table)}"
        if bigquery.where is not None:
            where = _enclosable(bigquery.where, "source.bigquery.where")
            # The closing parenthesis on its own line: a trailing `--` comment cannot hide it.
            sql += f"\nWHERE (\n{where}\n)"
        return f"{sql}\n{order}"
    assert bigquery.query is not None  # guaranteed by BigQuerySource
    query = _enclosable(bigquery.query, "source.bigquery.query")
    return f"{select}\nFROM (\n{query}\n) AS source\n{order}"


def _enclosable(text: str, field: str) -> str:
    """`text` without a trailing `;`, if it is one expression or statement that stays inside
    the parentheses it is put in: no `;` and balanced parentheses outside strings and comments,
    every string and comment closed."""
    text = text.strip().rstrip(";").strip()
    if not text:
        raise ValueError(f"{field} is empty")
    depth, i = 0, 0
    while i < len(text):
        if text.startswith(("--", "#"), i):
            newline = text.find("\n", i)
            i = len(text) if newline < 0 else newline + 1
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise ValueError(f"{field}: a /* comment is not closed")
            i = end + 2
            continue
        char = text[i]
        if char in "'\"`":
            quote = char * 3 if text.startswith(char * 3, i) else char
            i = _after_quoted(text, i + len(quote), quote, field)
            continue
        if char == ";":
            raise ValueError(f"{field} must be a single statement (found ';')")
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise ValueError(f"{field} closes a parenthesis it did not open")
        i += 1
    if depth:
        raise ValueError(f"{field} leaves {depth} parenthesis(es) open")
    return text


def _after_quoted(text: str, start: int, quote: str, field: str) -> int:
    """Position after the closing `quote` of a literal or quoted name starting at `start`."""
    i = start
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text.startswith(quote, i):
            return i + len(quote)
        i += 1
    raise ValueError(f"{field}: a {quote} quote is not closed")


# Schemas -------------------------------------------------------------------------------------


def bigquery_schema(spec: UseCaseSpec) -> list[dict[str, str]]:
    """The spec's columns as BigQuery schema fields (the API form, `SchemaField.from_api_repr`),
    under their source names: what a table must look like to be read as this use case."""
    fields = []
    for column in spec.data_schema.columns:
        field = {
            "name": column.header,
            "type": BIGQUERY_TYPES[column.type],
            "mode": "NULLABLE" if column.nullable else "REQUIRED",
        }
        if column.description:
            field["description"] = column.description
        fields.append(field)
    return fields


def check_table_schema(actual_fields: Iterable[Any], spec: UseCaseSpec) -> list[str]:
    """What keeps a table from being read as the spec's source: missing columns and wrong
    types. Checked on the table's metadata before the query runs, so a wrong table costs
    nothing and fails with the column named instead of in the middle of validation.

    `actual_fields` are `SchemaField`s (`client.get_table(id).schema`) or their API dicts.
    Nullability is not compared: null values are validation's business (quarantine).
    """
    fields = {name.lower(): (name, kind, mode) for name, kind, mode in map(_field, actual_fields)}
    problems = []
    for column in spec.data_schema.columns:
        label = f"column '{column.header}'"
        if column.header != column.name:
            label += f" (spec column '{column.name}')"
        expected = BIGQUERY_TYPES[column.type]
        found = fields.get(column.header.lower())  # BigQuery column names ignore case
        if found is None:
            problems.append(f"{label} is missing from the table")
        elif found[2] == "REPEATED":
            problems.append(f"{label} is REPEATED (an array); the spec expects one {expected}")
        elif found[1] not in _COMPATIBLE[column.type]:
            problems.append(f"{label} is {found[1]}; the spec declares {column.type} ({expected})")
    return problems


def _field(field: Any) -> tuple[str, str, str]:
    if isinstance(field, Mapping):
        return field["name"], str(field["type"]).upper(), str(field.get("mode") or "NULLABLE")
    return field.name, str(field.field_type).upper(), str(field.mode or "NULLABLE").upper()


# Reading a source ----------------------------------------------------------------------------


def read_source(
    client: Any,
    source: Source,
    spec: UseCaseSpec,
    *,
    maximum_bytes_billed: int | None = None,
) -> bytes:
    """The source's rows as Parquet bytes: the table's schema is checked first (metadata only,
    free), then `source_sql` runs as one query job labelled with the use case."""
    from google.cloud import bigquery

    assert source.bigquery is not None
    if source.bigquery.table is not None:
        problems = check_table_schema(client.get_table(source.bigquery.table).schema, spec)
        if problems:
            raise SourceSchemaError(
                f"BigQuery table {source.bigquery.table} does not match the spec of "
                f"'{spec.id}':\n" + "\n".join(f"  - {p}" for p in problems)
            )
    config = bigquery.QueryJobConfig(labels={"app": "modelops", "use_case": spec.id})
    if maximum_bytes_billed is not None:  # (None given to the constructor becomes "None")
        config.maximum_bytes_billed = maximum_bytes_billed
    job = client.query(source_sql(source, spec), job_config=config)
    # The Storage Read API is faster for large results but needs an extra package.
    fast = importlib.util.find_spec("google.cloud.bigquery_storage") is not None
    table = job.to_arrow(create_bqstorage_client=fast)
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


# Writing predictions -------------------------------------------------------------------------

_PREDICTIONS: tuple[tuple[str, str, str, str], ...] = (
    ("use_case", "STRING", "REQUIRED", "Use case id from the spec."),
    ("model_name", "STRING", "REQUIRED", "Registered model name."),
    ("model_version", "STRING", "REQUIRED", "Registered model version that produced the score."),
    ("batch_version", "STRING", "REQUIRED", "Fingerprint of the scored batch."),
    ("row_id", "INT64", "REQUIRED", "1-based row of the scored batch."),
    ("score", "FLOAT64", "REQUIRED", "Probability of the positive class."),
    ("scored_at", "TIMESTAMP", "REQUIRED", "When the batch was scored (UTC)."),
    ("dagster_run_id", "STRING", "NULLABLE", "The Dagster run that scored the batch."),
)
_POLARS_TYPES: dict[str, pl.DataType] = {
    "STRING": pl.String(),
    "INT64": pl.Int64(),
    "FLOAT64": pl.Float64(),
    "TIMESTAMP": pl.Datetime("us", "UTC"),
}
_JOB_ID_PREFIX = "modelops_predictions_"


def predictions_table_schema() -> list[dict[str, str]]:
    """The scored-predictions table (API form): one row per scored row, with the model version
    and batch it came from. Day-partitioned on `scored_at`, clustered by use case."""
    return [
        {"name": name, "type": kind, "mode": mode, "description": description}
        for name, kind, mode, description in _PREDICTIONS
    ]


def write_predictions(client: Any, table_id: str, frame: pl.DataFrame) -> Any:
    """Append scored predictions to `table_id` with one load job (created if needed).

    The job id is derived from the table and the content, so a retried step that loads the same
    predictions again is refused by BigQuery as a duplicate job instead of appending the rows a
    second time. Returns the finished load job.
    """
    from google.api_core.exceptions import Conflict
    from google.cloud import bigquery

    quote_table(table_id)  # the same id rules as a source table
    content = _predictions_parquet(frame)
    digest = hashlib.sha256(table_id.encode() + b"\0" + content).hexdigest()[:40]
    job_id = f"{_JOB_ID_PREFIX}{digest}"
    config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.PARQUET,
        schema=[bigquery.SchemaField.from_api_repr(f) for f in predictions_table_schema()],
        write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
        create_disposition=bigquery.CreateDisposition.CREATE_IF_NEEDED,
        time_partitioning=bigquery.TimePartitioning(
            type_=bigquery.TimePartitioningType.DAY, field="scored_at"
        ),
        clustering_fields=["use_case", "model_version"],
    )
    try:
        job = client.load_table_from_file(
            io.BytesIO(content), table_id, rewind=True, job_id=job_id, job_config=config
        )
    except Conflict:
        job = client.get_job(job_id)
        if job.error_result:
            raise RuntimeError(
                f"an earlier load of these predictions into {table_id} (job {job_id}) failed: "
                f"{job.error_result}; fix the cause and load them under a new job id"
            ) from None
        return job  # already loaded by an earlier attempt
    job.result()
    return job


def _predictions_parquet(frame: pl.DataFrame) -> bytes:
    """The frame as Parquet with exactly the table's columns and types; refused (before any
    network call) if a column is missing or extra, or a required column has nulls."""
    names = [name for name, *_ in _PREDICTIONS]
    missing = [n for n in names if n not in frame.columns]
    extra = [c for c in frame.columns if c not in names]
    if missing or extra:
        raise ValueError(
            f"predictions must have exactly the columns {names}; missing {missing}, extra {extra}"
        )
    columns = []
    for name, kind, _, _ in _PREDICTIONS:
        column = pl.col(name)
        if kind == "TIMESTAMP":
            dtype = frame.schema[name]
            if not isinstance(dtype, pl.Datetime):
                raise ValueError(f"predictions column '{name}' must be a datetime, not {dtype}")
            column = (
                column.dt.replace_time_zone("UTC")
                if dtype.time_zone is None
                else column.dt.convert_time_zone("UTC")
            )
        columns.append(column.cast(_POLARS_TYPES[kind]))
    typed = frame.select(columns)
    required = [name for name, _, mode, _ in _PREDICTIONS if mode == "REQUIRED"]
    nulls = [name for name in required if typed.get_column(name).null_count()]
    if nulls:
        raise ValueError(f"predictions have nulls in required column(s) {nulls}")
    buffer = io.BytesIO()
    typed.write_parquet(buffer, compression="snappy", statistics=False)
    return buffer.getvalue()
