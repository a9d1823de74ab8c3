"""Reading the platform's declarative policy files (risk tiers, estimators) from YAML.

Policies are owned by the platform's teams, not by specs; a policy that cannot be read stops
the platform with a message naming the file and the field, instead of weakening a check.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Policy = TypeVar("Policy", bound=BaseModel)


def read_policy(path: Path, model: type[Policy], what: str, error: type[Exception]) -> Policy:
    """The policy in `path` validated as `model`; `error` (naming the file) if it can't be."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"{path}: cannot read the {what}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise error(f"{path}: the {what} is not UTF-8 text ({exc.reason})") from exc
    except yaml.YAMLError as exc:
        raise error(f"{path}: the {what} is not valid YAML: {exc}") from exc
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        lines = [
            f"  - {'.'.join(map(str, e['loc'])) or '(top level)'}: "
            + e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        ]
        raise error(f"{path}: invalid {what}\n" + "\n".join(lines)) from exc
