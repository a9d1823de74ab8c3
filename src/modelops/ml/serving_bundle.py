"""Everything scoring needs of one model version, written once at training time.

A bundle holds the fitted pipeline, the reason-code model, the outlier model, the drift
reference (and a training sample for Evidently's report), the model's scores on its holdout
(the score-PSI reference), the input schema and engineered-feature expressions, and the
digest of the registered model it was built from. Scoring and monitoring in any process load
it instead of refitting anything from the training set, and every file is checked against
the bundle's digest (recorded in the audit log at training) before anything is deserialised.
Nothing in it is pickled: a tampered file cannot run code.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict
from sklearn.pipeline import Pipeline

from modelops.ml.data_profile import DataProfile
from modelops.ml.drift import DriftReference, sample_rows
from modelops.ml.model_integrity import ModelIntegrityError, dump_model, files_digest, load_model
from modelops.ml.scoring import OutlierModel, ReasonCodes
from modelops.ml.training import predict_scores
from modelops.spec import EngineeredFeature, UseCaseSpec

FORMAT = "modelops.serving_bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PIPELINE = "pipeline.skops"
REASONS = "reason_codes.npz"
OUTLIERS = "outliers.npz"
DRIFT_REFERENCE = "drift_reference.npz"
REFERENCE_SAMPLE = "reference_sample.parquet"
HOLDOUT_SCORES = "holdout_scores.npy"
FILES = (MANIFEST, PIPELINE, REASONS, OUTLIERS, DRIFT_REFERENCE, REFERENCE_SAMPLE, HOLDOUT_SCORES)


class InputColumn(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    kind: Literal["numeric", "categorical"]


class BundleManifest(BaseModel):
    """What the bundle is, and the sha256 of each of its files."""

    model_config = ConfigDict(frozen=True)

    format: Literal["modelops.serving_bundle"] = FORMAT
    format_version: int = FORMAT_VERSION
    use_case: str
    model_version: str
    model_sha256: str
    """Digest of the registered MLflow artifacts the pipeline was taken from."""
    inputs: tuple[InputColumn, ...]
    engineered_features: tuple[EngineeredFeature, ...]
    files: dict[str, str]
    operating_threshold: float | None = None
    """Resolved at training by the spec's threshold rule (None: the spec's fixed threshold)."""
    data_profile: DataProfile | None = None
    """The training data's ranges, medians and category shares."""
    drift_reference_months: tuple[str, ...] = ()
    """The production months the drift reference was taken from (`drift.reference:
    recent_production`); empty: the training data, and the holdout scores for score PSI."""


@dataclass(frozen=True, eq=False)
class ServingBundle:
    manifest: BundleManifest
    pipeline: Pipeline
    reasons: ReasonCodes
    outliers: OutlierModel
    drift_reference: DriftReference
    reference_sample: pl.DataFrame
    """Training rows (model inputs, at most `drift.max_rows`), sampled as the drift report
    samples: the reference side of Evidently's report of a production month."""
    holdout_scores: np.ndarray

    @property
    def profile(self) -> DataProfile | None:
        """The training data's profile a production month is classified against (None in a
        bundle written before profiles were kept)."""
        return self.manifest.data_profile

    def reference_scores(self, spec: UseCaseSpec) -> np.ndarray:
        """The scores a month's score PSI compares with: the holdout's, or the model's scores
        on the production months its drift reference was taken from."""
        if not self.manifest.drift_reference_months:
            return self.holdout_scores
        return predict_scores(self.pipeline, self.reference_sample, spec)

    @property
    def model_version(self) -> str:
        return self.manifest.model_version

    @classmethod
    def build(
        cls,
        spec: UseCaseSpec,
        *,
        model_version: str,
        pipeline: Pipeline,
        training: pl.DataFrame,
        holdout: pl.DataFrame,
        model_sha256: str,
        reference: pl.DataFrame | None = None,
        reference_months: tuple[str, ...] = (),
    ) -> ServingBundle:
        """Fit what scoring needs besides the model, on the model's own training set; the drift
        reference on `reference` (recent production months) when given."""
        numeric, categorical = spec.numeric_features, spec.categorical_features
        manifest = BundleManifest(
            use_case=spec.id,
            model_version=str(model_version),
            model_sha256=model_sha256,
            inputs=tuple(
                [InputColumn(name=c, kind="numeric") for c in numeric]
                + [InputColumn(name=c, kind="categorical") for c in categorical]
            ),
            engineered_features=tuple(spec.features.engineered),
            files={},
            data_profile=DataProfile.fit(training, spec),
            drift_reference_months=reference_months if reference is not None else (),
        )
        compared = training if reference is None else reference
        return cls(
            manifest=manifest,
            pipeline=pipeline,
            reasons=ReasonCodes.fit(pipeline, training, spec),
            outliers=OutlierModel.fit(training, spec),
            drift_reference=DriftReference.fit(compared, numeric=numeric, categorical=categorical),
            reference_sample=sample_rows(
                compared.select(spec.model_inputs), spec.drift.max_rows, spec.split.seed
            ),
            holdout_scores=predict_scores(pipeline, holdout, spec),
        )

    def missing_inputs(self, features: pl.DataFrame) -> list[str]:
        """Model inputs the table lacks: it cannot be scored by this version."""
        return [c.name for c in self.manifest.inputs if c.name not in features.columns]

    # Storage -----------------------------------------------------------------------------------

    def to_files(self) -> dict[str, bytes]:
        sample = io.BytesIO()
        self.reference_sample.write_parquet(sample)
        scores = io.BytesIO()
        np.save(scores, np.asarray(self.holdout_scores, dtype=np.float64), allow_pickle=False)
        files = {
            PIPELINE: dump_model(self.pipeline),
            REASONS: self.reasons.to_bytes(),
            OUTLIERS: self.outliers.to_bytes(),
            DRIFT_REFERENCE: self.drift_reference.to_bytes(),
            REFERENCE_SAMPLE: sample.getvalue(),
            HOLDOUT_SCORES: scores.getvalue(),
        }
        listed = self.manifest.model_copy(
            update={
                "files": {
                    name: hashlib.sha256(content).hexdigest() for name, content in files.items()
                }
            }
        )
        return {MANIFEST: listed.model_dump_json(indent=2).encode(), **files}

    @staticmethod
    def digest_of(files: Mapping[str, bytes]) -> str:
        """The bundle's digest: one sha256 over every file (manifest included), in the format
        of the model artifacts' digest."""
        return files_digest(files)

    @classmethod
    def from_files(cls, read: Callable[[str], bytes], *, expected_sha256: str) -> ServingBundle:
        """Read and verify a stored bundle; `ModelIntegrityError` names what does not match."""
        manifest_bytes = read(MANIFEST)
        try:
            manifest = BundleManifest.model_validate_json(manifest_bytes)
        except ValueError as exc:
            raise ModelIntegrityError(f"not a serving bundle manifest: {exc}") from None
        files = {MANIFEST: manifest_bytes}
        for name, recorded in sorted(manifest.files.items()):
            content = read(name)
            if hashlib.sha256(content).hexdigest() != recorded:
                raise ModelIntegrityError(
                    f"serving bundle of version {manifest.model_version}: {name} was changed "
                    "after training (its sha256 differs from the manifest's)"
                )
            files[name] = content
        actual = files_digest(files)
        if actual != expected_sha256:
            raise ModelIntegrityError(
                f"serving bundle of version {manifest.model_version}: its sha256 is {actual} "
                f"but {expected_sha256} was recorded at training; it was changed or replaced"
            )
        return cls(
            manifest=manifest,
            pipeline=load_model(files[PIPELINE]),
            reasons=ReasonCodes.from_bytes(files[REASONS]),
            outliers=OutlierModel.from_bytes(files[OUTLIERS]),
            drift_reference=DriftReference.from_bytes(files[DRIFT_REFERENCE]),
            reference_sample=pl.read_parquet(io.BytesIO(files[REFERENCE_SAMPLE])),
            holdout_scores=np.load(io.BytesIO(files[HOLDOUT_SCORES]), allow_pickle=False),
        )
