"""The spec's `notebooks:` as assets: `<use case>/notebook_<name>`, after the validated dataset
(about: data) or the trained model (about: model).

Each run injects the use case, the dataset version and (about: model) the model version into
the notebook's `parameters` cell, runs it (`resources.notebook_runner`), stores the executed
notebook and its HTML as a new version (the HTML opens from the asset page over http), and
attaches both to the model version's MLflow run when the notebook is about a model. A failing
cell fails the asset with the cell's error; the executed copy showing it is stored first.

(No `from __future__ import annotations`: Dagster reads the annotations of asset functions.)
"""

from pathlib import Path

import dagster as dg

from modelops import names
from modelops.defs.outputs import stored_report
from modelops.defs.run_context import this_run_model
from modelops.defs.versioning import code_version
from modelops.resources.model_runtimes import ModelRuntimeLauncher
from modelops.resources.notebook_runner import run_notebook
from modelops.resources.storage import ArtifactStore
from modelops.resources.tracking import ModelTracking
from modelops.spec import UseCaseSpec
from modelops.spec.notebooks import Notebook


def notebook_asset_name(notebook: Notebook) -> str:
    return f"notebook_{notebook.name}"


def notebook_assets(spec: UseCaseSpec) -> list[dg.AssetsDefinition]:
    return [_notebook_asset(spec, notebook) for notebook in spec.notebooks]


def _notebook_asset(spec: UseCaseSpec, notebook: Notebook) -> dg.AssetsDefinition:
    uc, about_model = spec.id, notebook.about == "model"
    upstream = names.MODEL if about_model else names.VALIDATED
    asset = notebook_asset_name(notebook)

    @dg.asset(
        key=dg.AssetKey([uc, asset]),
        deps=[dg.AssetKey([uc, upstream])],
        group_name=uc,
        owners=spec.owners.dagster_owners,
        kinds={"jupyter"},
        code_version=code_version(("modelops.resources.notebook_runner",), notebook),
        description=f"The notebook {notebook.path}, run on the current "
        + ("model version" if about_model else "validated dataset")
        + " with its parameters injected; executed copy and HTML kept per run.",
    )
    def notebook_run(
        context: dg.AssetExecutionContext,
        store: ArtifactStore,
        tracking: ModelTracking,
        runtimes: ModelRuntimeLauncher,
    ) -> dg.MaterializeResult:
        record = this_run_model(context, store, uc) if about_model else None
        parameters = {
            "use_case": uc,
            "dataset_version": store.require_current(uc, names.VALIDATED),
            "model_version": record.version if record else None,
        }
        project = Path(runtimes.project_dir)
        run = run_notebook(
            project / notebook.path,
            parameters,
            cwd=project,
            timeout_seconds=notebook.timeout_seconds,
        )
        files = {f"{notebook.name}.ipynb": run.executed, f"{notebook.name}.html": run.html}
        stored = stored_report(
            store,
            dg.AssetKey([uc, asset]),
            asset,
            files,
            {**{k: v or "none" for k, v in parameters.items()}, "failed_cell": run.error or "none"},
            links={"html": f"{notebook.name}.html", "notebook": f"{notebook.name}.ipynb"},
        )
        if record is not None:
            tracking.log_files(record.run_id, files, folder=f"notebooks/{notebook.name}")
        if run.error:
            raise dg.Failure(
                description=f"{notebook.path}: {run.error}",
                metadata=stored.metadata,
            )
        return stored

    return notebook_run
