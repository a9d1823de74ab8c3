"""Experiment tracking and the model registry (MLflow), behind one small resource.

`dagster-mlflow` is a legacy op resource that leaves runs RUNNING after an asset run; this
resource opens and closes its own MLflow run per training, and talks to MLflow only through
the tracking URI it is given (sqlite file locally, an HTTP server in production).

Model integrity (`ml.model_integrity`): a model needing an untrusted type is refused at
registration, and the sha256 of each model's artifacts is recorded when it is registered and
checked before every load from the store.
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

from modelops.ml.model_integrity import (
    MLFLOW_META_FILE,
    ModelIntegrityError,
    artifact_digest,
    trusted_types,
)
from modelops.resources import native_flavours
from modelops.resources.tracking_server import check_tracking_server

MODEL_ARTIFACT = "model"
DIGEST_TAG = "modelops.artifact_sha256"
"""Run and model-version tag holding `artifact_digest` of the registered model's artifacts."""
DESCRIPTION_LIMIT = 5000
"""Longest model-version description MLflow's SQL stores accept."""
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
TRAINING_KIND = "custom_model_development"
"""MLflow 3's UI opens an experiment of this kind on its training runs, not its GenAI view."""

_PINNED_FOR_SERVING = ("scikit-learn", "numpy", "pandas", "scipy", "skops")

# The models this process registered, by URI, with their artifact digest: evaluating a model
# right after training it (in the same in-process run) needs no round trip through the store.
_JUST_REGISTERED: dict[str, tuple[Any, str]] = {}


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
    artifact_sha256: str
    """`artifact_digest` of the stored model, also the version's `modelops.artifact_sha256` tag."""


class ModelTracking(dg.ConfigurableResource):
    """MLflow tracking server + registry, addressed by URI."""

    tracking_uri: str
    artifact_root: str | None = None
    """Where new experiments keep artifacts (a local folder, gs://...); None = server default."""
    ui_url: str = "http://127.0.0.1:5000"

    # Connection -------------------------------------------------------------------------

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Before a step uses MLflow: a server that does not answer fails the step within
        seconds, naming it, instead of after MLflow's minutes of retries on its first call."""
        self.check_reachable()

    def _client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def check_reachable(self, timeout_seconds: float = 5.0) -> None:
        """Fail within seconds, naming the server, when it does not answer."""
        check_tracking_server(self.tracking_uri, timeout_seconds)

    def experiment_id(self, use_case: str) -> str:
        """The use case's experiment, created on first use with its artifact location."""
        client = self._client()
        name = f"modelops/{use_case}"
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            if experiment.tags.get(EXPERIMENT_KIND_TAG) != TRAINING_KIND:
                client.set_experiment_tag(
                    experiment.experiment_id, EXPERIMENT_KIND_TAG, TRAINING_KIND
                )
            return experiment.experiment_id
        location = f"{self.artifact_root.rstrip('/')}/{use_case}" if self.artifact_root else None
        try:
            return client.create_experiment(
                name, artifact_location=location, tags={EXPERIMENT_KIND_TAG: TRAINING_KIND}
            )
        except Exception:
            # Another process created it first: use theirs.
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise
            return experiment.experiment_id

    def _download(self, artifact_uri: str, directory: str) -> Path:
        """A private copy of artifacts (also from a local store, which MLflow would otherwise
        hand out in place): what is checked is exactly what is then loaded."""
        import mlflow.artifacts

        return Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=artifact_uri,
                dst_path=directory,
                tracking_uri=self.tracking_uri,
                registry_uri=self.tracking_uri,
            )
        )

    @contextlib.contextmanager
    def active(self) -> Iterator[Any]:
        """The `mlflow` module pointed at this server for the block (then restored)."""
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
        The artifacts' digest is taken from a download of what was stored (the same way a load
        reads them) and set on the run and, atomically with its creation, on the version.
        """
        import skops.io

        trusted = trusted_types(skops.io.dumps(model))
        experiment_id = self.experiment_id(use_case)
        with self.active() as mlflow, warnings.catch_warnings():
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
                # The sklearn flavour, plus LightGBM's / XGBoost's own, and the family tag.
                info = native_flavours.log_model(
                    model,
                    name=MODEL_ARTIFACT,
                    input_example=input_example,
                    pip_requirements=pinned_requirements(),
                    serialization_format="skops",
                    skops_trusted_types=trusted,
                )
                # The logged model's own location, not `models:/m-...`: MLflow adds a
                # registered_model_meta file to downloads of models:/ URIs.
                stored = self._client().get_logged_model(info.model_id).artifact_location
                with tempfile.TemporaryDirectory(prefix="modelops-model-") as tmp:
                    digest = artifact_digest(self._download(stored, tmp))
                mlflow.set_tag(DIGEST_TAG, digest)
                mlflow.log_metrics(dict(metrics))
                version = mlflow.register_model(
                    info.model_uri, registered_name, tags={**tags, DIGEST_TAG: digest}
                )
        registered = RegisteredModel(
            name=registered_name,
            version=str(version.version),
            run_id=run.info.run_id,
            experiment_id=experiment_id,
            model_uri=f"models:/{registered_name}/{version.version}",
            artifact_sha256=digest,
        )
        _JUST_REGISTERED.clear()  # keep one model alive at most
        _JUST_REGISTERED[self._cache_key(registered.model_uri)] = (model, digest)
        return registered

    def _cache_key(self, model_uri: str) -> str:
        return f"{self.tracking_uri} {model_uri}"

    # Registry ---------------------------------------------------------------------------

    def load_model(
        self, model_uri: str, *, expected_sha256: str | None = None, from_store: bool = False
    ) -> Any:
        """The model behind `models:/name/version` or `models:/name@alias`, verified.

        The one this process just registered is handed back unless `from_store`. Otherwise the
        version's artifacts are downloaded once to a private folder, their digest is compared
        with the version's recorded one (and with `expected_sha256`, e.g. from the audit log,
        since whoever can edit the registry can edit its tags), and the model is loaded from
        that same folder. Raises `ModelIntegrityError` on any mismatch or missing digest.
        """
        cached = _JUST_REGISTERED.get(self._cache_key(model_uri))
        if cached is not None and not from_store:
            model, digest = cached
            if expected_sha256 is not None and expected_sha256.lower() != digest:
                raise ModelIntegrityError(
                    f"refusing to load {model_uri}: it was registered with sha256 {digest} "
                    f"but {expected_sha256} was expected"
                )
            return model
        name, version = self._resolve(model_uri)
        label = f"{name} version {version}"
        recorded = self.version_digest(name, version)
        if recorded is None:
            raise ModelIntegrityError(
                f"refusing to load {label}: it has no recorded digest (tag {DIGEST_TAG}); it "
                "was registered before integrity checks or outside the platform, so its "
                "artifacts cannot be verified (retrain it, or re-register it through the "
                "platform)"
            )
        if expected_sha256 is not None and expected_sha256.lower() != recorded.lower():
            raise ModelIntegrityError(
                f"refusing to load {label}: the registry records sha256 {recorded} but "
                f"{expected_sha256} was expected (e.g. from the audit log); the registry's "
                "record was changed or this is not the version that was approved"
            )
        with tempfile.TemporaryDirectory(prefix="modelops-model-") as tmp:
            local = self._download_version(name, version, tmp)
            actual = artifact_digest(local)
            if actual != recorded.lower():
                raise ModelIntegrityError(
                    f"refusing to load {label}: its artifacts' sha256 is {actual} but "
                    f"{recorded} was recorded at registration; the artifact was changed after "
                    "registration (restore it from backup or retrain)"
                )
            import mlflow.sklearn

            return mlflow.sklearn.load_model(str(local))

    def _resolve(self, model_uri: str) -> tuple[str, str]:
        """(name, version) of a registered-model URI; an alias is read once, here, so the
        version checked is the version loaded even if the alias moves meanwhile."""
        unsupported = ModelIntegrityError(
            f"refusing to load {model_uri}: only registered versions (models:/NAME/VERSION or "
            "models:/NAME@ALIAS) have a recorded digest to verify"
        )
        if not model_uri.startswith("models:/"):
            raise unsupported
        path = model_uri.removeprefix("models:/").rstrip("/")
        if "@" in path and "/" not in path:
            name, _, alias = path.rpartition("@")
            resolved = self.version_for_alias(name, alias)
            if resolved is None:
                raise ModelIntegrityError(f"refusing to load {model_uri}: the alias is not set")
            return name, resolved
        name, _, version = path.rpartition("/")
        if not name or not version.isdigit():
            raise unsupported
        return name, version

    def _download_version(self, registered_name: str, version: str, directory: str) -> Path:
        """A private copy of a version's artifacts as stored (less MLflow's download note)."""
        stored = self._client().get_model_version_download_uri(registered_name, version)
        local = self._download(stored, directory)
        (local / MLFLOW_META_FILE).unlink(missing_ok=True)
        return local

    def stored_digest(self, registered_name: str, version: str) -> str:
        """`artifact_digest` of a version's artifacts as the store holds them now, without
        loading them: what a release action compares with the digest recorded at training."""
        with tempfile.TemporaryDirectory(prefix="modelops-model-") as tmp:
            return artifact_digest(self._download_version(registered_name, version, tmp))

    def version_digest(self, registered_name: str, version: str) -> str | None:
        """The artifact sha256 recorded when the version was registered; None if it has none."""
        return self._client().get_model_version(registered_name, version).tags.get(DIGEST_TAG)

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

    def delete_alias(self, registered_name: str, alias: str) -> None:
        self._client().delete_registered_model_alias(registered_name, alias)

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
        """Set a version's description (a summary linking the card); MLflow's SQL stores cap
        it at 5,000 characters, so a longer text is cut with a pointer to the card artifact."""
        if len(description) > DESCRIPTION_LIMIT:
            note = (
                "\n\n_(the sections after this one did not fit the registry; the full card is "
                "linked above and is the run artifact model_card/model_card.md)_"
            )
            cut = description[: DESCRIPTION_LIMIT - len(note)]
            # At a section's start, never in the middle of a table.
            section = cut.rfind("\n## ")
            description = (cut[:section] if section > 0 else cut) + note
        self._client().update_model_version(registered_name, version, description=description)

    def set_version_tag(self, registered_name: str, version: str, key: str, value: str) -> None:
        """Set a version tag. The HTTP client retries a request that timed out under load;
        when the first attempt did land, the retry fails on the existing row, which is fine
        as long as the tag holds the value asked for."""
        from mlflow.exceptions import MlflowException

        client = self._client()
        try:
            client.set_model_version_tag(registered_name, version, key, value)
        except MlflowException:
            if client.get_model_version(registered_name, version).tags.get(key) != value:
                raise

    # Links for people -------------------------------------------------------------------

    def run_url(self, experiment_id: str, run_id: str) -> str:
        return f"{self.ui_url}/#/experiments/{experiment_id}/runs/{run_id}"

    def version_url(self, registered_name: str, version: str) -> str:
        return f"{self.ui_url}/#/models/{registered_name}/versions/{version}"

    def artifact_url(self, experiment_id: str, run_id: str, path: str) -> str:
        """A run's artifact opened in the MLflow UI's artifact view (HTML rendered there)."""
        return f"{self.run_url(experiment_id, run_id)}/artifactPath/{path}"


def _param_value(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) else repr(value)


def pinned_requirements(names: tuple[str, ...] = _PINNED_FOR_SERVING) -> list[str]:
    """Pin serving requirements from what is installed (the lock), instead of letting MLflow
    spend ~30 s inferring them."""
    return [f"{name}=={importlib.metadata.version(name)}" for name in names]
