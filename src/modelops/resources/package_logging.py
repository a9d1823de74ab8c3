"""Log a registered version's portable packages to MLflow at training: the pyfunc scoring
package (logged on the version's training run) and the ONNX graph with its parity.

Where they are is recorded as version tags, so another stack finds them from the registry:
`modelops.package.pyfunc` (the pyfunc's models:/ URI), `modelops.onnx.artifact` (the .onnx
file, an artifact of the training run under `packages/`), `modelops.onnx.max_abs_diff` and
`modelops.onnx.parity`, or `modelops.onnx.unavailable` with the reason. A package that
cannot be built is a tag, never a failed training.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import polars as pl
from pydantic import BaseModel, ConfigDict

from modelops.ml.packages.onnx_package import OnnxPackage, convert_pipeline
from modelops.ml.packages.pyfunc_package import (
    ARTIFACT_NAME,
    model_arguments,
)
from modelops.ml.serving_bundle import FILES, ServingBundle
from modelops.names import HOLDOUT, MODEL, SERVING_BUNDLE_PREFIX
from modelops.resources.native_flavours import estimator_requirements
from modelops.resources.storage import ArtifactStore
from modelops.resources.tracking import ModelTracking, pinned_requirements
from modelops.spec import UseCaseSpec

PYFUNC_TAG = "modelops.package.pyfunc"
ONNX_ARTIFACT_TAG = "modelops.onnx.artifact"
ONNX_DIFF_TAG = "modelops.onnx.max_abs_diff"
ONNX_PARITY_TAG = "modelops.onnx.parity"
ONNX_UNAVAILABLE_TAG = "modelops.onnx.unavailable"
ONNX_FOLDER = "packages"
ONNX_FILE = "model.onnx"
_PINNED = ("mlflow", "scikit-learn", "numpy", "pandas", "scipy", "skops", "polars", "pydantic")


class PackageRecord(BaseModel):
    """What was packaged for one version (also in the version's tags)."""

    model_config = ConfigDict(frozen=True)

    pyfunc_uri: str | None
    pyfunc_error: str | None = None
    onnx_max_abs_diff: float | None = None
    onnx_parity: str | None = None
    onnx_unavailable: str | None = None


def package_version(
    tracking: ModelTracking,
    store: ArtifactStore,
    spec: UseCaseSpec,
    *,
    registered_name: str,
    version: str,
    run_id: str,
    serving_bundle_sha256: str,
) -> PackageRecord:
    """Build and log both packages of a version just registered, from its stored bundle."""
    files = {
        name: store.read_bytes(spec.id, MODEL, version, f"{SERVING_BUNDLE_PREFIX}{name}")
        for name in FILES
    }
    bundle = ServingBundle.from_files(files.__getitem__, expected_sha256=serving_bundle_sha256)
    holdout = store.read_table(spec.id, HOLDOUT, store.current_version(spec.id, HOLDOUT))
    pyfunc_uri, pyfunc_error = _log_pyfunc(tracking, spec, run_id, files, serving_bundle_sha256)
    if pyfunc_uri:
        tracking.set_version_tag(registered_name, version, PYFUNC_TAG, pyfunc_uri)
    else:
        tracking.set_version_tag(
            registered_name, version, f"{PYFUNC_TAG}.unavailable", str(pyfunc_error)
        )
    return PackageRecord(
        pyfunc_uri=pyfunc_uri,
        pyfunc_error=pyfunc_error,
        **_log_onnx(tracking, spec, registered_name, version, run_id, bundle, holdout),
    )


def _log_pyfunc(
    tracking: ModelTracking,
    spec: UseCaseSpec,
    run_id: str,
    files: dict[str, bytes],
    digest: str,
) -> tuple[str | None, str | None]:
    try:
        with (
            tracking.active() as mlflow,
            tempfile.TemporaryDirectory() as tmp,
            warnings.catch_warnings(),
        ):
            import mlflow.pyfunc

            # The package takes application records, not a frame: MLflow's example hint misleads.
            warnings.filterwarnings("ignore", message=".*input example was not provided")

            with mlflow.start_run(run_id=run_id):
                info = mlflow.pyfunc.log_model(
                    name=ARTIFACT_NAME,
                    pip_requirements=[
                        *pinned_requirements(_PINNED),
                        *estimator_requirements(spec.model.estimator),
                    ],
                    **model_arguments(spec, files, digest, Path(tmp)),
                )
        return info.model_uri, None
    except Exception as error:
        return None, f"{type(error).__name__}: {' '.join(str(error).split())[:300]}"


def _log_onnx(
    tracking: ModelTracking,
    spec: UseCaseSpec,
    registered_name: str,
    version: str,
    run_id: str,
    bundle: ServingBundle,
    holdout: pl.DataFrame,
) -> dict[str, object]:
    converted = convert_pipeline(bundle.pipeline, spec, holdout)
    if not isinstance(converted, OnnxPackage):
        tracking.set_version_tag(registered_name, version, ONNX_UNAVAILABLE_TAG, converted.reason)
        return {"onnx_unavailable": converted.reason}
    tracking.log_files(run_id, {ONNX_FILE: converted.onnx_bytes}, folder=ONNX_FOLDER)
    parity = "passed" if converted.parity_passed else "failed"
    tags = {
        ONNX_ARTIFACT_TAG: f"runs:/{run_id}/{ONNX_FOLDER}/{ONNX_FILE}",
        ONNX_DIFF_TAG: f"{converted.max_abs_diff:.3e}",
        ONNX_PARITY_TAG: parity,
    }
    for key, value in tags.items():
        tracking.set_version_tag(registered_name, version, key, value)
    return {"onnx_max_abs_diff": converted.max_abs_diff, "onnx_parity": parity}
