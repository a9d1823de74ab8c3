"""Declared notebooks run as assets: parameters injected, the executed notebook and its HTML
stored per run and opened over http from the asset page, attached to the model version in
MLflow when the notebook is about a model; a failing cell fails the asset with its error."""

from __future__ import annotations

import json
import uuid

import dagster as dg
import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_notebook

from modelops.definitions import build_definitions
from modelops.instance import local_instance
from modelops.resources.storage import LocalArtifactStore
from modelops.settings import Settings
from support import PROJECT
from support.monthly_platform import QUIET, UC, trained_platform
from support.platform_cli import copy_platform, platform_env

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return trained_platform(tmp_path_factory.mktemp("notebooks"))


def run_notebooks(settings: Settings) -> dg.ExecuteInProcessResult:
    """As the code server runs them: its settings in the environment the kernel inherits."""
    job = build_definitions(settings).resolve_job_def(f"{UC}_notebooks")
    with pytest.MonkeyPatch.context() as patch:
        for variable, value in platform_env(settings).items():
            patch.setenv(variable, value)
        return job.execute_in_process(
            instance=local_instance(settings.dagster_home), run_config=QUIET, raise_on_error=False
        )


def test_declared_notebooks_run_with_their_parameters_and_open_over_http(platform: Settings):
    result = run_notebooks(platform)

    assert result.success
    store = LocalArtifactStore(root=str(platform.data_dir))
    data_version = store.require_current(UC, "validated_dataset")
    for name, expected in (
        ("data_exploration", f"{UC}: 1000 rows"),
        ("model_validation", f"{UC} version 1: holdout AUC 0."),
    ):
        (materialization,) = [
            m
            for m in result.get_asset_materialization_events()
            if m.asset_key.path[-1] == f"notebook_{name}"
        ]
        metadata = materialization.materialization.metadata
        assert metadata["html"].value.startswith("http://127.0.0.1:")
        version = store.require_current(UC, f"notebook_{name}")
        executed = json.loads(store.read_bytes(UC, f"notebook_{name}", version, f"{name}.ipynb"))
        outputs = "".join(
            "".join(o.get("text", "")) for c in executed["cells"] for o in c.get("outputs", [])
        )
        assert expected in outputs, outputs[:500]
        injected = [
            c for c in executed["cells"] if "injected-parameters" in c["metadata"].get("tags", [])
        ]
        assert injected and data_version in "".join(injected[0]["source"])
        html = store.read_bytes(UC, f"notebook_{name}", version, f"{name}.html")
        assert b"<html" in html and expected.encode() in html

    from mlflow import MlflowClient

    client = MlflowClient(platform.mlflow_tracking_uri, registry_uri=platform.mlflow_tracking_uri)
    run_id = client.get_model_version(UC, "1").run_id
    attached = {a.path for a in client.list_artifacts(run_id, "notebooks/model_validation")}
    assert "notebooks/model_validation/model_validation.html" in attached


def test_a_failing_cell_fails_the_asset_with_its_error(platform: Settings, tmp_path):
    copied = copy_platform(platform, tmp_path)
    name = f"failing_{uuid.uuid4().hex[:8]}"
    path = PROJECT / "notebooks" / f"_{name}.ipynb"
    notebook = new_notebook(
        cells=[new_code_cell("x = 1"), new_code_cell("raise ValueError('the bad rate is off')")]
    )
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, path)
    try:
        spec_file = copied.specs_dir / f"{UC}.yaml"
        spec = yaml.safe_load(spec_file.read_text())
        spec["notebooks"] = [{"name": name, "path": f"notebooks/_{name}.ipynb"}]
        spec_file.write_text(yaml.safe_dump(spec))
        result = run_notebooks(copied)
    finally:
        path.unlink()

    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    failed = failure.event_specific_data.user_failure_data  # type: ignore[union-attr]
    assert failed is not None, failure.event_specific_data.error.to_string()  # type: ignore[union-attr]
    # As the HTML shows it: papermill put the injected parameters first, so In [3].
    assert "cell In [3]: ValueError: the bad rate is off" in failed.description
    assert failed.metadata["html"].value.startswith("http://")  # the failed run, to read
    store = LocalArtifactStore(root=str(copied.data_dir))
    version = store.require_current(UC, f"notebook_{name}")  # the failed run is kept to read
    assert b"the bad rate is off" in store.read_bytes(
        UC, f"notebook_{name}", version, f"{name}.html"
    )
