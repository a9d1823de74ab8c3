"""The fitted pipeline as an ONNX graph, with its parity against scikit-learn recorded.

ONNX carries only the pipeline (engineered features in, probability out): reason codes,
outliers and the fallback stay in the pyfunc package. Inputs are one tensor per model input
(double for numeric, string for categorical, missing categories as the pipeline's
`MISSING_CATEGORY`) so a caller on another stack feeds named columns, not a column order.
A pipeline a converter cannot handle gives a `OnnxUnavailable` reason, never an exception.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict
from sklearn.pipeline import Pipeline

from modelops.ml.training import MISSING_CATEGORY, model_input_frame
from modelops.spec import UseCaseSpec

PARITY_TOLERANCE = 1e-5
"""Largest |onnx - sklearn| probability difference accepted as the same model."""
TARGET_OPSET = 17


class OnnxPackage(BaseModel):
    """A converted pipeline and how closely it reproduces scikit-learn on the holdout."""

    model_config = ConfigDict(frozen=True)

    onnx_bytes: bytes
    numeric_type: str
    """"double", or "float" where a runtime kernel has no double version (Imputer, trees)."""
    max_abs_diff: float
    rows_compared: int

    @property
    def parity_passed(self) -> bool:
        return self.max_abs_diff <= PARITY_TOLERANCE


class OnnxUnavailable(BaseModel):
    """Why this version has no ONNX package (a converter missing for a step, ...)."""

    model_config = ConfigDict(frozen=True)

    reason: str


def _initial_types(spec: UseCaseSpec, numeric_type: str) -> list[tuple[str, Any]]:
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType

    tensor = DoubleTensorType if numeric_type == "double" else FloatTensorType
    return [(c, tensor([None, 1])) for c in spec.numeric_features] + [
        (c, StringTensorType([None, 1])) for c in spec.categorical_features
    ]


def _convertible(pipeline: Pipeline) -> Pipeline:
    """A copy skl2onnx accepts: a sparse one-hot `KBinsDiscretizer` becomes its dense twin
    (the same bands, the same numbers; ONNX has no sparse tensors)."""
    from sklearn.preprocessing import KBinsDiscretizer

    converted = copy.deepcopy(pipeline)
    stack: list[Any] = [converted]
    while stack:
        step = stack.pop()
        if isinstance(step, KBinsDiscretizer) and step.encode == "onehot":
            step.encode = "onehot-dense"
        stack.extend(_children(step))
    return converted


def _unsupported_step(pipeline: Pipeline) -> str | None:
    """A step skl2onnx converts without error but wrongly: gradient boosting's native
    categorical splits (bitsets) are not carried into the ONNX tree ensemble."""
    stack: list[Any] = [pipeline]
    while stack:
        step = stack.pop()
        categorical = getattr(step, "is_categorical_", None)
        if categorical is not None and bool(np.any(categorical)):
            return (
                f"{type(step).__name__} with native categorical features: skl2onnx has no "
                "converter for its categorical splits"
            )
        stack.extend(_children(step))
    return None


def _children(step: Any) -> list[Any]:
    if hasattr(step, "steps"):
        return [s for _, s in step.steps]
    if hasattr(step, "transformers_"):
        return [t for _, t, _ in step.transformers_ if not isinstance(t, str)]
    return []


def onnx_inputs(
    features: pl.DataFrame, spec: UseCaseSpec, numeric_dtype: Any = np.float64
) -> dict[str, np.ndarray]:
    """The engineered feature table as the graph's named inputs (n x 1 each)."""
    frame = model_input_frame(features, spec)
    inputs: dict[str, np.ndarray] = {}
    for c in spec.numeric_features:
        inputs[c] = frame[c].to_numpy(dtype=numeric_dtype).reshape(-1, 1)
    for c in spec.categorical_features:
        values = frame[c].astype(object).where(frame[c].notna(), MISSING_CATEGORY)
        inputs[c] = values.astype(str).to_numpy(dtype=object).reshape(-1, 1)
    return inputs


def onnx_probabilities(onnx_bytes: bytes, features: pl.DataFrame, spec: UseCaseSpec) -> np.ndarray:
    """P(positive class) of each row of a feature table, computed by onnxruntime."""
    import onnxruntime as ort

    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    numeric = [i for i in session.get_inputs() if i.name in set(spec.numeric_features)]
    dtype = np.float32 if numeric and numeric[0].type == "tensor(float)" else np.float64
    outputs = session.run(None, onnx_inputs(features, spec, dtype))
    probabilities = np.asarray(outputs[names.index("probabilities")], dtype=np.float64)
    return probabilities[:, 1]


def convert_pipeline(
    pipeline: Pipeline, spec: UseCaseSpec, holdout: pl.DataFrame
) -> OnnxPackage | OnnxUnavailable:
    """Convert (zipmap off; double inputs, float where onnxruntime has no double kernel) and
    measure parity on the holdout; any failure is a reason: training goes on without it."""
    from modelops.ml.training import predict_scores

    unsupported = _unsupported_step(pipeline)
    if unsupported:
        return OnnxUnavailable(reason=unsupported)
    failures: list[str] = []
    for numeric_type in ("double", "float"):
        try:
            onnx_bytes = _convert(pipeline, spec, numeric_type)
            onnx_scores = onnx_probabilities(onnx_bytes, holdout, spec)
            break
        except Exception as error:
            failures.append(f"{numeric_type} inputs: {_reason(error)}")
    else:
        return OnnxUnavailable(reason="; ".join(failures)[:600])
    expected = np.asarray(predict_scores(pipeline, holdout, spec), dtype=np.float64)
    if onnx_scores.shape != expected.shape:
        return OnnxUnavailable(reason=f"onnx gave {onnx_scores.shape} scores for {expected.shape}")
    difference = np.abs(onnx_scores - expected)
    finite = np.isfinite(difference)
    max_abs_diff = float(difference.max()) if finite.all() and len(difference) else float("inf")
    return OnnxPackage(
        onnx_bytes=onnx_bytes,
        numeric_type=numeric_type,
        max_abs_diff=max_abs_diff,
        rows_compared=len(expected),
    )


def _convert(pipeline: Pipeline, spec: UseCaseSpec, numeric_type: str) -> bytes:
    from skl2onnx import to_onnx

    from modelops.ml.packages.onnx_tree_converters import (
        register_tree_converters,
        tree_target_opset,
    )

    register_tree_converters()  # LightGBM / XGBoost through onnxmltools, when installed
    model = to_onnx(
        _convertible(pipeline),
        initial_types=_initial_types(spec, numeric_type),
        target_opset=tree_target_opset(pipeline, TARGET_OPSET),
        options={"zipmap": False},
    )
    return model.SerializeToString()


def _reason(error: Exception) -> str:
    text = " ".join(str(error).split())[:300]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
