"""Code versions of assets: a hash of the logic that computes them and of the spec they follow.

Dagster marks an asset "Unsynced" when its code version changes, so a new model parameter in
the spec or an edit of the training module flags the model for retraining. Module files are
read, not imported, so this costs nothing at load time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from functools import cache
from typing import Any

from pydantic import BaseModel


@cache
def _module_source(module: str) -> bytes:
    found = importlib.util.find_spec(module)
    if found is None or found.origin is None:
        raise ModuleNotFoundError(module)
    with open(found.origin, "rb") as handle:
        return handle.read()


def code_version(modules: tuple[str, ...], *spec_parts: BaseModel | Any) -> str:
    """12 hex digits over the modules' source and the JSON of the spec sections given."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(module.encode())
        digest.update(_module_source(module))
    for part in spec_parts:
        data = part.model_dump(mode="json") if isinstance(part, BaseModel) else part
        digest.update(json.dumps(data, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:12]
