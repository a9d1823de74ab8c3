"""modelops: release ML models with confidence.

Nothing leaves the bank's network unasked: the telemetry of the libraries underneath
(MLflow reads MLFLOW_DISABLE_TELEMETRY, Evidently DO_NOT_TRACK) is off for every process
that imports the platform, before any of them is imported. MLflow's download progress bar
is off too: every model load downloads (to verify the artifact's sha256), and the bar would
flood run logs.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported lazily: `import modelops` stays cheap
    from modelops.notebook import Workspace

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def workspace(**settings: str) -> Workspace:
    """The platform from a notebook, read-only (docs/notebooks.md). Keyword arguments are
    settings variables for this workspace, e.g. `MODELOPS_HOME="/path"`; the rest comes from
    the environment as for every command."""
    from modelops.notebook import Workspace
    from modelops.settings import Settings

    return Workspace(Settings.from_env({**os.environ, **settings}) if settings else None)
