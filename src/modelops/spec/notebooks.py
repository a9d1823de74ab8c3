"""The spec's `notebooks:` section: Jupyter notebooks that run as the use case's assets.

    notebooks:
      - name: data_exploration
        path: notebooks/data_exploration.ipynb
        about: data          # the validated dataset (data) or the trained model version (model)
        timeout_seconds: 600

A notebook is code, so a spec may only name one inside the project's `notebooks/` folder,
which the platform team reviews like `model_code/`; it is checked when the spec loads.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from modelops.spec.allowances import allowances_in
from modelops.spec.base import SafeName, SpecModel

NOTEBOOK_FOLDER = "notebooks"


class Notebook(SpecModel):
    name: SafeName
    path: str
    about: Literal["data", "model"] = "data"
    """What the notebook analyses: the validated dataset, or the model version just trained
    (its executed copy is then attached to that version in MLflow)."""
    timeout_seconds: Annotated[int, Field(ge=10, le=6 * 3600)] = 600
    """Per cell; a cell running longer fails the asset."""

    @field_validator("path")
    @classmethod
    def _inside_the_notebooks_folder(cls, path: str, info: ValidationInfo) -> str:
        pure = PurePosixPath(path)
        if pure.is_absolute() or ".." in pure.parts or pure.suffix != ".ipynb":
            raise ValueError(
                f"'{path}' must be a relative .ipynb path inside {NOTEBOOK_FOLDER}/ without '..'"
            )
        if len(pure.parts) < 2 or pure.parts[0] != NOTEBOOK_FOLDER:
            raise ValueError(
                f"'{path}' is not inside {NOTEBOOK_FOLDER}/: notebooks are code, and only the "
                "project's reviewed notebooks folder may be run"
            )
        base = allowances_in(info).project_dir
        if base is not None and not (base / path).is_file():
            raise ValueError(f"'{path}' does not exist in the project ({base})")
        return path


def notebook_problems(notebooks: tuple[Notebook, ...]) -> list[tuple[str, str]]:
    names = [n.name for n in notebooks]
    twice = sorted({n for n in names if names.count(n) > 1})
    return [("notebooks", f"notebook name(s) used twice: {', '.join(twice)}")] if twice else []
