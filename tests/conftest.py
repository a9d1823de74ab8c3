"""Shared fixtures: the project's real spec and data, and isolated platform homes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from modelops.settings import Settings
from modelops.spec import UseCaseSpec, load_spec

PROJECT = Path(__file__).resolve().parents[1]
GERMAN_SPEC = PROJECT / "assets" / "german_credit.yaml"
GERMAN_DATA = PROJECT / "data" / "german_credit.csv"


@pytest.fixture(scope="session")
def german_spec() -> UseCaseSpec:
    return load_spec(GERMAN_SPEC)


@pytest.fixture
def german_spec_dict() -> dict:
    """The German credit spec as plain data, for tests that break it on purpose."""
    return yaml.safe_load(GERMAN_SPEC.read_text())


def make_settings(root: Path, specs_dir: Path) -> Settings:
    """Settings for an isolated platform under `root`: own datasets, MLflow store, instance."""
    return Settings.from_env(
        {
            "MODELOPS_PROJECT_DIR": str(PROJECT),
            "MODELOPS_SPECS_DIR": str(specs_dir),
            "MODELOPS_HOME": str(root / "home"),
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
