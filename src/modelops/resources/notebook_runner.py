"""Running a declared notebook: papermill injects the parameters and executes it on the
platform's own Python kernel, nbconvert renders the executed copy as HTML.

Papermill rather than dagstermill: a notebook stays a plain notebook that runs in Jupyter
as it is (parameters in a cell tagged `parameters`, defaults there), with no Dagster context
inside it; the asset around it does the wiring. dagstermill would also pin jupyter_client<8
into the platform's lock.

A failing cell does not lose the run: the executed copy, with the error in its cell, is
returned with the cell's error, so the asset stores it and fails naming the cell.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict

KERNEL = "python3"
"""ipykernel's native kernel: the interpreter running the platform (same packages)."""


class NotebookRun(BaseModel):
    model_config = ConfigDict(frozen=True)

    executed: bytes
    html: bytes
    error: str | None = None
    """The failing cell and its error (None when every cell ran)."""


def run_notebook(
    path: Path,
    parameters: Mapping[str, str | int | float | None],
    *,
    cwd: Path,
    timeout_seconds: int,
) -> NotebookRun:
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    error = None
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / path.name
        try:
            papermill.execute_notebook(
                str(path),
                str(output),
                parameters=dict(parameters),
                kernel_name=KERNEL,
                language="python",
                cwd=str(cwd),
                execution_timeout=timeout_seconds,
                progress_bar=False,
                log_output=False,
                stdout_file=None,
            )
        except papermill.PapermillExecutionError as exc:
            error = f"cell In [{exc.exec_count}]: {exc.ename}: {exc.evalue}"
        if not output.exists():  # papermill could not even start the notebook
            raise RuntimeError(f"{path}: the notebook did not run ({error or 'no output'})")
        executed = output.read_bytes()
    notebook = nbformat.reads(executed.decode("utf-8"), as_version=4)
    html, _ = HTMLExporter(template_name="lab").from_notebook_node(notebook)
    return NotebookRun(executed=executed, html=html.encode("utf-8"), error=error)
