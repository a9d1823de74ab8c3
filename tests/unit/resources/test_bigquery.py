"""BigQuery source SQL, schema mapping and checks, and the predictions load, up to the client.

BigQuery cannot run here, so `read_source` and `write_predictions` are called with a small fake
client that records what would be sent (the SQL, the job configs, the loaded Parquet bytes).
This is the only fake in the test suite. What these tests do NOT verify:
- authentication and permissions (service account, workload identity, IAM on the dataset);
- that BigQuery accepts and executes the generated SQL (syntax, case-insensitive column
  resolution, ORDER BY limits on very large results) and what it returns (types as Arrow);
- load job semantics: Parquet type conversion, WRITE_APPEND/CREATE_IF_NEEDED, partitioning and
  clustering, and the 409 Conflict on a reused job id that makes a retried load idempotent;
- cost and capacity: bytes scanned, `maximum_bytes_billed` enforcement, slots, quotas.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster_gcp import BigQueryResource, GCSResource
from google.api_core.exceptions import Conflict
from google.cloud import bigquery

from modelops.resources.bigquery import (
    SourceSchemaError,
    bigquery_schema,
    check_table_schema,
    predictions_table_schema,
    quote_identifier,
    quote_table,
    read_source,
    source_sql,
    write_predictions,
)
from modelops.resources.gcs import GcsFileSource
from modelops.spec import BigQuerySource, Source, UseCaseSpec

TABLE = "bank-prod.lending.applications"


def small_spec(**source: Any) -> UseCaseSpec:
    """A use case with one column of every type; `status` is read from the header `Status`."""
    return UseCaseSpec.model_validate(
        {
            "id": "small",
            "description": "test",
            "owners": {"team": "risk-team", "person": "a@bank.example"},
            "source": source or {"bigquery": {"table": TABLE}},
            "schema": {
                "columns": [
                    {"name": "amount", "type": "float"},
                    {"name": "term", "type": "int", "nullable": True},
                    {"name": "status", "type": "category", "source_name": "Status"},
                    {"name": "is_new", "type": "bool"},
                    {"name": "opened", "type": "date"},
                    {"name": "applied_at", "type": "datetime", "description": "When."},
                    {"name": "bad", "type": "category", "allowed": ["y", "n"]},
                ]
            },
            "target": {"column": "bad", "positive_class": "y"},
            "features": {"raw": ["amount", "term", "status"]},
        }
    )


SELECT = """SELECT
  `amount` AS `amount`,
  `term` AS `term`,
  `Status` AS `Status`,
  `is_new` AS `is_new`,
  `opened` AS `opened`,
  `applied_at` AS `applied_at`,
  `bad` AS `bad`"""
ORDER = "ORDER BY `amount`, `term`, `Status`, `is_new`, `opened`, `applied_at`, `bad`"


def bq_source(**fields: str) -> Source:
    return Source(bigquery=BigQuerySource(**fields))


# SQL -----------------------------------------------------------------------------------------


def test_table_sql_selects_only_declared_columns_in_a_fixed_order():
    sql = source_sql(bq_source(table=TABLE), small_spec())
    assert sql == f"{SELECT}\nFROM `{TABLE}`\n{ORDER}"


def test_where_is_wrapped_so_it_stays_one_filter():
    where = "opened >= '2026-01-01' AND region IN ('north', 'south') -- recent only"
    sql = source_sql(bq_source(table=TABLE, where=where), small_spec())
    assert sql == f"{SELECT}\nFROM `{TABLE}`\nWHERE (\n{where}\n)\n{ORDER}"


def test_query_runs_as_a_subquery_and_only_declared_columns_come_back():
    query = """WITH recent AS (SELECT * FROM `bank-prod.lending.apps` WHERE y = 2026)
    SELECT amount, term, Status, is_new, opened, applied_at, bad, secret_note FROM recent;"""
    sql = source_sql(bq_source(query=query), small_spec())
    inner = query.strip().rstrip(";")
    assert sql == f"{SELECT}\nFROM (\n{inner}\n) AS source\n{ORDER}"
    assert "secret_note AS" not in sql


def test_the_german_credit_spec_reads_its_source_headers(german_spec: UseCaseSpec):
    source = bq_source(table="bank-prod.credit.german")
    sql = source_sql(source, german_spec)
    assert "`status_of_existing_checking_account` AS `status_of_existing_checking_account`" in sql
    assert "checking_account_status" not in sql  # the spec name is not a table column
    assert sql.count(" AS `") == len(german_spec.data_schema.columns) == 21


@pytest.mark.parametrize(
    "where",
    [
        "x = 1) OR (1 = 1",  # closes the wrapper's parenthesis
        "x = 1; DROP TABLE `bank-prod.lending.applications`",  # a second statement
        "x IN (1, 2",  # unbalanced
        "name = 'unterminated",
        "x = 1 /* unterminated comment",
        "   ",
    ],
)
def test_where_that_could_escape_its_parentheses_is_refused(where: str):
    with pytest.raises(ValueError, match=r"source\.bigquery\.where"):
        source_sql(bq_source(table=TABLE, where=where), small_spec())


@pytest.mark.parametrize(
    "where",
    [
        "note = 'a;b)' OR note = \"(\"",  # inside strings
        "`odd)name` = 1",  # inside a quoted name
        "x = 1 -- ) ; trailing comment",
        "x = 1 /* ; ) */ AND y = r'\\''",
        "note = '''multi ' line ; )'''",
        "x = 1;",  # a trailing semicolon is dropped
    ],
)
def test_semicolons_and_parentheses_in_strings_and_comments_are_fine(where: str):
    sql = source_sql(bq_source(table=TABLE, where=where), small_spec())
    assert f"WHERE (\n{where.rstrip(';')}\n)" in sql


def test_query_with_a_second_statement_is_refused():
    with pytest.raises(ValueError, match=r"source\.bigquery\.query must be a single statement"):
        source_sql(bq_source(query="SELECT 1; DELETE FROM t WHERE true"), small_spec())


def test_identifier_quoting():
    assert quote_identifier("amount") == "`amount`"
    assert quote_identifier("Credit Amount (EUR)") == "`Credit Amount (EUR)`"
    for bad in ["a`b", "a\\b", "a\nb", ""]:
        with pytest.raises(ValueError, match="cannot be used in BigQuery SQL"):
            quote_identifier(bad)
    assert quote_table(TABLE) == f"`{TABLE}`"
    for bad in ["dataset.table", "p.d.t`; DROP", "p.d.t.x", "p.d.t\n"]:
        with pytest.raises(ValueError, match="not a BigQuery table id"):
            quote_table(bad)


def test_a_source_header_with_a_backtick_is_refused():
    spec = small_spec().model_dump(by_alias=True)
    spec["schema"]["columns"][2]["source_name"] = "Status` FROM x --"
    with pytest.raises(ValueError, match="cannot be used in BigQuery SQL"):
        source_sql(bq_source(table=TABLE), UseCaseSpec.model_validate(spec))


def test_a_file_source_has_no_sql():
    with pytest.raises(ValueError, match="not a BigQuery source"):
        source_sql(Source(path="data/x.csv"), small_spec())


# Schemas -------------------------------------------------------------------------------------


def test_spec_types_map_to_bigquery_types():
    assert bigquery_schema(small_spec()) == [
        {"name": "amount", "type": "FLOAT64", "mode": "REQUIRED"},
        {"name": "term", "type": "INT64", "mode": "NULLABLE"},
        {"name": "Status", "type": "STRING", "mode": "REQUIRED"},
        {"name": "is_new", "type": "BOOL", "mode": "REQUIRED"},
        {"name": "opened", "type": "DATE", "mode": "REQUIRED"},
        {"name": "applied_at", "type": "TIMESTAMP", "mode": "REQUIRED", "description": "When."},
        {"name": "bad", "type": "STRING", "mode": "REQUIRED"},
    ]
    # The dicts are the API form the client accepts.
    fields = [bigquery.SchemaField.from_api_repr(f) for f in bigquery_schema(small_spec())]
    assert [f.field_type for f in fields][:2] == ["FLOAT64", "INT64"]


def test_a_table_built_from_the_spec_passes_the_check():
    fields = [bigquery.SchemaField.from_api_repr(f) for f in bigquery_schema(small_spec())]
    extra = bigquery.SchemaField("undeclared", "JSON")
    assert check_table_schema([*fields, extra], small_spec()) == []


def test_legacy_type_names_and_name_case_are_accepted():
    fields = [
        bigquery.SchemaField("AMOUNT", "FLOAT"),
        bigquery.SchemaField("term", "INTEGER"),
        bigquery.SchemaField("status", "STRING"),  # header is `Status`: BigQuery ignores case
        bigquery.SchemaField("is_new", "BOOLEAN"),
        bigquery.SchemaField("opened", "DATE"),
        bigquery.SchemaField("applied_at", "DATETIME"),
        {"name": "bad", "type": "STRING", "mode": "REQUIRED"},
    ]
    assert check_table_schema(fields, small_spec()) == []


def test_schema_problems_name_the_column():
    fields = [
        {"name": "amount", "type": "STRING"},
        {"name": "term", "type": "INT64", "mode": "REPEATED"},
        {"name": "is_new", "type": "INT64"},
        {"name": "opened", "type": "TIMESTAMP"},
        {"name": "applied_at", "type": "TIMESTAMP"},
        {"name": "bad", "type": "STRING"},
    ]
    assert check_table_schema(fields, small_spec()) == [
        "column 'amount' is STRING; the spec declares float (FLOAT64)",
        "column 'term' is REPEATED (an array); the spec expects one INT64",
        "column 'Status' (spec column 'status') is missing from the table",
        "column 'is_new' is INT64; the spec declares bool (BOOL)",
        "column 'opened' is TIMESTAMP; the spec declares date (DATE)",
    ]


# The client boundary -------------------------------------------------------------------------


class FakeJob:
    def __init__(self, client: FakeClient, job_id: str | None = None, result: Any = None):
        self.client, self.job_id, self._result = client, job_id, result
        self.error_result = None
        self.finished = False

    def to_arrow(self, **kwargs: Any) -> pa.Table:
        self.client.calls.append(("to_arrow", kwargs))
        return self._result

    def result(self) -> FakeJob:
        self.finished = True
        return self


class FakeClient:
    """Records every call; answers with the table schema and query result it was given. Like
    BigQuery, it refuses a job id it has seen (409 Conflict)."""

    def __init__(self, schema: list[Any] | None = None, result: pa.Table | None = None):
        self.schema, self.result = schema or [], result
        self.calls: list[tuple[Any, ...]] = []
        self.jobs: dict[str, FakeJob] = {}

    def get_table(self, table_id: str) -> Any:
        self.calls.append(("get_table", table_id))
        return SimpleNamespace(schema=self.schema)

    def query(self, sql: str, job_config: Any = None) -> FakeJob:
        self.calls.append(("query", sql, job_config))
        return FakeJob(self, result=self.result)

    def load_table_from_file(
        self, file_obj: Any, destination: str, *, rewind: bool, job_id: str, job_config: Any
    ) -> FakeJob:
        if rewind:
            file_obj.seek(0)
        self.calls.append(("load", destination, job_id, job_config, file_obj.read()))
        if job_id in self.jobs:
            raise Conflict(f"Already Exists: Job bank-prod:US.{job_id}")
        self.jobs[job_id] = FakeJob(self, job_id)
        return self.jobs[job_id]

    def get_job(self, job_id: str) -> FakeJob:
        self.calls.append(("get_job", job_id))
        return self.jobs[job_id]


def spec_rows() -> pa.Table:
    return pa.table(
        {
            "amount": [10.0, 20.5],
            "term": pa.array([12, None], pa.int64()),
            "Status": ["a", "b"],
            "is_new": [True, False],
            "opened": pa.array([datetime(2026, 1, 2).date(), None], pa.date32()),
            "applied_at": pa.array([datetime(2026, 1, 2, 3, tzinfo=UTC)] * 2, pa.timestamp("us")),
            "bad": ["y", "n"],
        }
    )


def test_read_source_checks_the_table_then_queries_and_returns_parquet():
    schema = [bigquery.SchemaField.from_api_repr(f) for f in bigquery_schema(small_spec())]
    client = FakeClient(schema=schema, result=spec_rows())
    source = bq_source(table=TABLE, where="term > 6")
    content = read_source(client, source, small_spec(), maximum_bytes_billed=10**9)

    assert [c[0] for c in client.calls] == ["get_table", "query", "to_arrow"]
    assert client.calls[0] == ("get_table", TABLE)
    _, sql, config = client.calls[1]
    assert sql == source_sql(source, small_spec())
    assert config.labels == {"app": "modelops", "use_case": "small"}
    assert config.maximum_bytes_billed == 10**9
    assert client.calls[2][1] == {"create_bqstorage_client": False}  # package not installed
    assert pq.read_table(io.BytesIO(content)).equals(spec_rows())
    # Without a cost guard none is set (the client would otherwise send the text "None").
    read_source(FakeClient(schema=schema, result=spec_rows()), source, small_spec())


def test_a_table_that_does_not_match_the_spec_is_never_queried():
    client = FakeClient(schema=[{"name": "amount", "type": "STRING"}], result=spec_rows())
    with pytest.raises(SourceSchemaError, match=r"(?s)does not match.*'amount' is STRING"):
        read_source(client, bq_source(table=TABLE), small_spec())
    assert [c[0] for c in client.calls] == ["get_table"]


def test_a_query_source_is_not_schema_checked_before_it_runs():
    client = FakeClient(result=spec_rows())
    read_source(client, bq_source(query="SELECT * FROM `p.d.t`"), small_spec())
    assert [c[0] for c in client.calls] == ["query", "to_arrow"]


def test_the_gcp_source_reads_bigquery_through_the_dagster_resource(
    monkeypatch: pytest.MonkeyPatch,
):
    """GcsFileSource -> BigQueryResource.get_client() -> read_source, with the spec's SQL."""
    from contextlib import contextmanager

    schema = [bigquery.SchemaField.from_api_repr(f) for f in bigquery_schema(small_spec())]
    client = FakeClient(schema=schema, result=spec_rows())

    @contextmanager
    def get_client(self: BigQueryResource):
        assert self.project == "bank-prod"
        yield client

    monkeypatch.setattr(BigQueryResource, "get_client", get_client)
    source = GcsFileSource(
        gcs=GCSResource(project="bank-prod"),
        bigquery=BigQueryResource(project="bank-prod"),
        bucket="bank-models",
        maximum_bytes_billed=5 * 10**9,
    )
    spec = small_spec()
    content = source.read_bytes(spec.source, spec)
    assert pq.read_table(io.BytesIO(content)).num_rows == 2
    assert client.calls[1][1] == source_sql(spec.source, spec)
    assert client.calls[1][2].maximum_bytes_billed == 5 * 10**9


# Predictions ---------------------------------------------------------------------------------


def predictions(scored_at: Any = None) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "use_case": ["small", "small"],
            "model_name": ["small", "small"],
            "model_version": ["3", "3"],
            "batch_version": ["abc123", "abc123"],
            "row_id": [1, 2],
            "score": [0.25, 0.75],
            "scored_at": scored_at or [datetime(2026, 11, 23, 8, 30)] * 2,
            "dagster_run_id": ["run-1", None],
        }
    )


def test_predictions_table_schema():
    schema = predictions_table_schema()
    assert [(f["name"], f["type"], f["mode"]) for f in schema] == [
        ("use_case", "STRING", "REQUIRED"),
        ("model_name", "STRING", "REQUIRED"),
        ("model_version", "STRING", "REQUIRED"),
        ("batch_version", "STRING", "REQUIRED"),
        ("row_id", "INT64", "REQUIRED"),
        ("score", "FLOAT64", "REQUIRED"),
        ("scored_at", "TIMESTAMP", "REQUIRED"),
        ("dagster_run_id", "STRING", "NULLABLE"),
    ]


def test_write_predictions_appends_with_one_load_job():
    client = FakeClient()
    table_id = "bank-prod.scores.predictions"
    job = write_predictions(client, table_id, predictions())
    assert job.finished  # waited for the load to finish

    (call,) = client.calls
    _, destination, job_id, config, content = call
    assert destination == table_id
    assert job_id.startswith("modelops_predictions_") and len(job_id) == 61
    assert config.source_format == "PARQUET"
    assert config.write_disposition == "WRITE_APPEND"
    assert config.create_disposition == "CREATE_IF_NEEDED"
    assert config.time_partitioning.field == "scored_at"
    assert config.clustering_fields == ["use_case", "model_version"]
    assert [(f.name, f.field_type, f.mode) for f in config.schema] == [
        (f["name"], f["type"], f["mode"]) for f in predictions_table_schema()
    ]
    loaded = pl.read_parquet(io.BytesIO(content))
    assert loaded.columns == [f["name"] for f in predictions_table_schema()]
    # Naive timestamps are taken as UTC.
    assert loaded.schema["scored_at"] == pl.Datetime("us", "UTC")
    assert loaded["scored_at"][0] == datetime(2026, 11, 23, 8, 30, tzinfo=UTC)
    assert loaded["score"].to_list() == [0.25, 0.75]


def test_a_retried_load_of_the_same_predictions_appends_nothing():
    client = FakeClient()
    first = write_predictions(client, "bank-prod.scores.predictions", predictions())
    again = write_predictions(client, "bank-prod.scores.predictions", predictions())
    assert again is first
    assert [c[0] for c in client.calls] == ["load", "load", "get_job"]
    # Other content (or another table) is another job.
    write_predictions(client, "bank-prod.scores.other", predictions())
    assert len(client.jobs) == 2


def test_a_retried_load_after_a_failed_one_says_so():
    client = FakeClient()
    job = write_predictions(client, "bank-prod.scores.predictions", predictions())
    job.error_result = {"reason": "invalid", "message": "schema mismatch"}
    with pytest.raises(RuntimeError, match=r"earlier load of these predictions.*failed"):
        write_predictions(client, "bank-prod.scores.predictions", predictions())


def test_bad_predictions_are_refused_before_any_call():
    client = FakeClient()
    with pytest.raises(ValueError, match=r"missing \['score'\], extra \['proba'\]"):
        write_predictions(client, "p.d.t", predictions().rename({"score": "proba"}))
    with pytest.raises(ValueError, match=r"nulls in required column\(s\) \['model_version'\]"):
        frame = predictions().with_columns(pl.lit(None, pl.String).alias("model_version"))
        write_predictions(client, "p.d.t", frame)
    with pytest.raises(ValueError, match="must be a datetime"):
        write_predictions(client, "p.d.t", predictions(scored_at=["2026-11-23", "2026-11-23"]))
    with pytest.raises(ValueError, match="not a BigQuery table id"):
        write_predictions(client, "scores`.x", predictions())
    assert client.calls == []
