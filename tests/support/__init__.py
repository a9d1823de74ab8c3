"""What every test tier shares: the project's paths, its real spec and data, isolated homes.

Fixtures live in `tests/conftest.py`; the servers tests start (PostgreSQL databases, the GCS
emulator, an MLflow server) are pytest plugins in this package, registered there too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from modelops.settings import Settings

TESTS = Path(__file__).resolve().parents[1]
PROJECT = TESTS.parent
GERMAN_SPEC = PROJECT / "assets" / "german_credit.yaml"
GERMAN_DATA = PROJECT / "data" / "german_credit.csv"


def make_settings(root: Path, specs_dir: Path) -> Settings:
    """Settings for an isolated platform under `root`: own datasets, MLflow store, instance.
    The platform team of this platform lets specs read source files from under `root` (a
    test writes its altered copies of the data there)."""
    root.mkdir(parents=True, exist_ok=True)
    return Settings.from_env(
        {
            "MODELOPS_PROJECT_DIR": str(PROJECT),
            "MODELOPS_SPECS_DIR": str(specs_dir),
            "MODELOPS_HOME": str(root / "home"),
            "MODELOPS_SOURCE_ROOTS": str(root),
        }
    )


def write_spec(specs_dir: Path, spec: dict) -> Path:
    specs_dir.mkdir(parents=True, exist_ok=True)
    path = specs_dir / f"{spec['id']}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def copy_german_spec(specs_dir: Path) -> Path:
    specs_dir.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(GERMAN_SPEC, specs_dir / GERMAN_SPEC.name))
