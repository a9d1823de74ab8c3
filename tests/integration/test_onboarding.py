"""Onboarding a second use case with a spec only, as docs/onboarding.md describes.

The data set is unlike German credit on purpose: messy headers mapped with `source_name`, a
date column (so the split is out-of-time), a protected attribute, float columns with gaps,
a text target, Parquet instead of CSV, and a gradient-boosting model.
"""

from __future__ import annotations

import dagster as dg
import numpy as np
import polars as pl
import pytest

from modelops.definitions import build_definitions
from modelops.resources.storage import LocalArtifactStore
from support import make_settings

SPEC = """\
id: consumer_loans
description: Default risk of consumer instalment loans (a second, unrelated portfolio).
owners:
  team: retail-credit
  person: li.wei@bank.example
source:
  path: {path}
schema:
  date_column: issue_date
  min_valid_rows: 500
  columns:
    - {{name: issue_date, source_name: "Issue Date", type: date, date_format: "%d/%m/%Y"}}
    - {{name: annual_income, source_name: "Annual Income (EUR)", type: float, min: 0,
       nullable: true}}
    - {{name: loan_amount, source_name: "Loan Amount", type: float, min: 100, max: 100000}}
    - {{name: term_months, source_name: "Term", type: int, allowed: [36, 60]}}
    - {{name: debt_to_income, source_name: "DTI", type: float, min: 0, max: 100,
       nullable: true}}
    - {{name: home_ownership, source_name: "Home Ownership", type: category,
       allowed: [RENT, OWN, MORTGAGE]}}
    - {{name: gender, source_name: "Gender", type: category, protected: true,
       allowed: [F, M, X]}}
    - {{name: customer_email, source_name: "Email", type: category, pii: true}}
    - {{name: loan_status, source_name: "Loan Status", type: category,
       allowed: [Fully Paid, Charged Off]}}
target:
  column: loan_status
  positive_class: Charged Off
features:
  raw: [annual_income, loan_amount, term_months, debt_to_income, home_ownership]
  engineered:
    - name: loan_to_income
      expression: loan_amount / annual_income
      kind: numeric
split:
  holdout_fraction: 0.25
  seed: 7
# Gradient boosting with exact (TreeSHAP) reasons: a high-tier credit model must state the
# reasons that really drove each score (scikit-learn's boosting only has approximate ones).
model:
  estimator: lightgbm.LGBMClassifier
  params: {{n_estimators: 60, learning_rate: 0.1, num_leaves: 15, deterministic: true,
           num_threads: 1, seed: 0, verbose: -1}}
  preprocessing: native
evaluation:
  segments: [gender, home_ownership]
  min_auc: 0.6
risk:
  business_impact: medium
  decision_role: human_in_the_loop
  natural_persons: true
  use_category: credit_scoring
"""


def _loan_book(rows: int, seed: int) -> pl.DataFrame:
    """A synthetic loan book whose default depends on income, DTI and term."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10.6, 0.5, rows)
    amount = np.clip(rng.lognormal(9.3, 0.6, rows), 100, 100_000)
    term = rng.choice([36, 60], rows, p=[0.7, 0.3])
    dti = np.clip(rng.normal(18, 8, rows), 0, 100)
    logit = -2.4 + 3.0 * (amount / income) + 0.08 * (dti - 18) + 0.9 * (term == 60)
    bad = rng.random(rows) < 1 / (1 + np.exp(-logit))
    days = rng.integers(0, 3 * 365, rows)
    dates = (np.datetime64("2022-01-01") + days.astype("timedelta64[D]")).astype(object)
    income_text = [f"{v:.2f}" for v in income]
    for i in rng.choice(rows, rows // 50, replace=False):
        income_text[i] = None  # income not declared by some applicants
    return pl.DataFrame(
        {
            "Issue Date": [d.strftime("%d/%m/%Y") for d in dates],
            "Annual Income (EUR)": income_text,
            "Loan Amount": np.round(amount, 2),
            "Term": term,
            "DTI": np.round(dti, 1),
            "Home Ownership": rng.choice(["RENT", "OWN", "MORTGAGE"], rows),
            "Gender": rng.choice(["F", "M", "X"], rows, p=[0.48, 0.5, 0.02]),
            "Email": [f"c{i}@example.com" for i in range(rows)],
            "Loan Status": np.where(bad, "Charged Off", "Fully Paid"),
            "Branch Code": rng.integers(100, 200, rows),  # not declared: reported, not used
        }
    )


@pytest.fixture(scope="module")
def onboarded(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    root = tmp_path_factory.mktemp("onboarding")
    data = root / "loans.parquet"
    _loan_book(4000, seed=3).write_parquet(data)
    specs = root / "specs"
    specs.mkdir()
    (specs / "consumer_loans.yaml").write_text(SPEC.format(path=data))
    settings = make_settings(root, specs)
    defs = build_definitions(settings)
    result = defs.resolve_job_def("consumer_loans_pipeline").execute_in_process(
        instance=dg.DagsterInstance.ephemeral()
    )
    return settings, result


def test_second_use_case_runs_end_to_end_from_a_spec(onboarded: tuple) -> None:
    _, result = onboarded
    assert result.success
    keys = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert keys == {
        f"consumer_loans/{name}"
        for name in (
            "raw_dataset",
            "validated_dataset",
            "quarantined_rows",
            "features",
            "training_set",
            "holdout_set",
            "trained_model",
            "evaluation_report",
            "drift_report",
            "fairness_report",
            "release_gates",
            "model_release",
            "model_card",
        )
    }


def test_out_of_time_split_on_the_declared_date(onboarded: tuple) -> None:
    settings, _ = onboarded
    store = LocalArtifactStore(root=str(settings.data_dir))
    train = store.read_table("consumer_loans", "training_set")
    holdout = store.read_table("consumer_loans", "holdout_set")
    assert holdout["issue_date"].min() >= train["issue_date"].max()
    assert abs(holdout.height / (train.height + holdout.height) - 0.25) < 0.02


def test_protected_and_pii_columns_stay_out_of_the_model(onboarded: tuple) -> None:
    settings, _result = onboarded
    store = LocalArtifactStore(root=str(settings.data_dir))
    features = store.read_table("consumer_loans", "features")
    assert "customer_email" not in features.columns  # PII never reaches the feature table
    assert "gender" in features.columns  # kept for per-group evaluation only
    card_version = store.require_current("consumer_loans", "model_card")
    card = store.read_bytes("consumer_loans", "model_card", card_version, "model_card.md").decode()
    assert "Protected attributes (not model inputs): `gender`" in card
    assert "| gender | F |" in card


def test_nullable_income_and_undeclared_columns(onboarded: tuple) -> None:
    settings, result = onboarded
    validated = next(
        e.event_specific_data.materialization
        for e in result.get_asset_materialization_events()
        if e.asset_key.path[-1] == "validated_dataset"
    )
    assert validated.metadata["ignored_source_columns"].value == ["Branch Code"]
    assert validated.metadata["quarantined_rows"].value == 0
    store = LocalArtifactStore(root=str(settings.data_dir))
    valid = store.read_table("consumer_loans", "validated_dataset")
    assert valid["annual_income"].null_count() == 4000 // 50
