"""The fitted reason codes and outlier model as pickle-free bytes: what is loaded scores exactly
as what was fitted, and anything but such bytes is refused with a clear error."""

from __future__ import annotations

import io
import json
import pickle
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest
from sklearn.pipeline import Pipeline

from modelops.ml.scoring import OutlierModel, ReasonCodes, compiled_preprocess, score_batch
from modelops.ml.scoring.compiled import encode
from modelops.spec import UseCaseSpec
from modelops.spec.columns import ROW_ID

STAMP = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def awkward(german_split: tuple[pl.DataFrame, pl.DataFrame]) -> pl.DataFrame:
    """The holdout with missing values, unseen categories and an absurd amount mixed in."""
    _, holdout = german_split
    row = pl.int_range(pl.len())
    return holdout.with_columns(pl.col("purpose").cast(pl.String)).with_columns(
        pl.when(row % 5 == 0).then(None).otherwise("credit_amount").alias("credit_amount"),
        pl.when(row % 7 == 0).then(pl.lit("spaceship")).otherwise("purpose").alias("purpose"),
        pl.when(row % 3 == 0).then(None).otherwise("savings").alias("savings"),
        pl.when(row % 11 == 0)
        .then(900_000.0)
        .otherwise("duration_months")
        .alias("duration_months"),
    )


def _same_reason_codes(restored: ReasonCodes, codes: ReasonCodes) -> None:
    assert restored.features == codes.features
    assert restored.method == codes.method
    assert restored.baseline == codes.baseline
    assert restored.fidelity == codes.fidelity
    for name in ("owner", "offsets", "probe_scores"):
        mine, theirs = getattr(restored, name), getattr(codes, name)
        assert mine.dtype == theirs.dtype
        np.testing.assert_array_equal(mine, theirs, strict=True)
    if codes.weights is None:
        assert restored.weights is None
    else:
        np.testing.assert_array_equal(restored.weights, codes.weights, strict=True)
    assert len(restored.binned) == len(codes.binned)
    for mine, theirs in zip(restored.binned, codes.binned, strict=True):
        assert mine.column == theirs.column
        np.testing.assert_array_equal(mine.edges, theirs.edges, strict=True)
        np.testing.assert_array_equal(mine.table, theirs.table, strict=True)
    assert restored.probe.schema == codes.probe.schema  # Enums stay Enums
    assert restored.probe.equals(codes.probe)


def test_reason_codes_round_trip_bit_for_bit(
    family: str,
    fitted: dict[str, Pipeline],
    reasons: dict[str, ReasonCodes],
    german_split: tuple[pl.DataFrame, pl.DataFrame],
    awkward: pl.DataFrame,
    german_spec: UseCaseSpec,
) -> None:
    codes = reasons[family]
    data = codes.to_bytes()
    assert isinstance(data, bytes)
    restored = ReasonCodes.from_bytes(data)
    _same_reason_codes(restored, codes)
    # The same object gives the same bytes: a digest of them is stable.
    assert restored.to_bytes() == data == codes.to_bytes()

    pipeline = fitted[family]
    restored.check(pipeline, german_spec)  # still recognises its model
    for frame in (german_split[1], awkward):
        matrix = encode(pipeline, frame, german_spec, None)
        mine, theirs = restored.contributions(matrix), codes.contributions(matrix)
        assert mine.tobytes() == theirs.tobytes()
        top = restored.top_reasons(mine, 3)
        for a, b in zip(top, codes.top_reasons(theirs, 3), strict=True):
            assert a.equals(b)
        explained = restored.explain(frame, pipeline=pipeline, spec=german_spec)
        assert explained.equals(codes.explain(frame, pipeline=pipeline, spec=german_spec))


def test_outlier_model_round_trip_bit_for_bit(
    outliers: OutlierModel,
    german_split: tuple[pl.DataFrame, pl.DataFrame],
    awkward: pl.DataFrame,
) -> None:
    data = outliers.to_bytes()
    restored = OutlierModel.from_bytes(data)
    assert restored.numeric == outliers.numeric
    assert restored.categorical == outliers.categorical
    assert (restored.threshold, restored.cap, restored.rare_frequency) == (
        outliers.threshold,
        outliers.cap,
        outliers.rare_frequency,
    )
    assert restored.to_bytes() == data
    for frame in (*german_split, awkward):
        assert restored.score(frame).equals(outliers.score(frame))
        assert restored.feature_scores(frame).equals(outliers.feature_scores(frame))
    scores = restored.score(awkward)
    assert (scores >= restored.threshold).any()  # the awkward rows do score as outliers


def test_score_batch_with_loaded_objects_gives_the_same_answers(
    family: str,
    fitted: dict[str, Pipeline],
    reasons: dict[str, ReasonCodes],
    outliers: OutlierModel,
    german_split: tuple[pl.DataFrame, pl.DataFrame],
    awkward: pl.DataFrame,
    german_spec: UseCaseSpec,
) -> None:
    codes = ReasonCodes.from_bytes(reasons[family].to_bytes())
    model = OutlierModel.from_bytes(outliers.to_bytes())
    pipeline = fitted[family]
    # The loaded probe still verifies the compiled preprocessing (the fast path is kept).
    assert compiled_preprocess(pipeline, german_spec, codes.probe) is not None
    for frame in (german_split[1], awkward):
        options = {
            "pipeline": pipeline,
            "spec": german_spec,
            "model_version": "7",
            "threshold": 0.5,
            "scored_at": STAMP,
        }
        again = score_batch(frame, reasons=codes, outliers=model, **options)
        first = score_batch(frame, reasons=reasons[family], outliers=outliers, **options)
        assert again.equals(first)
        assert again.get_column(ROW_ID).to_list() == frame.get_column(ROW_ID).to_list()


# Refusals ---------------------------------------------------------------------------------------


def _rewrite_header(data: bytes, **changes: object) -> bytes:
    """The same payload with header fields changed (None removes one)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    header = json.loads(arrays["header"].tobytes())
    for key, value in changes.items():
        if value is None:
            header.pop(key)
        else:
            header[key] = value
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _without(data: bytes, name: str) -> bytes:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files if key != name}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def test_the_other_objects_bytes_are_refused(
    reasons: dict[str, ReasonCodes], outliers: OutlierModel
) -> None:
    with pytest.raises(
        ValueError, match=r"not an outlier model payload of format .* version 1: "
    ) as e:
        OutlierModel.from_bytes(reasons["native"].to_bytes())
    assert "found format 'modelops.reason_codes' version 1" in str(e.value)
    with pytest.raises(ValueError, match="not a reason codes payload of format"):
        ReasonCodes.from_bytes(outliers.to_bytes())


def test_another_format_version_is_refused(
    reasons: dict[str, ReasonCodes], outliers: OutlierModel
) -> None:
    newer = _rewrite_header(reasons["scorecard"].to_bytes(), version=2)
    with pytest.raises(ValueError, match=r"'modelops\.reason_codes' version 1: found .* version 2"):
        ReasonCodes.from_bytes(newer)
    unnamed = _rewrite_header(outliers.to_bytes(), format=None)
    with pytest.raises(ValueError, match="found format None"):
        OutlierModel.from_bytes(unnamed)


@pytest.mark.parametrize(
    "data",
    [b"", b"not a payload at all", b"PK\x03\x04 truncated zip", np.arange(3).tobytes()],
    ids=["empty", "text", "broken zip", "raw floats"],
)
def test_bytes_that_are_no_payload_are_refused(data: bytes) -> None:
    with pytest.raises(
        ValueError, match="not a reason codes payload: the bytes are not a readable"
    ):
        ReasonCodes.from_bytes(data)
    with pytest.raises(ValueError, match="not an outlier model payload: the bytes are not"):
        OutlierModel.from_bytes(data)


def test_a_pickle_is_never_unpickled(reasons: dict[str, ReasonCodes], outliers: OutlierModel):
    """A pickle (what the objects were stored as before) could run code: it is refused."""
    for obj, cls in ((reasons["standard"], ReasonCodes), (outliers, OutlierModel)):
        with pytest.raises(ValueError, match=r"contains pickled \(object\) data"):
            cls.from_bytes(pickle.dumps(obj))
    # Nor an .npz whose header is an object array (a pickle inside the archive).
    buffer = io.BytesIO()
    np.savez(buffer, header=np.array([{"format": "modelops.outlier_model"}], dtype=object))
    with pytest.raises(ValueError, match="not an outlier model payload: the bytes"):
        OutlierModel.from_bytes(buffer.getvalue())


def test_a_changed_byte_is_refused(reasons: dict[str, ReasonCodes], outliers: OutlierModel):
    """Each array is checksummed in the archive: a flipped bit in the data is caught."""
    codes = reasons["native"]
    data = bytearray(codes.to_bytes())
    where = bytes(data).find(codes.probe_scores.tobytes())
    assert where > 0
    data[where + 3] ^= 0x01
    with pytest.raises(ValueError, match="not a reason codes payload: the bytes are not"):
        ReasonCodes.from_bytes(bytes(data))
    data = bytearray(outliers.to_bytes())
    where = bytes(data).find(b'"threshold"')
    assert where > 0
    data[where + 2] ^= 0x01
    with pytest.raises(ValueError, match="not an outlier model payload"):
        OutlierModel.from_bytes(bytes(data))


def test_a_payload_that_does_not_hold_together_is_refused(
    reasons: dict[str, ReasonCodes], outliers: OutlierModel
) -> None:
    linear = reasons["scorecard"].to_bytes()
    with pytest.raises(ValueError, match="not a reason codes payload: the array 'weights'"):
        ReasonCodes.from_bytes(_without(linear, "weights"))
    with pytest.raises(ValueError, match="not a reason codes payload: its header is invalid"):
        ReasonCodes.from_bytes(_rewrite_header(linear, method="magic"))
    with pytest.raises(ValueError, match="its header is invalid"):
        ReasonCodes.from_bytes(_rewrite_header(linear, baseline=None))
    with pytest.raises(ValueError, match="its header is invalid"):
        OutlierModel.from_bytes(_rewrite_header(outliers.to_bytes(), surprise=1))
    fewer = _rewrite_header(linear, features=list(reasons["scorecard"].features[:-1]))
    with pytest.raises(ValueError, match="its arrays do not fit together"):
        ReasonCodes.from_bytes(fewer)
    model = outliers.to_bytes()
    fewer = _rewrite_header(model, numeric=[p.feature for p in outliers.numeric][:-1])
    with pytest.raises(ValueError, match="not an outlier model payload: its arrays do not fit"):
        OutlierModel.from_bytes(fewer)
    with pytest.raises(ValueError, match="the array 'categorical_0_scores' is missing"):
        OutlierModel.from_bytes(_without(model, "categorical_0_scores"))
