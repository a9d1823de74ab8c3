"""The Dagster instance of the embedded default: SQLite under the project's `.modelops/`.

Created once, before any run or `dagster dev`, because several processes starting together on
an empty SQLite home can leave it with two schema heads (dagster issue #27390).
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

LOCAL_INSTANCE_YAML = """\
# Embedded default instance: SQLite storage in this folder, no telemetry.
telemetry:
  enabled: false
"""


def prepare_dagster_home(home: Path) -> Path:
    """Create the instance folder and its dagster.yaml if missing; point DAGSTER_HOME at it."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(LOCAL_INSTANCE_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def local_instance(home: Path) -> dg.DagsterInstance:
    """The instance runs are recorded in, so `dagster dev` shows them afterwards."""
    prepare_dagster_home(home)
    return dg.DagsterInstance.get()
