"""`modelops reproduce` for a version trained in R or a separate Python environment: the
recorded script is run again, through Dagster Pipes, on the recorded training and holdout
sets, and its holdout scores are compared with the ones it gave at training."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from modelops.ml.runtimes.runtime_fit import file_sha256
from modelops.names import MODEL

if TYPE_CHECKING:
    from modelops.governance.model_record import ModelRecord
    from modelops.resources.model_runtimes import ModelRuntimeLauncher
    from modelops.resources.storage import ArtifactStore
    from modelops.spec import UseCaseSpec


class RuntimeReproductionError(RuntimeError):
    """The script could not be run again; the message says why (its own error included)."""


@dataclass(frozen=True)
class RuntimeScores:
    original: np.ndarray
    reproduced: np.ndarray
    notes: tuple[str, ...]


def reproduce_in_runtime(
    record: ModelRecord,
    spec: UseCaseSpec,
    train: pl.DataFrame,
    holdout: pl.DataFrame,
    *,
    store: ArtifactStore,
    runtimes: ModelRuntimeLauncher,
) -> RuntimeScores:
    """The runtime's holdout scores at training, and from running its script again now."""
    from modelops.ml.runtimes.exchange import (
        HOLDOUT_SCORES_FILE,
        read_scores,
        training_extras,
    )

    runtime = record.runtime
    assert runtime is not None  # only for versions trained outside
    stored = f"{runtime.stored_model_file.rsplit('/', 1)[0]}/{HOLDOUT_SCORES_FILE}"
    with runtimes.work_folder() as work:
        (work / "recorded").mkdir()
        (work / "recorded" / HOLDOUT_SCORES_FILE).write_bytes(
            store.read_bytes(spec.id, MODEL, record.version, stored)
        )
        original = read_scores(work / "recorded", HOLDOUT_SCORES_FILE, holdout.height)
        run_dir = work / "run"
        run_dir.mkdir()
        result = runtimes.run_outside_dagster(
            kind=runtime.kind,
            script=runtime.script,
            environment_dir=runtime.environment,
            extras=training_extras(run_dir, train, holdout, spec),
            asset_name=f"{spec.id}_reproduction",
        )
        if not result.succeeded:
            raise RuntimeReproductionError(
                f"{runtime.script} failed when run again: {result.error}"
            )
        reproduced = read_scores(run_dir, HOLDOUT_SCORES_FILE, holdout.height)
    return RuntimeScores(original, reproduced, _notes(record, runtimes))


def _notes(record: ModelRecord, runtimes: ModelRuntimeLauncher) -> tuple[str, ...]:
    """What differs from training in what was run: the script or its environment's lock."""
    runtime = record.runtime
    assert runtime is not None
    notes = [f"reproduced in {runtime.language} through Dagster Pipes ({runtime.script})"]
    script = Path(runtimes.project_dir) / runtime.script
    if not script.is_file() or file_sha256(script) != runtime.script_sha256:
        notes.append(f"{runtime.script} changed since training (its sha256 differs)")
    if runtime.environment and runtime.environment_lock_sha256:
        lock = Path(runtimes.project_dir) / runtime.environment / "uv.lock"
        if not lock.is_file() or file_sha256(lock) != runtime.environment_lock_sha256:
            notes.append(f"{runtime.environment}/uv.lock changed since training")
    return tuple(notes)
