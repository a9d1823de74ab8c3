"""A dataset that needs a derived target, sentinel codes, a 0.0/1.0 flag and free text
onboards with a spec alone through `modelops run`, and the target's definition is recorded.

The data is German credit reshaped in the test: a six-valued `loan_status` instead of
good/bad (the indeterminate "Current" excluded), 999 meaning "unknown" in the credit amount,
the telephone as a 0.0/1.0 float and an employer title with many distinct values.
"""

from __future__ import annotations

import dagster as dg
import numpy as np
import polars as pl
import yaml

from modelops.governance.model_record import read_model_record
from modelops.operator import Platform
from support import GERMAN_DATA, GERMAN_SPEC, make_settings, write_spec
from support.platform_cli import cli

UC = "status_loans"
BAD = ["Charged Off", "Default", "Late (31-120 days)"]
GOOD = ["Fully Paid", "In Grace Period"]
EXCLUDED = ["Current"]


def _reshaped(path) -> int:
    """German credit with the new columns; returns how many rows are `Current`."""
    rng = np.random.default_rng(5)
    raw = pl.read_csv(GERMAN_DATA, infer_schema=False)
    bad = (raw.get_column("creditability") == "bad").to_numpy()
    current = rng.random(raw.height) < 0.1
    status = np.where(bad, rng.choice(BAD, raw.height), rng.choice(GOOD, raw.height))
    status = np.where(current, "Current", status)
    amount = raw.get_column("credit_amount").to_numpy().astype(object)
    amount[rng.random(raw.height) < 0.05] = "999"
    titles = [f"title {i}" for i in rng.integers(0, 400, raw.height)]
    phone = (raw.get_column("telephone") == "none").to_numpy()
    raw.with_columns(
        pl.Series("loan_status", status),
        pl.Series("credit_amount", amount.astype(str)),
        pl.Series("employer_title", titles),
        pl.Series("telephone", np.where(phone, "0.0", "1.0")),
    ).drop("creditability").write_csv(path)
    return int(current.sum())


def _spec(data) -> dict:
    d = yaml.safe_load(GERMAN_SPEC.read_text())
    d["id"] = UC
    d["source"] = {"path": str(data), "format": "csv"}
    d.pop("monitoring", None)
    columns = [c for c in d["schema"]["columns"] if c["name"] != "credit_risk"]
    for column in columns:
        if column["name"] == "credit_amount":
            column.update(nullable=True, missing_values=[999])
        if column["name"] == "telephone":
            column.update(type="bool", allowed=None)
            column.pop("allowed")
    columns += [
        {"name": "loan_status", "type": "category", "allowed": BAD + GOOD + EXCLUDED},
        {"name": "employer_title", "type": "text", "nullable": True},
    ]
    d["schema"]["columns"] = columns
    d["target"] = {
        "column": "loan_status",
        "bad_values": BAD,
        "good_values": GOOD,
        "excluded_values": EXCLUDED,
        "description": "Charged off, defaulted or late: bad; current loans are indeterminate.",
    }
    d["features"]["missing"] = {"per_feature": {"credit_amount": "own_bin"}}
    d["features"]["engineered"].append(
        {
            "name": "title_band",
            "expression": "CASE WHEN employer_title LIKE 'title 1%' THEN 'a' ELSE 'b' END",
            "kind": "categorical",
        }
    )
    return d


def test_a_derived_target_onboards_with_a_spec_alone(tmp_path) -> None:
    data = tmp_path / "status_loans.csv"
    current = _reshaped(data)
    write_spec(tmp_path / "specs", _spec(data))
    settings = make_settings(tmp_path, tmp_path / "specs")

    outcome = cli(settings, "run", "-u", UC)
    assert outcome.code == 0, outcome.printed

    platform = Platform(settings)
    spec = platform.spec(UC)
    assert "loan_status" not in spec.model_inputs and "employer_title" not in spec.model_inputs
    instance = platform.instance()
    event = instance.get_latest_materialization_event(dg.AssetKey([UC, "features"]))
    assert event is not None and event.asset_materialization is not None
    metadata = event.asset_materialization.metadata
    assert metadata["target_excluded_rows"].value == current > 0
    definition = metadata["target_definition"].value
    assert definition == spec.target.definition_text(current)
    assert "excluded (indeterminate) = {Current}" in definition

    validated = instance.get_latest_materialization_event(dg.AssetKey([UC, "validated_dataset"]))
    assert validated is not None and validated.asset_materialization is not None
    checked = validated.asset_materialization.metadata
    assert checked["quarantined_rows"].value == 0  # 999 is missing, 0.0/1.0 are booleans
    assert "quarantined_rows" in checked and "warnings" not in checked  # text is not a category

    record = read_model_record(platform.resources.store, UC, "1")
    assert record is not None
