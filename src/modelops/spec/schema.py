"""The data contract: the declared columns, their types and valid values, which every batch
is validated against."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, model_validator

from modelops.spec.base import SafeName, Scalar, SpecModel

if TYPE_CHECKING:
    import polars as pl

ColumnType = Literal["int", "float", "category", "bool", "date", "datetime", "text"]
NUMERIC_TYPES = ("int", "float")
TEMPORAL_TYPES = ("date", "datetime")

BOOL_SPELLINGS: dict[bool, tuple[str, ...]] = {
    True: ("true", "t", "yes", "y", "1"),
    False: ("false", "f", "no", "n", "0"),
}
"""How a `bool` column's text is read (case-insensitive, spaces stripped); besides these, any
number equal to 1 or 0 ("1.0", "0.0", "1e0") reads as true or false. The one list the docs
quote."""


class Column(SpecModel):
    """One column of the source: its type, what values are valid, and how it may be used."""

    name: SafeName
    type: ColumnType
    source_name: str | None = None
    description: str | None = None
    nullable: bool = False
    allowed: list[Scalar] | None = None
    min: float | None = None
    max: float | None = None
    date_format: str | None = None
    pii: bool = False
    protected: bool = False
    missing_values: list[Scalar] | None = None
    """Sentinel codes read as missing in this column only (999, "unknown"): a row holding
    one is valid if the column is nullable, else quarantined as missing."""
    max_distinct: Annotated[int, Field(ge=1)] | None = None
    """A `category` column with more distinct values in a batch gets a warning (not a
    failure); default `schema.max_distinct`."""

    @model_validator(mode="after")
    def _checks_fit_the_type(self) -> Column:
        if self.allowed is not None:
            wrong = [v for v in self.allowed if not fits_type(v, self.type)]
            if wrong:
                raise ValueError(f"allowed value(s) {wrong} are not of type {self.type}")
            if self.type not in ("category", "int", "float", "bool"):
                raise ValueError(
                    f"'allowed' applies to category, int, float or bool columns, not {self.type}"
                )
            if not self.allowed:
                raise ValueError("'allowed' must list at least one value")
        if self.missing_values is not None:
            self._check_missing_values()
        if self.max_distinct is not None and self.type != "category":
            raise ValueError(f"'max_distinct' applies to category columns, not {self.type}")
        if (self.min is not None or self.max is not None) and self.type not in NUMERIC_TYPES:
            raise ValueError(f"'min'/'max' apply to int or float columns, not {self.type}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"'min' ({self.min}) is greater than 'max' ({self.max})")
        if self.date_format is not None and self.type not in TEMPORAL_TYPES:
            raise ValueError(f"'date_format' applies to date or datetime columns, not {self.type}")
        return self

    def _check_missing_values(self) -> None:
        codes = self.missing_values or []
        if not codes:
            raise ValueError("'missing_values' must list at least one value")
        if self.type in ("bool", *TEMPORAL_TYPES):
            raise ValueError(
                f"'missing_values' applies to int, float, category or text columns, not {self.type}"
            )
        wrong = [v for v in codes if not fits_type(v, self.type)]
        if wrong:
            raise ValueError(f"missing value code(s) {wrong} are not of type {self.type}")
        clash = [v for v in codes if self.allowed is not None and v in self.allowed]
        if clash:
            raise ValueError(f"missing value code(s) {clash} are also listed in 'allowed'")

    @property
    def header(self) -> str:
        """The column's name in the source file."""
        return self.source_name or self.name


def validated_dtype(column: Column) -> pl.DataType:
    """A column's polars type in a validated batch: categories dictionary-encoded (Enum
    when `allowed` lists them). Polars is imported here, not when the spec module loads."""
    import polars as pl

    if column.type == "category":
        if column.allowed is not None:
            return pl.Enum([str(v) for v in column.allowed])
        return pl.Categorical()
    return {
        "int": pl.Int64(),
        "float": pl.Float64(),
        "bool": pl.Boolean(),
        "date": pl.Date(),
        "datetime": pl.Datetime("us"),
        "text": pl.String(),
    }[column.type]


def fits_type(value: Scalar, column_type: str) -> bool:
    """YAML reads `1` as an int and `yes` as a string: values must match the column's type."""
    if column_type == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if column_type == "bool":
        return isinstance(value, bool)
    if column_type in ("category", "text"):
        return isinstance(value, str)
    if column_type == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return True


class DataSchema(SpecModel):
    """The contract every batch is validated against: rows that break it are quarantined."""

    columns: Annotated[list[Column], Field(min_length=1)]
    date_column: str | None = None
    max_quarantine_share: Annotated[float, Field(ge=0, le=1)] = 0.05
    min_valid_rows: Annotated[int, Field(ge=1)] = 50
    duplicates: Literal["quarantine", "allow"] = "quarantine"
    """A row identical to an earlier one is quarantined ("duplicate of row N"); `allow` keeps
    it (identical rows that are distinct cases), counted all the same."""
    max_distinct: Annotated[int, Field(ge=1)] | None = 1000
    """Default of `columns[].max_distinct`: a `category` column with more distinct values
    than this in a batch is probably free text (declare it `text`); a warning, not a failure."""

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]

    @property
    def protected_attributes(self) -> list[str]:
        return [column.name for column in self.columns if column.protected]
