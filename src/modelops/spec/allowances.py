"""What the platform team lets a spec name: estimator classes and the folders or buckets its
files may be read from.

Settings decide them (never a spec) and the loader hands them to validation through
pydantic's validation context, so every spec section checks what it names against the same
allowances. Without a context the packaged estimator policy applies and paths are not
restricted (a spec parsed outside the platform, e.g. in a test).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationInfo

from modelops.spec.estimator_policy import EstimatorPolicy, load_estimator_policy
from modelops.spec.source_roots import SourceRoots

_CONTEXT_KEY = "modelops_allowances"


@dataclass(frozen=True)
class Allowances:
    estimators: EstimatorPolicy = field(default_factory=load_estimator_policy)
    roots: SourceRoots | None = None
    """None: paths are not restricted (the platform always declares roots)."""
    project_dir: Path | None = None
    """Where `model_code/` is; None: model script paths are checked by name only."""

    def context(self) -> dict[str, Any]:
        """The validation context that carries these allowances (`model_validate(context=)`)."""
        return {_CONTEXT_KEY: self}

    def path_refusal(self, path: str, *, written: str | None = None) -> str | None:
        return None if self.roots is None else self.roots.refusal(path, written=written)


def allowances_in(info: ValidationInfo) -> Allowances:
    """The allowances a validation runs under: the context's, else the defaults."""
    found = (info.context or {}).get(_CONTEXT_KEY)
    return found if isinstance(found, Allowances) else Allowances()
