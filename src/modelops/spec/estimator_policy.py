"""Which estimator classes a spec may name: the platform team's allow-list.

A spec names its estimator by import path and the platform instantiates it with the spec's
parameters, so an unchecked name would let a spec run any code (`subprocess.Popen` with
`args`). The allow-list lives in one declarative file (`estimator_policy.yaml` beside this
module, or the file named by MODELOPS_ESTIMATOR_POLICY) and is checked on the name alone:
nothing is imported to decide, so the code location stays light and a refused name never
runs. Training checks again before it imports anything (`ml/training.py`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from modelops.spec.base import IMPORT_PATH_PATTERN
from modelops.spec.policy_files import read_policy

DEFAULT_ESTIMATOR_POLICY_FILE = Path(__file__).with_name("estimator_policy.yaml")
MODULE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"


class EstimatorPolicyError(ValueError):
    """The estimator policy file cannot be used; the message names the file and the field."""


class EstimatorPolicy(BaseModel):
    """Allowed classifier classes by import path, and modules whose classifiers are all
    allowed. Whether a class really is a probabilistic classifier is checked when it is
    imported (`modelops validate`, training), never here."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    classes: list[Annotated[str, Field(pattern=IMPORT_PATH_PATTERN)]] = Field(default_factory=list)
    modules: list[Annotated[str, Field(pattern=MODULE_PATTERN)]] = Field(default_factory=list)
    _source: str = PrivateAttr(default="the platform's estimator policy")
    """Where the policy came from, for messages."""

    def allows(self, import_path: str) -> bool:
        if import_path in self.classes:
            return True
        module, _, name = import_path.rpartition(".")
        return module in self.modules and not name.startswith("_")

    def refusal(self, import_path: str) -> str | None:
        """Why a spec may not name `import_path` (None when it may)."""
        if self.allows(import_path):
            return None
        allowed = ", ".join(self.classes) or "no class"
        if self.modules:
            allowed += f"; and any classifier in {', '.join(self.modules)}"
        return (
            f"'{import_path}' is not an allowed estimator; {self._source} allows {allowed} "
            "(the platform team can extend it, a spec cannot)"
        )


def load_estimator_policy(path: Path | str | None = None) -> EstimatorPolicy:
    """The policy in `path` (default: the packaged `estimator_policy.yaml`), validated."""
    return _load(Path(path) if path else DEFAULT_ESTIMATOR_POLICY_FILE)


@lru_cache(maxsize=8)
def _load(path: Path) -> EstimatorPolicy:
    policy = read_policy(path, EstimatorPolicy, "estimator policy", EstimatorPolicyError)
    name = "estimator_policy.yaml" if path == DEFAULT_ESTIMATOR_POLICY_FILE else str(path)
    policy._source = f"the estimator policy ({name})"
    return policy
