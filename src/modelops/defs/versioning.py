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
from pathlib import Path

from pydantic import BaseModel


@cache
def _module_source(module: str) -> bytes:
    """The module's source; for a package, every module in it (sorted by path)."""
    found = importlib.util.find_spec(module)
    if found is None or found.origin is None:
        raise ModuleNotFoundError(module)
    if not found.submodule_search_locations:
        return Path(found.origin).read_bytes()
    folder = Path(found.origin).parent
    files = sorted(folder.rglob("*.py"), key=lambda path: path.relative_to(folder).as_posix())
    return b"".join(
        path.relative_to(folder).as_posix().encode() + path.read_bytes() for path in files
    )


def code_version(modules: tuple[str, ...], *spec_parts: BaseModel) -> str:
    """12 hex digits over the modules' source and the JSON of the spec sections given."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(module.encode())
        digest.update(_module_source(module))
    for part in spec_parts:
        data = part.model_dump(mode="json")
        digest.update(json.dumps(data, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:12]
