"""Where a use case's raw data lives: a file (local folder or GCS) or BigQuery."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from modelops.spec.allowances import allowances_in
from modelops.spec.base import SpecModel

BIGQUERY_TABLE_PATTERN = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_]+\.[A-Za-z0-9_$-]+$"


class BigQuerySource(SpecModel):
    """A BigQuery table (filtered by `where`) or a whole query; the SQL runs in BigQuery and
    only the declared columns come back, so filtering and aggregation never leave it."""

    table: Annotated[str, Field(pattern=BIGQUERY_TABLE_PATTERN)] | None = None
    where: str | None = None
    query: str | None = None

    @model_validator(mode="after")
    def _table_or_query(self) -> BigQuerySource:
        if (self.table is None) == (self.query is None):
            raise ValueError("give either 'table' (project.dataset.table) or 'query', not both")
        if self.query is not None and self.where is not None:
            raise ValueError("'where' applies to 'table'; put the filter inside 'query'")
        return self


class Source(SpecModel):
    """Where the raw data lives: a file (`path`, read by the environment's file source: a
    local folder or GCS) or a BigQuery table or query (`bigquery`)."""

    path: Annotated[str, Field(min_length=1)] | None = None
    bigquery: BigQuerySource | None = None
    format: Literal["csv", "parquet"] | None = None
    csv_separator: Annotated[str, Field(min_length=1, max_length=1)] = ","
    null_values: list[str] = Field(default_factory=lambda: ["", "NA"])
    attribution: str | None = None

    @field_validator("path")
    @classmethod
    def _inside_the_roots(cls, path: str | None, info: ValidationInfo) -> str | None:
        refusal = None if path is None else allowances_in(info).path_refusal(path)
        if refusal is not None:
            raise ValueError(refusal)
        return path

    @model_validator(mode="after")
    def _one_location(self) -> Source:
        if (self.path is None) == (self.bigquery is None):
            raise ValueError("give either 'path' (a file) or 'bigquery' (a table or query)")
        if self.bigquery is not None and self.format == "csv":
            raise ValueError("a BigQuery source arrives as Parquet; remove 'format: csv'")
        return self

    @property
    def resolved_format(self) -> Literal["csv", "parquet"]:
        if self.format is not None:
            return self.format
        if self.path is None or self.path.lower().endswith((".parquet", ".pq")):
            return "parquet"
        return "csv"

    @property
    def description(self) -> str:
        if self.bigquery is not None:
            return self.bigquery.table or "a BigQuery query"
        return str(self.path)
