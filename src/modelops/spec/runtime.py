"""Where a model trains and is batch-scored: in the platform's own Python (`python`), in a
separate Python environment with its own lock (`python-env`), or in R (`r`).

The two outside runtimes run a *model script* through Dagster Pipes. A script is code, so a
spec may only name one inside the project's `model_code/` folder, which the platform team
reviews like any other code; the folder is checked when the spec loads (on the name, and on
the resolved path when the platform declares its project folder) and again before launch.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Literal

from pydantic import ValidationInfo, model_validator

from modelops.spec.allowances import allowances_in
from modelops.spec.base import SpecModel, SpecProblems

MODEL_CODE_FOLDER = "model_code"
RuntimeKind = Literal["python", "python-env", "r"]
_SCRIPT_SUFFIX = {"python-env": ".py", "r": ".R"}
LANGUAGE = {"python": "Python", "python-env": "Python", "r": "R"}


class ModelRuntime(SpecModel):
    """`kind`, and for the outside runtimes the script (and its environment folder)."""

    kind: RuntimeKind = "python"
    script: str | None = None
    """`model_code/<model>/model.R` or `.py`, relative to the project folder."""
    environment: str | None = None
    """python-env only: the folder holding the environment's `pyproject.toml` and `uv.lock`."""

    @property
    def outside(self) -> bool:
        """Trained through Pipes in another process (not the platform's Python)."""
        return self.kind != "python"

    @property
    def language(self) -> str:
        return LANGUAGE[self.kind]

    @model_validator(mode="after")
    def _script_fits_kind(self, info: ValidationInfo) -> ModelRuntime:
        problems: list[tuple[str, str]] = []
        if self.kind == "python":
            for name in ("script", "environment"):
                if getattr(self, name) is not None:
                    problems.append(
                        (
                            name,
                            f"the python runtime trains the estimator in-process; {name} is "
                            "for python-env and r",
                        )
                    )
            if problems:
                raise SpecProblems(problems)
            return self
        base = allowances_in(info).project_dir
        if self.script is None:
            problems.append(("script", f"the {self.kind} runtime needs the script it runs"))
        else:
            suffix = _SCRIPT_SUFFIX[self.kind]
            if not self.script.endswith(suffix):
                problems.append(("script", f"a {self.kind} script ends in '{suffix}'"))
            problems.extend(("script", p) for p in _inside_model_code(self.script, base, "file"))
        if self.kind == "r" and self.environment is not None:
            problems.append(("environment", "R scripts run with Debian's R; no environment"))
        if self.kind == "python-env":
            if self.environment is None:
                problems.append(
                    ("environment", "python-env needs the folder of its pyproject.toml and uv.lock")
                )
            else:
                found = _inside_model_code(self.environment, base, "folder")
                problems.extend(("environment", p) for p in found)
                if not found and base is not None:
                    for lock in ("pyproject.toml", "uv.lock"):
                        if not (base / self.environment / lock).is_file():
                            problems.append(
                                (
                                    "environment",
                                    f"'{self.environment}' has no {lock}: the "
                                    "environment must be locked (uv lock --project <folder>)",
                                )
                            )
        if problems:
            raise SpecProblems(problems)
        return self


def _inside_model_code(path: str, base: Path | None, what: str) -> list[str]:
    """Why `path` is not a {file,folder} inside `model_code/` (empty when it is)."""
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or "\0" in path or "\\" in path:
        return [f"'{path}' must be a relative path inside {MODEL_CODE_FOLDER}/ without '..'"]
    if not pure.parts or pure.parts[0] != MODEL_CODE_FOLDER or len(pure.parts) < 2:
        return [
            f"'{path}' is not inside {MODEL_CODE_FOLDER}/: model scripts are code and only "
            f"run from the reviewed {MODEL_CODE_FOLDER}/ folder"
        ]
    if base is None:
        return []
    root = (base / MODEL_CODE_FOLDER).resolve()
    real = (base / path).resolve()
    if not real.is_relative_to(root):
        return [f"'{path}' resolves outside {MODEL_CODE_FOLDER}/ (a symbolic link?)"]
    exists = real.is_file() if what == "file" else real.is_dir()
    return [] if exists else [f"{what} '{path}' does not exist"]
