"""Reading use-case specs from YAML, with errors that name the file, the field and the reason."""

from __future__ import annotations

import difflib
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from modelops.spec.allowances import Allowances
from modelops.spec.base import (
    EMAIL_PATTERN,
    IMPORT_PATH_PATTERN,
    SAFE_NAME_PATTERN,
    TEAM_PATTERN,
    SpecProblems,
    yaml_reason,
)
from modelops.spec.model import UseCaseSpec

_PATTERN_MEANING = {
    SAFE_NAME_PATTERN: "must be lower snake case (a-z, 0-9, _), start with a letter, "
    "at most 63 characters; map other source headers with source_name",
    EMAIL_PATTERN: "must be an email address",
    TEAM_PATTERN: "must be a team slug: lower-case letters, digits and dashes",
    IMPORT_PATH_PATTERN: "must be an import path such as sklearn.linear_model.LogisticRegression",
}


class SpecError(Exception):
    """A spec that cannot be used; `problems` are (field path, reason) pairs."""

    def __init__(self, path: Path | str, problems: list[tuple[str, str]]) -> None:
        self.path = Path(path)
        self.problems = problems
        lines = [f"{self.path}: invalid use-case spec"]
        lines += [f"  - {field or '(top level)'}: {reason}" for field, reason in problems]
        super().__init__("\n".join(lines))

    @classmethod
    def of_all(cls, directory: Path, errors: list[SpecError]) -> SpecError:
        """One error for several files: each file's problems under its name."""
        if len(errors) == 1:
            return errors[0]
        return cls(
            directory,
            [
                (
                    e.path.name,
                    "\n".join(
                        [
                            f"invalid use-case spec ({e.path})",
                            *(
                                f"      - {field or '(top level)'}: {reason}"
                                for field, reason in e.problems
                            ),
                        ]
                    ),
                )
                for e in errors
            ],
        )


class _StrictLoader(yaml.SafeLoader):
    """A YAML loader that refuses duplicate keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}'", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_spec(path: Path | str, allowances: Allowances | None = None) -> UseCaseSpec:
    """Parse one spec file; raise `SpecError` listing every problem found.

    `allowances` are what the platform lets a spec name (estimators, source folders); the
    settings give them (`Settings.spec_allowances`). Without them the packaged estimator
    policy applies and paths are not restricted.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(path, [("", f"cannot read the file: {exc.strerror or exc}")]) from exc
    except UnicodeDecodeError as exc:
        raise SpecError(path, [("", _not_utf8(exc))]) from None
    try:
        raw = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        raise SpecError(path, [("", f"not valid YAML: {yaml_reason(exc)}")]) from exc
    if not isinstance(raw, dict):
        kind = "empty" if raw is None else type(raw).__name__
        raise SpecError(path, [("", f"expected a mapping of spec sections, got {kind}")])
    try:
        spec = UseCaseSpec.model_validate(raw, context=(allowances or Allowances()).context())
    except ValidationError as exc:
        raise SpecError(path, _problems(exc, raw)) from exc
    if spec.id != path.stem:
        raise SpecError(path, [("id", f"'{spec.id}' must match the file name '{path.stem}'")])
    return spec


def load_specs(directory: Path | str, allowances: Allowances | None = None) -> list[UseCaseSpec]:
    """Every `*.yaml` spec in a directory, sorted by id; all files' problems in one error."""
    return sorted(load_spec_files(directory, allowances).values(), key=lambda s: s.id)


def load_spec_files(
    directory: Path | str, allowances: Allowances | None = None
) -> dict[Path, UseCaseSpec]:
    """Every spec of a directory by its file (for messages about a spec after it loaded);
    all files' problems in one error."""
    directory = Path(directory)
    if not directory.is_dir():
        raise SpecError(directory, [("", "the use-case spec directory does not exist")])
    loaded: dict[Path, UseCaseSpec] = {}
    errors: list[SpecError] = []
    for path in spec_files(directory):
        try:
            loaded[path] = load_spec(path, allowances)
        except SpecError as exc:
            errors.append(exc)
    errors += _clashes(loaded)
    if errors:
        raise SpecError.of_all(directory, errors)
    return loaded


def spec_files(directory: Path) -> list[Path]:
    """The spec files of a directory, in the order they are read."""
    return sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])


def _clashes(loaded: dict[Path, UseCaseSpec]) -> list[SpecError]:
    """Specs that would share a use case's assets or registered model with an earlier one."""
    errors: list[SpecError] = []
    first_id: dict[str, Path] = {}
    first_model: dict[str, Path] = {}
    for path, spec in loaded.items():
        problems: list[tuple[str, str]] = []
        if spec.id in first_id:
            problems.append(
                (
                    "id",
                    f"'{spec.id}' is already the id of {first_id[spec.id].name}; every use "
                    "case needs its own id (keep one of the two files)",
                )
            )
        name = spec.registered_model_name
        if name in first_model and spec.id not in first_id:
            field = "model.registered_name" if spec.model.registered_name else "id"
            problems.append(
                (
                    field,
                    f"registered model '{name}' is already used by {first_model[name].name}; "
                    "two use cases cannot share a registered model",
                )
            )
        first_id.setdefault(spec.id, path)
        first_model.setdefault(name, path)
        if problems:
            errors.append(SpecError(path, problems))
    return errors


def _not_utf8(exc: UnicodeDecodeError) -> str:
    before = exc.object[: exc.start]
    line = before.count(b"\n") + 1
    column = exc.start - (before.rfind(b"\n") + 1) + 1
    byte = exc.object[exc.start : exc.start + 1].hex()
    return (
        f"the file is not UTF-8 text: byte 0x{byte} at line {line}, column {column} cannot be "
        "decoded; save the spec as UTF-8"
    )


def _problems(exc: ValidationError, raw: dict) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for error in exc.errors():
        nested = (error.get("ctx") or {}).get("error")
        if isinstance(nested, SpecProblems):
            prefix = _field_path(error["loc"], raw)
            problems += [(f"{prefix}.{p}" if prefix else p, m) for p, m in nested.problems]
            continue
        problems.append((_field_path(error["loc"], raw), _reason(error)))
    return problems


def _field_path(loc: tuple, raw: Any) -> str:
    """'schema.columns[3] (credit_amount).type': list items are named when they have a name."""
    parts: list[str] = []
    node = raw
    for item in loc:
        if isinstance(item, int):
            named = ""
            if isinstance(node, list) and 0 <= item < len(node):
                node = node[item]
                if isinstance(node, dict) and isinstance(node.get("name"), str):
                    named = f" ({node['name']})"
            else:
                node = None
            parts[-1] = f"{parts[-1]}[{item}]{named}" if parts else f"[{item}]"
        else:
            node = node.get(item) if isinstance(node, dict) else None
            parts.append(str(item))
    return ".".join(parts)


def _reason(error: dict) -> str:
    kind, loc = error["type"], error["loc"]
    message = error["msg"].removeprefix("Value error, ")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        return f"unknown key; {hint}allowed here: {', '.join(allowed)}"
    if kind == "missing":
        return "required field is missing"
    if kind == "string_pattern_mismatch":
        pattern = (error.get("ctx") or {}).get("pattern", "")
        message = _PATTERN_MEANING.get(pattern, message)
    given = error.get("input")
    if not isinstance(given, dict | list) and given is not None and repr(given) not in message:
        return f"{message} (got {given!r})"
    return message


def _allowed_keys(loc: tuple) -> list[str]:
    """The keys the spec model accepts at a location, for 'unknown key' messages."""
    model: Any = UseCaseSpec
    for item in loc:
        if isinstance(item, int):
            continue
        field = _field_by_key(model, str(item))
        if field is None:
            return []
        model = _model_in(field.annotation)
        if model is None:
            return []
    return sorted((f.alias or name) for name, f in model.model_fields.items())


def _field_by_key(model: type[BaseModel], key: str) -> Any:
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return field
    return None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None
