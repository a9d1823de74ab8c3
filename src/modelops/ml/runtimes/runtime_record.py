"""What is recorded with a version trained in another runtime (kept light: records load
without scikit-learn)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

RUNTIME_ARTIFACT_FOLDER = "runtime"


class RuntimeRecord(BaseModel):
    """Which runtime trained a version, with what, and the digests that pin it."""

    model_config = ConfigDict(frozen=True)

    kind: str
    language: str
    language_version: str
    packages: dict[str, str]
    family: str
    script: str
    script_sha256: str
    environment: str | None = None
    environment_lock_sha256: str | None = None
    model_file: str
    model_sha256: str
    portable: bool
    """Scored online through the portable export (else batch-only)."""
    portable_max_gap: float | None = None
    """Largest |runtime score - portable score| on the holdout at training."""

    @property
    def stored_model_file(self) -> str:
        """Where the model file is kept beside the version in the artifact store."""
        return f"{RUNTIME_ARTIFACT_FOLDER}/{self.model_file}"
