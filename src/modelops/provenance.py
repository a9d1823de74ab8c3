"""Which code produced an output: the git revision, recorded on every MLflow run, so every
output can be traced and retrained."""

from __future__ import annotations

import os
import subprocess
from functools import cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def code_revision(project_dir: Path = _PACKAGE_DIR) -> str:
    """The git commit of the project, with '-dirty' when the work tree has uncommitted changes.

    Images built without `.git` pass the commit in `MODELOPS_GIT_COMMIT` at build time.
    """
    if os.environ.get("MODELOPS_GIT_COMMIT"):
        return os.environ["MODELOPS_GIT_COMMIT"]
    try:
        commit = _git(project_dir, "rev-parse", "HEAD")
        dirty = _git(project_dir, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def _git(project_dir: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(project_dir), *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    )
    return result.stdout.strip()


LOCK_FILE = "uv.lock"


@cache
def lock_digest(project_dir: Path | None = None) -> str:
    """sha256 of the dependency lock the code ran with (reproducible retrains need the
    same library versions); 'unknown' when no lock is found beside the project."""
    import hashlib

    # The project the code is installed from first (an editable checkout), then the working
    # directory (the image's /app, where the package sits in site-packages).
    folders = [project_dir] if project_dir else [*_PACKAGE_DIR.parents, Path.cwd()]
    for folder in folders:
        lock = folder / LOCK_FILE
        if lock.is_file():
            return hashlib.sha256(lock.read_bytes()).hexdigest()
    return "unknown"
