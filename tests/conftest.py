"""Shared fixtures, the server plugins, and the test tiers.

Tiers mirror the code's layers and are markers, set by folder:

- `unit` (tests/unit): spec, ml, governance, resources and simulation code; no Dagster instance;
- `dagster` (tests/dagster): the definitions, layers, single assets and sensors;
- `integration` (tests/integration, and any test marked so elsewhere): whole pipelines and
  real servers (PostgreSQL, the GCS emulator, an MLflow server, deploy/);
- `robustness` (tests/robustness): bad input and faults: every one named, quarantined or
  survived, never a traceback.

`make test-fast` runs `-m "unit or dagster"`; `make test` (and CI) runs everything.
"""

from __future__ import annotations

import pytest
import yaml

from modelops.spec import UseCaseSpec, load_spec
from support import GERMAN_SPEC

pytest_plugins = ["support.postgres", "support.gcs_emulator", "support.mlflow_server"]

TIERS = ("unit", "dagster", "integration", "robustness")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test gets exactly one tier: its own marker (a server-backed case inside a unit
    file), else its folder's."""
    for item in items:
        marked = [t for t in TIERS if item.get_closest_marker(t) is not None]
        if marked:
            continue
        folder = next((t for t in TIERS if t in item.path.parts), None)
        if folder is None:
            raise pytest.UsageError(f"{item.nodeid}: tests live under tests/<tier>/")
        item.add_marker(getattr(pytest.mark, folder))


@pytest.fixture(scope="session")
def german_spec() -> UseCaseSpec:
    return load_spec(GERMAN_SPEC)


@pytest.fixture
def german_spec_dict() -> dict:
    """The German credit spec as plain data, for tests that break it on purpose."""
    return yaml.safe_load(GERMAN_SPEC.read_text())
