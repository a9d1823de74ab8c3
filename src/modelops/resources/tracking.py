"""Experiment tracking and the model registry (MLflow), behind one small resource.

`dagster-mlflow` is a legacy op resource that leaves runs RUNNING after an asset run; this
resource opens and closes its own MLflow run per training, and talks to MLflow only through
the tracking URI it is given (sqlite file locally, an HTTP server in production).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

MODEL_ARTIFACT = "model"

# Types a registered model may ask skops to trust when it is loaded. The project owns this
# list: a model that needs anything else is refused at registration, not trusted blindly.
TRUSTED_MODEL_TYPES = frozenset(
    {
        "numpy.dtype",
        "functools.partial",
        "sklearn.utils.validation.check_array",
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    }
)

_PINNED_FOR_SERVING = ("scikit-learn", "numpy", "pandas", "scipy", "skops")

# The models this process registered, by URI: evaluating a model right after training it
# (in the same in-process run) needs no round trip through the artifact store.
_JUST_REGISTERED: dict[str, Any] = {}


@dataclass(frozen=True)
class DatasetRef:
    """A dataset as MLflow's lineage records it: the table, where it lives, its version."""

    name: str
    source: str
    digest: str
    context: str  # "training" or "evaluation"


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    version: str
    run_id: str
    experiment_id: str
    model_uri: str


class UntrustedModelError(RuntimeError):
    """A fitted model would need types outside the project's trusted list to load."""


class ModelTracking(dg.ConfigurableResource):
    """MLflow tracking server + registry, addressed by URI."""

    tracking_uri: str
    artifact_root: str | None = None
    """Where new experiments keep artifacts (a local folder, gs://...); None = server default."""
    ui_url: str = "http://127.0.0.1:5000"

    # Connection -------------------------------------------------------------------------

    def _client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def experiment_id(self, use_case: str) -> str:
        """The use case's experiment, created on first use with its artifact location."""
        client = self._client()
        name = f"modelops/{use_case}"
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        location = f"{self.artifact_root.rstrip('/')}/{use_case}" if self.artifact_root else None
        try:
            return client.create_experiment(name, artifact_location=location)
        except Exception:
            # Another process created it first: use theirs.
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise
            return experiment.experiment_id

    @contextlib.contextmanager
    def _active(self) -> Iterator[Any]:
        import mlflow

        previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        try:
            yield mlflow
        finally:
            mlflow.set_tracking_uri(previous[0])
            mlflow.set_registry_uri(previous[1])

    # Training ---------------------------------------------------------------------------

    def record_training(
        self,
        *,
        use_case: str,
        registered_name: str,
        model: Any,
        input_example: Any,
        params: Mapping[str, Any],
        metrics: Mapping[str, float],
        tags: Mapping[str, str],
        datasets: list[tuple[DatasetRef, Any]],
        run_name: str,
    ) -> RegisteredModel:
        """One MLflow run: params, metrics, tags, dataset lineage, the model; then register it.

        `datasets` pairs a `DatasetRef` with its polars frame (a small sample is enough: the
        digest given is the full table's fingerprint). If anything fails the run is marked
        FAILED and no version is registered, so the registry only holds complete versions.
        """
        trusted = self._trusted_types(model)
        experiment_id = self.experiment_id(use_case)
        with self._active() as mlflow, warnings.catch_warnings():
            # MLflow hints that do not apply: a file URI "could be several source kinds", and
            # the integer row_id/label columns of the lineage sample "cannot hold NaN".
            warnings.filterwarnings("ignore", message="The specified dataset source")
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
            import mlflow.data
            import mlflow.sklearn

            with mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as run:
                mlflow.log_params({k: _param_value(v) for k, v in params.items()})
                mlflow.set_tags(dict(tags))
                for ref, frame in datasets:
                    # MLflow's schema has no categorical type: give it the categories as text.
                    sample = frame.with_columns(pl.col(pl.Categorical, pl.Enum).cast(pl.String))
                    dataset = mlflow.data.from_polars(
                        sample, source=ref.source, name=ref.name, digest=ref.digest
                    )
                    mlflow.log_input(dataset, context=ref.context)
                info = mlflow.sklearn.log_model(
                    model,
                    name=MODEL_ARTIFACT,
                    input_example=input_example,
                    pip_requirements=_pinned_requirements(),
                    serialization_format="skops",
                    skops_trusted_types=trusted,
                )
                mlflow.log_metrics(dict(metrics))
                version = mlflow.register_model(info.model_uri, registered_name, tags=dict(tags))
        registered = RegisteredModel(
            name=registered_name,
            version=str(version.version),
            run_id=run.info.run_id,
            experiment_id=experiment_id,
            model_uri=f"models:/{registered_name}/{version.version}",
        )
        _JUST_REGISTERED.clear()  # keep one model alive at most
        _JUST_REGISTERED[self._cache_key(registered.model_uri)] = model
        return registered

    def _cache_key(self, model_uri: str) -> str:
        return f"{self.tracking_uri} {model_uri}"

    @staticmethod
    def _trusted_types(model: Any) -> list[str]:
        import skops.io

        needed = set(skops.io.get_untrusted_types(data=skops.io.dumps(model)))
        refused = sorted(needed - TRUSTED_MODEL_TYPES)
        if refused:
            raise UntrustedModelError(
                f"the fitted model needs types outside the project's trusted list: {refused}. "
                "Add them to modelops.resources.tracking.TRUSTED_MODEL_TYPES after review."
            )
        return sorted(needed)

    # Registry ---------------------------------------------------------------------------

    def load_model(self, model_uri: str, *, from_store: bool = False) -> Any:
        """The model behind a URI; the one this process just registered unless `from_store`."""
        just_registered = _JUST_REGISTERED.get(self._cache_key(model_uri))
        if just_registered is not None and not from_store:
            return just_registered
        with self._active() as mlflow:
            import mlflow.sklearn

            return mlflow.sklearn.load_model(model_uri)

    def version_for_alias(self, registered_name: str, alias: str) -> str | None:
        """The version an alias (e.g. `champion`) points to, or None when it is not set."""
        from mlflow.exceptions import MlflowException

        try:
            return str(self._client().get_model_version_by_alias(registered_name, alias).version)
        except MlflowException as exc:
            # "No such model/alias" means no champion; an unreachable server must not.
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise

    def set_alias(self, registered_name: str, alias: str, version: str) -> None:
        self._client().set_registered_model_alias(registered_name, alias, version)

    def run_id_of(self, registered_name: str, version: str) -> str:
        return self._client().get_model_version(registered_name, version).run_id

    def run_metric(self, registered_name: str, version: str, metric: str) -> float | None:
        """A metric of the run that produced a version (e.g. its holdout AUC at release)."""
        client = self._client()
        run = client.get_run(client.get_model_version(registered_name, version).run_id)
        return run.data.metrics.get(metric)

    def log_files(self, run_id: str, files: Mapping[str, bytes], folder: str) -> None:
        """Attach files (reports, plots, cards) to a finished run as artifacts under `folder`."""
        client = self._client()
        with tempfile.TemporaryDirectory() as tmp:
            for name, content in files.items():
                Path(tmp, name).write_bytes(content)
            client.log_artifacts(run_id, tmp, artifact_path=folder)

    def log_metrics(self, run_id: str, metrics: Mapping[str, float]) -> None:
        client = self._client()
        for key, value in metrics.items():
            client.log_metric(run_id, key, value)

    def describe_version(self, registered_name: str, version: str, description: str) -> None:
        self._client().update_model_version(registered_name, version, description=description)

    def set_version_tag(self, registered_name: str, version: str, key: str, value: str) -> None:
        self._client().set_model_version_tag(registered_name, version, key, value)

    # Links for people -------------------------------------------------------------------

    def run_url(self, experiment_id: str, run_id: str) -> str:
        return f"{self.ui_url}/#/experiments/{experiment_id}/runs/{run_id}"

    def version_url(self, registered_name: str, version: str) -> str:
        return f"{self.ui_url}/#/models/{registered_name}/versions/{version}"


def _param_value(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) else repr(value)


def _pinned_requirements() -> list[str]:
    """Pin serving requirements from what is installed (the lock), instead of letting MLflow
    spend ~30 s inferring them."""
    return [f"{name}=={importlib.metadata.version(name)}" for name in _PINNED_FOR_SERVING]
