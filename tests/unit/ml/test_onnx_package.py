"""The ONNX package reproduces the fitted pipeline; a pipeline it cannot carry is a reason,
never an exception."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from modelops.ml.packages.onnx_package import (
    PARITY_TOLERANCE,
    OnnxPackage,
    OnnxUnavailable,
    convert_pipeline,
    onnx_probabilities,
)
from modelops.ml.training import predict_scores


@pytest.mark.parametrize("family", ["scorecard", "standard"])
def test_linear_families_convert_within_tolerance(family, fitted, german_split, german_spec):
    _, holdout = german_split
    package = convert_pipeline(fitted[family], german_spec, holdout)
    assert isinstance(package, OnnxPackage)
    assert package.parity_passed and package.max_abs_diff <= PARITY_TOLERANCE
    assert package.rows_compared == holdout.height
    expected = predict_scores(fitted[family], holdout, german_spec)
    got = onnx_probabilities(package.onnx_bytes, holdout, german_spec)
    assert np.max(np.abs(got - expected)) == pytest.approx(package.max_abs_diff, abs=1e-12)


def test_missing_categories_are_fed_as_the_pipelines_missing_category(
    fitted, german_split, german_spec
):
    _, holdout = german_split
    column = german_spec.categorical_features[0]
    gaps = holdout.head(50).with_columns(pl.lit(None, dtype=pl.String).alias(column))
    package = convert_pipeline(fitted["scorecard"], german_spec, holdout)
    assert isinstance(package, OnnxPackage)
    expected = predict_scores(fitted["scorecard"], gaps, german_spec)
    got = onnx_probabilities(package.onnx_bytes, gaps, german_spec)
    assert np.max(np.abs(got - expected)) <= PARITY_TOLERANCE


def test_native_categorical_gradient_boosting_is_unavailable_with_the_reason(
    fitted, german_split, german_spec
):
    package = convert_pipeline(fitted["native"], german_spec, german_split[1])
    assert isinstance(package, OnnxUnavailable)
    assert "categorical" in package.reason


def test_a_pipeline_no_converter_knows_is_a_reason(german_split, german_spec):
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    odd = Pipeline([("custom", FunctionTransformer(lambda x: x))])
    package = convert_pipeline(odd, german_spec, german_split[1])
    assert isinstance(package, OnnxUnavailable)
    assert package.reason
