"""The `dg` commands Dagster's scaffold recommends work on this project as printed: `dg check
defs` loads every definition and `dg list defs` names each use case's assets (dagster-dg-cli
is in the lock; `make ui` starts the UI with `dg dev`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def dg(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("dg", path=str(Path(sys.executable).parent))
    assert executable, "dg is not installed next to this Python: dagster-dg-cli left the lock"
    env = {**os.environ, "DAGSTER_HOME": str(home), "DO_NOT_TRACK": "1", "COLUMNS": "200"}
    return subprocess.run(
        [executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )


def test_dg_check_and_list_defs_work_as_the_scaffold_prints_them(tmp_path: Path):
    checked = dg("check", "defs", home=tmp_path)
    assert checked.returncode == 0, checked.stderr[-2000:]
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr

    listed = dg("list", "defs", home=tmp_path)
    assert listed.returncode == 0, listed.stderr[-2000:]
    for asset in ("german_credit/trained_model", "german_credit/model_card"):
        assert asset in listed.stdout
    assert "german_credit_pipeline" in listed.stdout  # jobs are listed too
