"""Validation of bad batches: every row is either typed and valid or quarantined with reasons."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from modelops.ml.batch_parsing import BatchFormatError
from modelops.ml.validation import (
    MissingColumnsError,
    UnreadableColumnError,
    column_failures,
    validate_batch,
)
from modelops.resources.source import LocalFileSource
from modelops.spec import Source, UseCaseSpec
from support import GERMAN_DATA

# --- the German credit batch -----------------------------------------------------------------


@pytest.fixture(scope="module")
def german_raw():
    # As LocalFileSource reads a CSV: every column as text, so typing is validation's job.
    return pl.read_csv(GERMAN_DATA, infer_schema=False)


def _set(raw, row_id, header, value):
    """The batch with one cell replaced; `row_id` is 1-based like the validation's row_id."""
    row = pl.int_range(1, pl.len() + 1) == row_id
    return raw.with_columns(
        pl.when(row).then(pl.lit(value, dtype=pl.String)).otherwise(pl.col(header)).alias(header)
    )


def _reasons(outcome):
    return dict(
        zip(
            outcome.quarantined.get_column("row_id").to_list(),
            outcome.quarantined.get_column("reasons").to_list(),
            strict=True,
        )
    )


def test_the_real_batch_is_all_valid_and_typed(german_raw, german_spec) -> None:
    outcome = validate_batch(german_raw, german_spec)

    assert outcome.valid.height == german_raw.height == 1000
    assert outcome.quarantined.height == 0
    assert outcome.ignored_columns == ()
    assert outcome.valid.columns == ["row_id", *german_spec.data_schema.names]
    assert outcome.valid.schema["duration_months"] == pl.Int64
    assert outcome.valid.schema["purpose"] == pl.Enum(
        german_spec.data_schema.column("purpose").allowed
    )
    assert outcome.valid.get_column("duration_months").head(2).to_list() == [6, 48]


def test_a_missing_declared_column_stops_the_batch(german_raw, german_spec) -> None:
    raw = german_raw.drop("creditability", "purpose")

    with pytest.raises(MissingColumnsError) as caught:
        validate_batch(raw, german_spec, file="data/german_credit.csv")

    # The file, the field, and the source header (what the data owner sees), not the spec's
    # renamed column.
    assert str(caught.value).startswith("data/german_credit.csv: schema.columns: the batch lacks")
    assert "'creditability'" in str(caught.value)
    assert "'purpose'" in str(caught.value)
    assert "german_credit" in str(caught.value)


def test_a_wrong_type_is_quarantined(german_raw, german_spec) -> None:
    outcome = validate_batch(_set(german_raw, 6, "duration_in_month", "abc"), german_spec)

    assert _reasons(outcome) == {6: "duration_months: 'abc' is not a valid int"}
    assert outcome.valid.height == 999
    assert 6 not in outcome.valid.get_column("row_id").to_list()


def test_values_outside_the_range_are_quarantined(german_raw, german_spec) -> None:
    raw = _set(german_raw, 3, "age_in_years", "17")  # min 18
    raw = _set(raw, 8, "installment_rate_in_percentage_of_disposable_income", "5")  # max 4
    raw = _set(raw, 9, "age_in_years", "18")  # the minimum itself is fine

    reasons = _reasons(validate_batch(raw, german_spec))

    assert set(reasons) == {3, 8}
    assert reasons[3].startswith("age_years: 17 is below the minimum 18")
    assert reasons[8].startswith("installment_rate_pct: 5 is above the maximum 4")


def test_an_unknown_category_is_quarantined(german_raw, german_spec) -> None:
    reasons = _reasons(validate_batch(_set(german_raw, 10, "purpose", "spaceship"), german_spec))
    assert reasons == {10: "purpose: 'spaceship' is not an allowed value"}


def test_a_null_in_a_non_nullable_column_is_quarantined(german_raw, german_spec) -> None:
    raw = _set(german_raw, 2, "purpose", None)
    raw = _set(raw, 4, "credit_amount", "  ")  # blank text is missing, not "not a valid int"

    reasons = _reasons(validate_batch(raw, german_spec))

    assert reasons == {2: "purpose: value is missing", 4: "credit_amount: value is missing"}


def test_a_row_with_several_problems_gets_every_reason(german_raw, german_spec) -> None:
    raw = _set(german_raw, 7, "duration_in_month", "abc")
    raw = _set(raw, 7, "purpose", "spaceship")
    raw = _set(raw, 7, "age_in_years", "150")

    reasons = _reasons(validate_batch(raw, german_spec))

    assert list(reasons) == [7]
    parts = reasons[7].split("; ")
    assert len(parts) == 3
    assert "duration_months: 'abc' is not a valid int" in parts
    assert "purpose: 'spaceship' is not an allowed value" in parts
    assert any(p.startswith("age_years: 150 is above the maximum 100") for p in parts)


def test_undeclared_source_columns_are_ignored_and_reported(german_raw, german_spec) -> None:
    raw = german_raw.with_columns(pl.lit("B-17").alias("branch_code"), pl.lit("x").alias("note"))
    raw = _set(raw, 1, "purpose", "spaceship")

    outcome = validate_batch(raw, german_spec)

    assert outcome.ignored_columns == ("branch_code", "note")
    assert "branch_code" not in outcome.valid.columns
    assert "branch_code" not in outcome.quarantined.columns
    assert outcome.valid.height == 999


def test_every_row_is_valid_or_quarantined_exactly_once(german_raw, german_spec) -> None:
    bad = {
        5: ("duration_in_month", "x"),
        50: ("purpose", "spaceship"),
        51: ("creditability", "maybe"),
        500: ("age_in_years", "12"),
        1000: ("credit_amount", None),
    }
    raw = german_raw
    for row_id, (header, value) in bad.items():
        raw = _set(raw, row_id, header, value)

    outcome = validate_batch(raw, german_spec)

    valid_ids = set(outcome.valid.get_column("row_id").to_list())
    quarantined_ids = outcome.quarantined.get_column("row_id").to_list()
    assert len(quarantined_ids) == len(set(quarantined_ids))
    assert set(quarantined_ids) == set(bad)
    assert not valid_ids & set(quarantined_ids)
    assert valid_ids | set(quarantined_ids) == set(range(1, german_raw.height + 1))
    assert outcome.quarantine_share == pytest.approx(len(bad) / german_raw.height)


def test_the_quarantine_keeps_the_original_text(german_raw, german_spec) -> None:
    raw = _set(german_raw, 2, "duration_in_month", " 4O ")  # letter O, with spaces

    outcome = validate_batch(raw, german_spec)

    row = outcome.quarantined.row(0, named=True)
    original = german_raw.row(1, named=True)
    assert row["row_id"] == 2
    assert row["reasons"] == "duration_months: ' 4O ' is not a valid int"
    assert row["duration_months"] == " 4O "
    # The other columns are there too, under the spec's names, as the source text.
    assert row["credit_amount"] == original["credit_amount"] == "5951"
    assert row["credit_risk"] == original["creditability"]
    assert set(outcome.quarantined.schema.values()) == {pl.Int64, pl.String}


def test_an_empty_batch_gives_empty_results(german_raw, german_spec) -> None:
    outcome = validate_batch(german_raw.head(0), german_spec)

    assert outcome.valid.height == 0
    assert outcome.quarantined.height == 0
    assert outcome.failures.height == 0
    assert outcome.valid.columns == ["row_id", *german_spec.data_schema.names]
    assert outcome.quarantine_share == 0.0


def test_failures_count_rows_per_check(german_raw, german_spec) -> None:
    raw = _set(german_raw, 1, "purpose", "spaceship")
    raw = _set(raw, 2, "purpose", "rocket")
    raw = _set(raw, 3, "duration_in_month", "abc")

    failures = validate_batch(raw, german_spec).failures

    by_column = {r["column"]: r for r in failures.iter_rows(named=True)}
    assert by_column["purpose"]["rows"] == 2
    assert by_column["purpose"]["check"].startswith("isin")
    assert by_column["duration_months"]["check"] == "type_int"
    assert by_column["duration_months"]["example"] == "abc"
    assert failures.get_column("rows").to_list()[0] == 2  # most frequent first


# --- a tiny spec with float, bool and date columns --------------------------------------------


@pytest.fixture(scope="module")
def tiny_spec():
    return UseCaseSpec.model_validate(
        {
            "id": "tiny",
            "description": "A spec with every column type.",
            "owners": {"team": "test-team", "person": "tester@bank.example"},
            "source": {"path": "batch.csv"},
            "schema": {
                "min_valid_rows": 1,
                "columns": [
                    {"name": "amount", "type": "float", "min": 0},
                    {"name": "ratio", "type": "float", "nullable": True},
                    {"name": "count", "type": "int", "min": 0, "max": 10},
                    {"name": "flag", "type": "bool"},
                    {"name": "opened", "type": "date", "date_format": "%d.%m.%Y"},
                    {"name": "outcome", "type": "category", "allowed": ["yes", "no"]},
                ],
            },
            "target": {"column": "outcome", "positive_class": "yes"},
            "features": {"raw": ["amount", "ratio", "count", "flag"]},
        }
    )


GOOD_ROW = {
    "amount": "1.5",
    "ratio": "0.2",
    "count": "3",
    "flag": "yes",
    "opened": "01.02.2020",
    "outcome": "no",
}


def _text_batch(column, values):
    """Rows that are all good except for `column`, which takes `values` (as text)."""
    rows = {name: [value] * len(values) for name, value in GOOD_ROW.items()}
    rows[column] = values
    return pl.DataFrame(rows, schema=dict.fromkeys(GOOD_ROW, pl.String))


def test_nan_and_infinities_in_a_float_column_are_quarantined(tiny_spec) -> None:
    outcome = validate_batch(_text_batch("amount", ["2.5", "NaN", "inf", "-inf"]), tiny_spec)

    assert outcome.valid.get_column("amount").to_list() == [2.5]
    reasons = _reasons(outcome)
    assert set(reasons) == {2, 3, 4}
    assert "amount: NaN is not a finite number" in reasons[2].split("; ")
    assert "amount: inf is not a finite number" in reasons[3].split("; ")
    assert "amount: -inf is not a finite number" in reasons[4].split("; ")
    # -inf also breaks the minimum; both are reported.
    assert "amount: -inf is below the minimum 0" in reasons[4]


def test_nan_in_a_nullable_float_column_is_still_not_finite(tiny_spec) -> None:
    reasons = _reasons(validate_batch(_text_batch("ratio", ["nan"]), tiny_spec))
    assert reasons == {1: "ratio: NaN is not a finite number"}


def test_a_nullable_float_column_accepts_nulls(tiny_spec) -> None:
    outcome = validate_batch(_text_batch("ratio", [None, "", "0.5"]), tiny_spec)

    assert outcome.quarantined.height == 0
    assert outcome.valid.get_column("ratio").to_list() == [None, None, 0.5]


def test_a_null_in_a_non_nullable_float_column_is_missing(tiny_spec) -> None:
    reasons = _reasons(validate_batch(_text_batch("amount", [None, "1"]), tiny_spec))
    assert reasons == {1: "amount: value is missing"}


def test_an_int_column_of_a_parquet_batch_accepts_whole_floats(tmp_path, tiny_spec) -> None:
    # Parquet keeps types: an int column written by a tool that made it float arrives as 3.0.
    frame = pl.DataFrame(
        {
            "amount": [1.0, 2.0, 3.0],
            "ratio": [None, 0.5, 0.25],
            "count": [3.0, 3.5, 0.0],
            "flag": [True, False, True],
            "opened": ["01.02.2020"] * 3,
            "outcome": ["yes", "no", "no"],
        }
    )
    frame.write_parquet(tmp_path / "batch.parquet")
    raw = LocalFileSource(root=str(tmp_path)).read(Source(path="batch.parquet"))
    assert raw.schema["count"] == pl.Float64

    outcome = validate_batch(raw, tiny_spec)

    assert outcome.valid.get_column("row_id").to_list() == [1, 3]
    assert outcome.valid.schema["count"] == pl.Int64
    assert outcome.valid.get_column("count").to_list() == [3, 0]
    assert outcome.valid.get_column("flag").to_list() == [True, True]
    assert _reasons(outcome) == {2: "count: '3.5' is not a valid int"}


def test_bool_text_is_parsed(tiny_spec) -> None:
    values = ["yes", "no", "true", "false", "1", "0", " Yes ", "FALSE", "maybe"]

    outcome = validate_batch(_text_batch("flag", values), tiny_spec)

    assert outcome.valid.get_column("flag").to_list() == [True, False] * 4
    assert _reasons(outcome) == {9: "flag: 'maybe' is not a valid bool"}


def test_a_date_column_is_parsed_with_its_format(tiny_spec) -> None:
    values = ["01.02.2020", "31.12.1999", "2020-02-01", "31.02.2020"]

    outcome = validate_batch(_text_batch("opened", values), tiny_spec)

    assert outcome.valid.schema["opened"] == pl.Date
    assert outcome.valid.get_column("opened").to_list() == [date(2020, 2, 1), date(1999, 12, 31)]
    assert _reasons(outcome) == {
        3: "opened: '2020-02-01' is not a valid date",
        4: "opened: '31.02.2020' is not a valid date",
    }


# --- reading the source ------------------------------------------------------------------------


def test_a_header_only_csv_is_refused_with_its_file_and_field(tmp_path) -> None:
    (tmp_path / "batch.csv").write_text(",".join(GOOD_ROW) + "\n")

    with pytest.raises(BatchFormatError) as caught:
        LocalFileSource(root=str(tmp_path)).read(Source(path="batch.csv"))
    assert str(caught.value) == (
        "batch.csv: source.path: the file has a header (6 columns) but no rows"
    )


def test_a_missing_source_file_names_its_path(tmp_path) -> None:
    with pytest.raises(FileNotFoundError) as caught:
        LocalFileSource(root=str(tmp_path)).read(Source(path="nowhere/batch.csv"))
    assert str(tmp_path / "nowhere" / "batch.csv") in str(caught.value)


def test_the_source_reads_text_and_nulls_as_declared(tmp_path, tiny_spec) -> None:
    (tmp_path / "batch.csv").write_text(
        "amount,ratio,count,flag,opened,outcome\n1.5,NA,3,yes,01.02.2020,no\n2,,x,no,,yes\n"
    )
    raw = LocalFileSource(root=str(tmp_path)).read(Source(path="batch.csv"))
    assert set(raw.schema.values()) == {pl.String}

    outcome = validate_batch(raw, tiny_spec)

    assert outcome.valid.get_column("ratio").to_list() == [None]
    assert _reasons(outcome) == {2: "count: 'x' is not a valid int; opened: value is missing"}


def test_a_production_batch_has_no_target_and_carries_its_id(german_spec):
    """Scoring batches arrive before their outcome: no target, plus an application id."""
    raw = pl.read_csv(GERMAN_DATA, infer_schema=False).drop("creditability")
    raw = raw.with_columns(pl.format("A-{}", pl.int_range(pl.len())).alias("application_id"))
    raw = raw.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit("x"))
        .otherwise(pl.col("purpose"))
        .alias("purpose")
    )
    outcome = validate_batch(raw, german_spec, labelled=False, carry=("application_id",))
    assert "credit_risk" not in outcome.valid.columns
    assert outcome.valid.columns[:2] == ["row_id", "application_id"]
    assert outcome.valid.height == 999
    assert outcome.quarantined.row(0, named=True)["application_id"] == "A-0"
    assert outcome.ignored_columns == ()
    with pytest.raises(
        MissingColumnsError, match=r"the batch: monitoring.id_column: .*application_id"
    ):
        validate_batch(
            raw.drop("application_id"), german_spec, labelled=False, carry=("application_id",)
        )
    # A labelled validation of the same batch still requires the target.
    with pytest.raises(MissingColumnsError, match="creditability"):
        validate_batch(raw, german_spec)


# --- values a cast cannot hold: quarantined, never a failed step ------------------------------


def test_nan_and_integers_beyond_64_bits_in_an_int_column_are_quarantined(tiny_spec) -> None:
    values = [
        "3",
        "NaN",
        "inf",
        "99999999999999999999999",
        "1e30",
        "9223372036854775807",
        "-9.3e18",
    ]

    outcome = validate_batch(_text_batch("count", values), tiny_spec)

    assert outcome.valid.get_column("count").to_list() == [3]
    assert _reasons(outcome) == {
        2: "count: 'NaN' is not a valid int",
        3: "count: 'inf' is not a valid int",
        4: "count: '99999999999999999999999' is out of the 64-bit integer range",
        5: "count: '1e30' is out of the 64-bit integer range",
        # Read exactly as an Int64, then found above the spec's maximum.
        6: "count: 9223372036854775807 is above the maximum 10.0",
        7: "count: '-9.3e18' is out of the 64-bit integer range",
    }
    checks = dict(outcome.failures.select("check", "rows").iter_rows())
    assert checks["type_int"] == 2 and checks["range_int"] == 3


def test_a_float_beyond_64_bits_is_out_of_range_and_infinity_is_not_finite(tiny_spec) -> None:
    reasons = _reasons(validate_batch(_text_batch("ratio", ["1e400", "-1E999", "inf"]), tiny_spec))
    assert reasons == {
        1: "ratio: '1e400' is out of the 64-bit float range",
        2: "ratio: '-1E999' is out of the 64-bit float range",
        3: "ratio: inf is not a finite number",
    }


def test_dates_outside_the_years_every_reader_holds_are_quarantined(tiny_spec) -> None:
    values = ["01.02.2020", "31.12.-5000", "01.01.0000", "31.12.9999"]

    outcome = validate_batch(_text_batch("opened", values), tiny_spec)

    assert outcome.valid.get_column("opened").to_list() == [date(2020, 2, 1), date(9999, 12, 31)]
    assert _reasons(outcome) == {
        2: "opened: '31.12.-5000' is out of the supported years (1 to 9999)",
        3: "opened: '01.01.0000' is out of the supported years (1 to 9999)",
    }


def test_typed_columns_are_read_with_casts_that_cannot_raise(tiny_spec) -> None:
    """Parquet keeps types: an unsigned 64-bit id, NaN in a float written for an int column,
    a dictionary-encoded column and dates far out are rows to quarantine, not cast errors."""
    raw = pl.DataFrame(
        {
            "amount": pl.Series(["1.5", "2", "3"], dtype=pl.Categorical),
            "ratio": pl.Series([None, 0.5, 0.25]),
            "count": pl.Series([3, 2**64 - 1, 4], dtype=pl.UInt64),
            "flag": pl.Series([1, 0, 2]),
            "opened": pl.Series([date(2020, 1, 1), date(2020, 1, 2), None]).cast(pl.Date),
            "outcome": ["yes", "no", "no"],
        }
    ).with_columns(
        pl.when(pl.int_range(pl.len()) == 2)
        .then(pl.lit(-3_000_000, dtype=pl.Int32).cast(pl.Date))
        .otherwise(pl.col("opened"))
        .alias("opened")
    )

    outcome = validate_batch(raw, tiny_spec)

    assert outcome.valid.get_column("row_id").to_list() == [1]
    assert outcome.valid.row(0, named=True)["amount"] == 1.5
    assert outcome.valid.row(0, named=True)["flag"] is True
    assert _reasons(outcome) == {
        2: "count: '18446744073709551615' is out of the 64-bit integer range",
        3: "flag: '2' is not a valid bool; opened: '-6244-04-12' is out of the supported "
        "years (1 to 9999)",
    }
    nan_count = raw.with_columns(pl.Series("count", [3.0, float("nan"), 4.0]))
    assert _reasons(validate_batch(nan_count, tiny_spec))[2] == "count: 'NaN' is not a valid int"


def test_a_column_no_value_of_which_can_be_read_stops_the_batch(tiny_spec) -> None:
    raw = _text_batch("count", ["1"]).with_columns(
        pl.Series("count", [[1, 2]]), pl.Series("amount", [date(2020, 1, 1)])
    )

    with pytest.raises(UnreadableColumnError) as caught:
        validate_batch(raw, tiny_spec, file="gs://bank/batch.parquet")
    assert str(caught.value) == (
        "gs://bank/batch.parquet: schema.columns: column(s) 'amount' (Date values cannot be "
        "read as float), 'count' "
        "(List(Int64) values cannot be read as int) cannot be validated: deliver them as text "
        "or in the declared type"
    )


def test_column_failures_are_the_validation_reasons_by_column(tiny_spec) -> None:
    raw = _text_batch("count", ["1", "x", "11"])
    failures = column_failures(raw, tiny_spec, [tiny_spec.data_schema.column("count")])
    assert failures.select("row_id", "column", "reason").rows() == [
        (2, "count", "count: 'x' is not a valid int"),
        (3, "count", "count: 11 is above the maximum 10.0"),
    ]


# --- duplicates --------------------------------------------------------------------------------


def test_a_file_appended_twice_quarantines_every_copy(german_raw, german_spec) -> None:
    doubled = pl.concat([german_raw, german_raw])

    outcome = validate_batch(doubled, german_spec)

    assert outcome.valid.height == 1000
    assert outcome.valid.get_column("row_id").to_list() == list(range(1, 1001))
    assert outcome.duplicate_rows == 1000
    reasons = _reasons(outcome)
    assert reasons[1001] == "duplicate of row 1"
    assert reasons[2000] == "duplicate of row 1000"
    by_check = {r["check"]: r for r in outcome.failures.iter_rows(named=True)}
    assert by_check["duplicate"]["rows"] == 1000
    assert by_check["duplicate"]["column"] == "(row)"
    assert outcome.quality_problems(0.05, 50) == [
        "schema.max_quarantine_share: 50.00% of rows quarantined (limit 5%), "
        "1000 of them duplicates"
    ]


def test_a_copy_of_a_bad_row_gets_both_reasons(german_raw, german_spec) -> None:
    bad = _set(german_raw.head(3), 2, "purpose", "spaceship")
    raw = pl.concat([bad, bad.slice(1, 1)])

    reasons = _reasons(validate_batch(raw, german_spec))

    assert reasons == {
        2: "purpose: 'spaceship' is not an allowed value",
        4: "purpose: 'spaceship' is not an allowed value; duplicate of row 2",
    }


def test_duplicates_allowed_by_the_spec_are_counted_not_quarantined(
    german_raw, german_spec_dict
) -> None:
    german_spec_dict["schema"]["duplicates"] = "allow"
    spec = UseCaseSpec.model_validate(german_spec_dict)

    outcome = validate_batch(pl.concat([german_raw.head(10), german_raw.head(3)]), spec)

    assert outcome.valid.height == 13
    assert outcome.quarantined.height == 0
    assert outcome.duplicate_rows == 3


def test_a_repeated_id_is_quarantined_even_when_duplicates_are_allowed(
    german_raw, german_spec_dict
) -> None:
    german_spec_dict["schema"]["duplicates"] = "allow"
    spec = UseCaseSpec.model_validate(german_spec_dict)
    batch = german_raw.head(4).drop("creditability")
    batch = batch.with_columns(pl.Series("application_id", ["A-1", "A-2", "A-1", None]))
    batch = pl.concat([batch, batch.head(1)])  # row 5 repeats row 1 entirely

    outcome = validate_batch(batch, spec, labelled=False, carry=("application_id",))

    assert _reasons(outcome) == {
        3: "application_id: 'A-1' repeats the id of row 1",
        5: "application_id: 'A-1' repeats the id of row 1",
    }
    assert outcome.duplicate_rows == 1  # counted, allowed; its id still repeats row 1's
    assert outcome.duplicate_ids == 2
    assert outcome.valid.get_column("row_id").to_list() == [1, 2, 4]
