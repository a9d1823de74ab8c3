"""onnxmltools' LightGBM and XGBoost converters, registered with skl2onnx so a pipeline ending
in either classifier converts like a scikit-learn one (then its parity is measured as for any
pipeline). Without the `frameworks` extra (or onnxmltools) nothing is registered and such a
pipeline records why it has no ONNX package."""

from __future__ import annotations

from typing import Any

from modelops.ml.tree_families import SKLEARN, model_family

ML_OPSET = 3
"""onnxmltools' tree converters emit `ai.onnx.ml` version 3 (TreeEnsembleClassifier)."""

_registered = False


def register_tree_converters() -> None:
    """Register once per process; a framework or converter that is not installed is skipped."""
    global _registered
    if _registered:
        return
    _registered = True
    try:
        from skl2onnx import update_registered_converter
        from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes
    except ImportError:
        return
    options = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
    try:
        from lightgbm import LGBMClassifier
        from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm

        update_registered_converter(
            LGBMClassifier,
            "LightGbmLGBMClassifier",
            calculate_linear_classifier_output_shapes,
            convert_lightgbm,
            options=options,
        )
    except ImportError:
        pass
    try:
        from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
        from xgboost import XGBClassifier

        update_registered_converter(
            XGBClassifier,
            "XGBoostXGBClassifier",
            calculate_linear_classifier_output_shapes,
            convert_xgboost,
            options=options,
        )
    except ImportError:
        pass


def tree_target_opset(pipeline: Any, opset: int) -> int | dict[str, int]:
    """`opset` for a scikit-learn pipeline; with the `ai.onnx.ml` domain pinned to what
    onnxmltools writes for a LightGBM / XGBoost one."""
    if model_family(pipeline) == SKLEARN:
        return opset
    return {"": opset, "ai.onnx.ml": ML_OPSET}
