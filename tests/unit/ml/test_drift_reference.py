"""Tests for the fast drift engine (`DriftReference`): Evidently's decisions and scores, CSI,
reuse, broken columns."""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest

from modelops.ml.drift import (
    ALL_NULL_METHOD,
    DriftReference,
    DriftResult,
    build_drift_report,
    psi_band,
)
from modelops.ml.drift.column_reference import NumericReference
from modelops.ml.drift.stattests import (
    METHOD_CHI_SQUARE,
    METHOD_JENSEN_SHANNON,
    METHOD_KS,
    METHOD_WASSERSTEIN,
    METHOD_Z,
)

NUMERIC = ["amount", "age", "rate", "flag", "grade", "sparse"]
CATEGORICAL = ["purpose", "telephone", "housing", "dependents", "branch"]
PURPOSES = ["car", "tv", "education", "business"]
BRANCHES = [f"b{i:03d}" for i in range(100)]  # above the hash path's label limit


def make_frame(n: int, seed: int, *, shift: bool = False) -> pl.DataFrame:
    """A credit-like frame covering every kind of column Evidently's defaults distinguish.

    `shift` changes amount, age, rate, flag and purpose; grade gains values 4-7 (so the test
    Evidently picks changes with the current batch); housing loses its rare label "free" and
    purpose gains a new one. The other columns are independent draws of the same distribution.
    """
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(8.0 + 0.4 * shift, 0.8, n)
    amount[rng.random(n) < 0.05] = np.nan
    amount[0] = np.inf  # Evidently treats ±inf as missing
    rate = rng.integers(1, 5, n)
    if shift:  # frequencies reversed, and a label the reference never saw
        labels, shares = [*PURPOSES, "other"], [0.09, 0.18, 0.27, 0.36, 0.1]
    else:
        labels, shares = PURPOSES, [0.4, 0.3, 0.2, 0.1]
    purpose = rng.choice(labels, n, p=shares)
    housing = (
        rng.choice(["own", "rent"], n)
        if shift
        else rng.choice(["own", "rent", "free"], n, p=[0.6, 0.35, 0.05])
    )
    sparse = rng.normal(0.5 * shift, 1.0, n)
    return pl.DataFrame(
        {
            "amount": amount,
            "age": rng.integers(18, 75, n) + 5 * shift,
            "rate": np.where(rate == 1, 4, rate) if shift else rate,  # 4 values: like a category
            "flag": (rng.random(n) < (0.5 if shift else 0.3)).astype(np.int64),  # binary numeric
            "grade": rng.integers(1, 8 if shift else 4, n),
            "sparse": np.where(np.arange(n) < 1000, sparse, np.nan),  # at most 1,000 non-null
            "purpose": purpose,
            "telephone": rng.choice(["none", "yes"], n),
            "housing": housing,
            "dependents": rng.choice([0, 1, 2], n, p=[0.5, 0.3, 0.2]),  # integer-coded
            "branch": rng.choice(BRANCHES, n),
        }
    ).with_columns(
        pl.col("amount").fill_nan(None),
        pl.col("sparse").fill_nan(None),
        # a few missing labels, which both sides drop before testing
        pl.when(pl.int_range(pl.len()) % 37 == 5).then(None).otherwise("purpose").alias("purpose"),
    )


def evidently(reference: pl.DataFrame, current: pl.DataFrame, threshold: float | None = None):
    return build_drift_report(
        reference,
        current,
        numeric=NUMERIC,
        categorical=CATEGORICAL,
        drift_share=0.5,
        stattest_threshold=threshold,
        max_rows=10**9,
        seed=0,
    )


def engine(
    reference: pl.DataFrame, current: pl.DataFrame, threshold: float | None = None
) -> DriftResult:
    fitted = DriftReference.fit(reference, numeric=NUMERIC, categorical=CATEGORICAL)
    return fitted.compare(current, stattest_threshold=threshold)


# (a) the same decisions and scores as Evidently, in both regimes ---------------------------------


@pytest.mark.parametrize(
    ("n_ref", "n_cur", "shift", "threshold"),
    [
        (400, 300, True, None),
        (1000, 1500, False, None),  # 1,000 reference values: still p-value tests
        (1000, 700, True, 0.2),  # one threshold for every test
        (1001, 800, True, None),  # just above: distances, but "sparse" keeps K-S
        (20_000, 15_000, True, None),
        (20_000, 15_000, False, None),
    ],
)
def test_methods_scores_and_verdicts_match_evidently(
    n_ref: int, n_cur: int, shift: bool, threshold: float | None
) -> None:
    reference, current = make_frame(n_ref, seed=1), make_frame(n_cur, seed=2, shift=shift)

    ours = engine(reference, current, threshold)
    theirs = evidently(reference, current, threshold)

    assert [f.column for f in ours.features] == NUMERIC + CATEGORICAL
    for mine, ref in zip(ours.features, theirs.features, strict=True):
        assert (mine.column, mine.kind, mine.method) == (ref.column, ref.kind, ref.method)
        assert mine.threshold == ref.threshold
        assert mine.drifted == ref.drifted, mine.column
        # same formulas on the same numbers: only summation order differs
        assert mine.score == pytest.approx(ref.score, rel=1e-7, abs=1e-10), mine.column
    assert ours.drifted_share == theirs.drifted_share
    assert ours.dataset_drift == theirs.dataset_drift


def test_fixture_covers_every_test_and_both_verdicts() -> None:
    """Guards the comparison above against a fixture that stops exercising some branch."""
    small = engine(make_frame(400, seed=1), make_frame(300, seed=2, shift=True))
    large = engine(make_frame(20_000, seed=1), make_frame(15_000, seed=2, shift=True))
    methods = {f.method for f in small.features} | {f.method for f in large.features}
    assert methods == {METHOD_KS, METHOD_CHI_SQUARE, METHOD_Z, METHOD_WASSERSTEIN,
                       METHOD_JENSEN_SHANNON}  # fmt: skip
    by_column = {f.column: f for f in large.features}
    assert by_column["grade"].method == METHOD_WASSERSTEIN  # the current batch added values
    assert by_column["rate"].method == METHOD_JENSEN_SHANNON
    assert by_column["sparse"].method == METHOD_KS  # 1,000 non-null reference values
    assert {"amount", "age", "rate", "flag", "purpose"} <= set(large.drifted_columns)
    assert not {"telephone", "dependents", "branch"} & set(large.drifted_columns)


def test_default_methods_follow_the_reference_size() -> None:
    small = DriftReference.fit(make_frame(1000, 1), numeric=NUMERIC, categorical=CATEGORICAL)
    large = DriftReference.fit(make_frame(1001, 1), numeric=NUMERIC, categorical=CATEGORICAL)

    assert small.default_methods() == {
        "amount": METHOD_KS,  # 1000 rows minus nulls and the inf
        "age": METHOD_KS,
        "rate": METHOD_CHI_SQUARE,
        "flag": METHOD_Z,
        "grade": METHOD_CHI_SQUARE,
        "sparse": METHOD_KS,
        "purpose": METHOD_CHI_SQUARE,
        "telephone": METHOD_Z,
        "housing": METHOD_CHI_SQUARE,
        "dependents": METHOD_CHI_SQUARE,
        "branch": METHOD_CHI_SQUARE,
    }
    assert large.default_methods()["age"] == METHOD_WASSERSTEIN
    assert large.default_methods()["flag"] == METHOD_JENSEN_SHANNON
    assert large.default_methods()["telephone"] == METHOD_JENSEN_SHANNON
    assert large.default_methods()["amount"] == METHOD_KS  # < 1001 non-null values
    assert large.default_methods()["sparse"] == METHOD_KS


def test_ks_drifts_at_equality_and_count_tests_below_only() -> None:
    """Evidently's code: K-S drifts when p <= threshold, chi-square and Z-test when p < it."""
    reference, current = make_frame(400, seed=1), make_frame(300, seed=2, shift=True)
    fitted = DriftReference.fit(reference, numeric=NUMERIC, categorical=CATEGORICAL)
    scores = {f.column: f.score for f in fitted.compare(current).features}

    at_ks = {
        f.column: f for f in fitted.compare(current, stattest_threshold=scores["age"]).features
    }
    at_chi = fitted.compare(current, stattest_threshold=scores["rate"]).features

    assert at_ks["age"].method == METHOD_KS and at_ks["age"].drifted
    chi = next(f for f in at_chi if f.column == "rate")
    assert chi.method == METHOD_CHI_SQUARE and not chi.drifted


def test_enum_categorical_and_string_labels_count_alike() -> None:
    frame = make_frame(3000, seed=1)
    shifted = make_frame(2000, seed=2, shift=True).with_columns(
        pl.col("housing").replace("rent", "free")
    )
    baseline = engine(frame, shifted).to_dict()["features"]
    housing = pl.Enum(["own", "rent", "free"])
    for dtype in (housing, pl.Categorical):
        typed = [f.with_columns(pl.col("housing").cast(dtype)) for f in (frame, shifted)]
        again = engine(*typed).to_dict()["features"]
        assert again == baseline


# (b) CSI against hand-computed values -----------------------------------------------------


def test_csi_per_feature_counts_categories_and_missing_values() -> None:
    reference = pl.DataFrame(
        {"x": [1.0] * 50 + [2.0] * 50, "c": ["a"] * 50 + ["b"] * 30 + ["c"] * 20}
    )
    current = pl.DataFrame(
        {"x": [1.0] * 40 + [None] * 10, "c": ["a"] * 10 + ["b"] * 15 + ["c"] * 20 + ["d"] * 5}
    )
    fitted = DriftReference.fit(reference, numeric=["x"], categorical=["c"], psi_bins=2)
    result = {f.column: f for f in fitted.compare(current).features}

    # x: one edge at the median 1.5: bins (<=1.5, >1.5, missing) 0.5/0.5/0 vs 0.8/0/0.2
    eps = 1e-4
    x_psi = (
        0.3 * math.log(0.8 / 0.5)
        + (eps - 0.5) * math.log(eps / 0.5)
        + (0.2 - eps) * math.log(0.2 / eps)
    )
    # c: a 0.5 -> 0.2, b 0.3 -> 0.3, c 0.2 -> 0.4, new d 0 -> 0.1, no missing values
    c_psi = (
        -0.3 * math.log(0.2 / 0.5) + 0.2 * math.log(0.4 / 0.2) + (0.1 - eps) * math.log(0.1 / eps)
    )
    assert result["x"].psi == pytest.approx(x_psi)
    assert result["c"].psi == pytest.approx(c_psi)
    assert result["x"].current_null_share == pytest.approx(0.2)


# (c) a broken upstream feature -----------------------------------------------------------------


def test_all_null_current_column_is_flagged_not_raised() -> None:
    reference, intact = make_frame(20_000, seed=1), make_frame(20_000, seed=2)
    broken_batch = intact.with_columns(
        pl.lit(None, pl.Float64).alias("amount"), pl.lit(None, pl.String).alias("purpose")
    )
    fitted = DriftReference.fit(reference, numeric=NUMERIC, categorical=CATEGORICAL)

    result, baseline = fitted.compare(broken_batch), fitted.compare(intact)

    broken = {f.column: f for f in result.features if f.method == ALL_NULL_METHOD}
    assert set(broken) == {"amount", "purpose"}
    for feature in broken.values():
        assert feature.drifted and math.isnan(feature.score)
        assert feature.current_null_share == 1.0
        assert psi_band(feature.psi) == "significant"
    assert not any(f.drifted for f in baseline.features if f.column in broken)
    others = [f for f in result.features if f.column not in broken]
    assert others == [f for f in baseline.features if f.column not in broken]
    record = next(f for f in result.to_dict()["features"] if f["column"] == "amount")
    assert record["score"] is None
    json.dumps(result.to_dict(), allow_nan=False)


def test_unusable_inputs_raise_clearly() -> None:
    reference = make_frame(500, seed=1)
    fitted = DriftReference.fit(reference, numeric=NUMERIC, categorical=CATEGORICAL)

    with pytest.raises(ValueError, match="only nulls"):
        DriftReference.fit(
            reference.with_columns(pl.lit(None, pl.Int64).alias("age")),
            numeric=NUMERIC,
            categorical=CATEGORICAL,
        )
    with pytest.raises(ValueError, match=r"\['age'\] missing from the current"):
        fitted.compare(reference.drop("age"))
    with pytest.raises(ValueError, match="empty"):
        fitted.compare(reference.clear())
    with pytest.raises(ValueError, match="not numeric"):
        fitted.compare(reference.with_columns(pl.col("age").cast(pl.String)))
    with pytest.raises(ValueError, match="more than once"):
        DriftReference.fit(reference, numeric=["age"], categorical=["age"])


# (d) one fit, many comparisons -----------------------------------------------------------------


def test_reference_is_fitted_once_and_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    reference = make_frame(5000, seed=1)
    untouched = reference.clone()
    fitted = DriftReference.fit(reference, numeric=NUMERIC, categorical=CATEGORICAL)
    assert reference.equals(untouched)  # sorting happened on copies, not on the caller's frame

    def no_refit(*args: object, **kwargs: object) -> None:
        raise AssertionError("compare must not summarise the reference again")

    monkeypatch.setattr(NumericReference, "fit", no_refit)
    monkeypatch.setattr(DriftReference, "fit", no_refit)
    stable, drifted = make_frame(4000, seed=2), make_frame(4000, seed=3, shift=True)
    first, second, other = fitted.compare(stable), fitted.compare(stable), fitted.compare(drifted)
    monkeypatch.undo()

    assert first == second
    assert other.drifted_columns != first.drifted_columns
    fresh = DriftReference.fit(reference, numeric=NUMERIC, categorical=CATEGORICAL)
    assert fresh.compare(drifted) == other


def test_serialised_reference_gives_the_same_result() -> None:
    reference, current = make_frame(5000, seed=1), make_frame(4000, seed=2, shift=True)
    fitted = DriftReference.fit(reference, numeric=NUMERIC, categorical=CATEGORICAL)

    data = fitted.to_bytes()
    restored = DriftReference.from_bytes(data)

    assert restored.columns == fitted.columns and restored.kinds == fitted.kinds
    assert restored.compare(current) == fitted.compare(current)
    assert len(data) < 200_000  # distinct values and counts, not the rows
    with pytest.raises(ValueError):
        DriftReference.from_bytes(b"not a reference")


def test_single_worker_and_two_workers_agree() -> None:
    reference, current = make_frame(5000, seed=1), make_frame(4000, seed=2, shift=True)
    fitted = DriftReference.fit(reference, numeric=NUMERIC, categorical=CATEGORICAL, workers=1)
    assert fitted.compare(current, workers=1) == fitted.compare(current, workers=2)


# (e) outputs ------------------------------------------------------------------------------------


def test_frame_dict_and_markdown_agree() -> None:
    result = engine(make_frame(3000, seed=1), make_frame(2000, seed=2, shift=True))

    frame = result.to_frame()
    as_dict = result.to_dict()
    markdown = result.to_markdown()

    assert frame["column"].to_list() == NUMERIC + CATEGORICAL
    assert frame.filter(pl.col("drifted"))["column"].to_list() == result.drifted_columns
    assert [f["score"] for f in as_dict["features"]] == frame["score"].to_list()
    assert as_dict["dataset_drift"] == (result.drifted_share >= 0.5)
    assert markdown.count("\n| ") == len(NUMERIC + CATEGORICAL) + 1  # header + one row each
    verdict = "DETECTED" if result.dataset_drift else "not detected"
    assert f"**Dataset drift: {verdict}**" in markdown


def test_dataset_drifts_when_share_reaches_drift_share() -> None:
    fitted = DriftReference.fit(make_frame(3000, 1), numeric=NUMERIC, categorical=CATEGORICAL)
    current = make_frame(2000, seed=2, shift=True)
    share = fitted.compare(current).drifted_share

    assert fitted.compare(current, drift_share=share).dataset_drift is True  # >=, not >
    assert fitted.compare(current, drift_share=share + 0.01).dataset_drift is False
