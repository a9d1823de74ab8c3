"""Reading the platform's declarative policy files (risk tiers, estimators) from YAML.

Policies are owned by the platform's teams, not by specs; a policy that cannot be read stops
the platform with a message naming the file and the field, instead of weakening a check.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from modelops.spec.base import yaml_reason

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
        raise error(f"{path}: the {what} is not valid YAML: {yaml_reason(exc)}") from exc
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        lines = [f"    - {_field(e['loc'])}: {_reason(e)}" for e in exc.errors()]
        raise error(f"{path}: invalid {what}\n" + "\n".join(lines)) from exc


def _field(loc: tuple) -> str:
    """'classes[0]' for pydantic's ('classes', 0)."""
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int) and parts:
            parts[-1] += f"[{item}]"
        else:
            parts.append(str(item))
    return ".".join(parts) or "(top level)"


def _reason(error: dict) -> str:
    given = error.get("input")
    shown = f" (got {given!r})" if isinstance(given, str | int | float) else ""
    if error["type"] == "extra_forbidden":
        return "unknown key"
    if error["type"] == "model_type":
        got = "an empty file" if given is None else type(given).__name__
        return f"expected a mapping of the policy's keys, got {got}"
    return error["msg"].removeprefix("Value error, ") + shown
