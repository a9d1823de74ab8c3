"""The record written beside each model version (`model.json`): what was trained, from which
data and code, by whom, and the digests that prove its artifacts are the ones registered.

Every step after training (evaluation, fairness, gates, release, card, scoring, reproduction)
reads the model it judges through this record, so it is typed once here. Records written by
earlier versions of the platform load too: fields added since are optional.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, JsonValue

from modelops.governance.audit_records import AuditEvent
from modelops.ml.evaluation.threshold_rule import ResolvedThreshold
from modelops.ml.runtimes.runtime_record import RuntimeRecord
from modelops.names import MODEL, MODEL_RECORD_FILE

if TYPE_CHECKING:
    from modelops.resources.storage import ArtifactStore
    from modelops.spec import UseCaseSpec


class ModelRecord(BaseModel):
    """One trained model version, as recorded when it was registered."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    registered_name: str
    version: str
    run_id: str
    """The MLflow run that trained it."""
    experiment_id: str
    model_uri: str
    training_set_version: str
    holdout_set_version: str | None
    trained_at: datetime
    training_rows: int
    training_positive_rate: float
    estimator: str
    code_version: str
    git_commit: str
    lock_sha256: str
    trained_by: str
    artifact_sha256: str
    """Digest of the registered MLflow artifacts (also in the audit log's training record)."""
    risk_tier: str
    serving_bundle_sha256: str | None = None
    """Digest of everything scoring needs (`ml.serving_bundle`); None before bundles existed."""
    spec: dict[str, JsonValue] | None = None
    runtime: RuntimeRecord | None = None
    threshold: ResolvedThreshold | None = None
    """The operating threshold resolved on the holdout at training (every door uses it)."""
    """Set when R or a separate Python environment trained the version."""
    """The spec as it was at training, so the version can be retrained from the record."""

    @property
    def data_versions(self) -> dict[str, str]:
        """The datasets the version was trained and evaluated on, for audit records."""
        versions = {
            "training_set": self.training_set_version,
            "holdout_set": self.holdout_set_version,
        }
        return {name: str(value) for name, value in versions.items() if value}

    def operating_threshold(self, spec: UseCaseSpec) -> float:
        """The threshold the version decides at: resolved at training, else the spec's."""
        return self.threshold.threshold if self.threshold else spec.evaluation.operating_threshold

    def threshold_summary(self, spec: UseCaseSpec) -> str:
        """How the threshold was chosen and what it does on the holdout, with any warning."""
        if self.threshold is None:
            return f"fixed {spec.evaluation.operating_threshold:g}"
        t = self.threshold
        bad = "n/a" if t.bad_rate_among_accepted is None else f"{t.bad_rate_among_accepted:.2%}"
        text = (
            f"{t.threshold:.4g} ({t.rule}): accepts {t.approval_rate:.1%} of the holdout, "
            f"bad rate among accepted {bad}"
        )
        return f"{text}. WARNING: {t.warning}" if t.warning else text

    def audit_event(
        self, event: str, *, actor: str, use_case: str, reason: str, details: Mapping[str, object]
    ) -> AuditEvent:
        """An audit event about this version, naming the data and code it was trained from."""
        return AuditEvent(
            event=event,
            actor=actor,
            use_case=use_case,
            reason=reason,
            model_version=self.version,
            data_versions=self.data_versions,
            code_version=self.code_version,
            details=details,
        )

    def recorded_spec(self) -> UseCaseSpec | None:
        """The spec the version was trained with (None for versions recorded before specs were)."""
        from modelops.spec import UseCaseSpec

        return None if self.spec is None else UseCaseSpec.model_validate(self.spec)

    def to_bytes(self) -> bytes:
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True).encode()


def write_model_record(store: ArtifactStore, use_case: str, record: ModelRecord) -> None:
    store.write_bytes(use_case, MODEL, record.version, MODEL_RECORD_FILE, record.to_bytes())


def read_model_record(store: ArtifactStore, use_case: str, version: str) -> ModelRecord:
    content = store.read_bytes(use_case, MODEL, str(version), MODEL_RECORD_FILE)
    return ModelRecord.model_validate_json(content)


def has_model_record(store: ArtifactStore, use_case: str, version: str) -> bool:
    return store.exists(use_case, MODEL, str(version), MODEL_RECORD_FILE)
