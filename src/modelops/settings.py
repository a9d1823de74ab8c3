"""Platform settings: one environment switch and its parameters, read from the environment.

Read once when the code location loads and validated there, so a wrong value stops the load
with a message naming the variable, instead of failing in the middle of a run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

Environment = Literal["local", "gcp", "k8s"]

_PROJECT_MARKERS = ("pyproject.toml", "workspace.yaml")


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the environment variable."""


class Settings(BaseModel):
    """Everything that differs between a laptop, GCP and Kubernetes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    environment: Environment = "local"
    project_dir: Path
    specs_dir: Path
    home_dir: Path
    """Local state of the embedded default: datasets, MLflow store, Dagster instance."""
    mlflow_tracking_uri: str
    mlflow_artifact_root: str | None
    mlflow_ui_url: str = "http://127.0.0.1:5000"

    @property
    def data_dir(self) -> Path:
        return self.home_dir / "data"

    @property
    def dagster_home(self) -> Path:
        return self.home_dir / "dagster"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from `MODELOPS_*` variables; defaults give the embedded `local` setup."""
        env = os.environ if env is None else env
        project = Path(env.get("MODELOPS_PROJECT_DIR") or _find_project_dir()).resolve()
        home = (project / (env.get("MODELOPS_HOME") or ".modelops")).resolve()
        values = {
            "environment": env.get("MODELOPS_ENV") or "local",
            "project_dir": project,
            "specs_dir": (project / (env.get("MODELOPS_SPECS_DIR") or "assets")).resolve(),
            "home_dir": home,
            "mlflow_tracking_uri": env.get("MODELOPS_MLFLOW_TRACKING_URI")
            or f"sqlite:///{home / 'mlflow.db'}",
            "mlflow_artifact_root": env.get("MODELOPS_MLFLOW_ARTIFACT_ROOT")
            or (home / "mlartifacts").as_uri(),
            "mlflow_ui_url": env.get("MODELOPS_MLFLOW_UI_URL") or "http://127.0.0.1:5000",
        }
        try:
            settings = cls.model_validate(values)
        except ValidationError as exc:
            raise SettingsError(_explain(exc)) from exc
        if settings.environment != "local":
            raise SettingsError(
                f"MODELOPS_ENV={settings.environment!r}: only 'local' is available in this "
                "release; the gcp and k8s environments are being built (see docs/architecture.md)"
            )
        if not settings.specs_dir.is_dir():
            raise SettingsError(
                f"MODELOPS_SPECS_DIR: {settings.specs_dir} is not a directory of use-case specs"
            )
        return settings


_VARIABLES = {
    "environment": ("MODELOPS_ENV", "one of local, gcp, k8s"),
    "mlflow_tracking_uri": ("MODELOPS_MLFLOW_TRACKING_URI", "an MLflow tracking URI"),
}


def _explain(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        variable, expected = _VARIABLES.get(field, (f"MODELOPS_{field.upper()}", "a valid value"))
        lines.append(f"{variable}={error.get('input')!r} is invalid: expected {expected}")
    return "; ".join(lines)


def _find_project_dir() -> Path:
    """The folder holding pyproject.toml: from the current directory up, else from this file."""
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for folder in (start, *start.parents):
            if all((folder / marker).is_file() for marker in _PROJECT_MARKERS):
                return folder
    return Path.cwd()
