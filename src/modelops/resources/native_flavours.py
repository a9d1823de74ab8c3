"""A LightGBM or XGBoost model registered with its framework's own MLflow flavour beside the
scikit-learn one.

The registered artifact stays the scikit-learn pipeline (`sklearn` and `python_function`
flavours, skops, the project's trusted types): that is what the platform loads. For a pipeline
whose last step is a LightGBM or XGBoost classifier, the same model folder also holds the
fitted booster in the framework's native format (LightGBM's text model, XGBoost's UBJSON; no
pickle) and its MLmodel lists the `lightgbm` / `xgboost` flavour, so
`mlflow.lightgbm.load_model("models:/<name>/<v>")` gives the booster (without the pipeline's
preprocessing: it takes the encoded columns). The files are written before the artifact is
uploaded, so the digest recorded at registration covers them.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

from modelops.ml.tree_families import LIGHTGBM, SKLEARN, XGBOOST, model_family

FAMILY_TAG = "modelops.model_family"
"""Run tag: `lightgbm`, `xgboost` or `sklearn`."""

_DISTRIBUTIONS = {LIGHTGBM: ("lightgbm",), XGBOOST: ("xgboost-cpu",)}
"""What serving must install besides scikit-learn for each family (pinned from the lock)."""

LIGHTGBM_FILE = "model.lgb"
XGBOOST_FILE = "model.ubj"


def family_requirements(model: Any) -> list[str]:
    """Pinned pip requirements of the model's framework (none for scikit-learn)."""
    return _pinned(model_family(model))


def estimator_requirements(import_path: str) -> list[str]:
    """`family_requirements` of the estimator a spec names (`lightgbm.LGBMClassifier`), for
    packages that embed the fitted pipeline (the pyfunc scoring package)."""
    return _pinned(import_path.partition(".")[0])


def _pinned(family: str) -> list[str]:
    return [
        f"{name}=={importlib.metadata.version(name)}" for name in _DISTRIBUTIONS.get(family, ())
    ]


class _SklearnWithNative:
    """A flavour module for `mlflow.models.Model.log`: scikit-learn's `save_model`, then the
    native booster and its flavour added to the same folder and MLmodel."""

    def __init__(self, family: str) -> None:
        self.family = family
        self.__name__ = "mlflow.sklearn"

    def save_model(self, sk_model: Any, path: str, mlflow_model: Any, **kwargs: Any) -> None:
        import mlflow.sklearn
        from mlflow.models.model import MLMODEL_FILE_NAME

        mlflow.sklearn.save_model(sk_model, path, mlflow_model=mlflow_model, **kwargs)
        estimator = sk_model[-1]
        folder = Path(path)
        if self.family == LIGHTGBM:
            import lightgbm

            estimator.booster_.save_model(str(folder / LIGHTGBM_FILE))
            mlflow_model.add_flavor(
                LIGHTGBM,
                lgb_version=lightgbm.__version__,
                data=LIGHTGBM_FILE,
                model_class="lightgbm.basic.Booster",
                code=None,
            )
        else:
            import xgboost

            estimator.save_model(str(folder / XGBOOST_FILE))
            mlflow_model.add_flavor(
                XGBOOST,
                xgb_version=xgboost.__version__,
                data=XGBOOST_FILE,
                model_class=f"{type(estimator).__module__}.{type(estimator).__name__}",
                model_format="ubj",
                code=None,
            )
        mlflow_model.save(str(folder / MLMODEL_FILE_NAME))


def log_model(model: Any, **kwargs: Any) -> Any:
    """`mlflow.sklearn.log_model(model, **kwargs)` (inside an active run), with the native
    flavour added for a LightGBM/XGBoost pipeline, its framework pinned in the requirements,
    and the family tagged on the run (`FAMILY_TAG`)."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import Model

    family = model_family(model)
    mlflow.set_tag(FAMILY_TAG, family)
    if family == SKLEARN:
        return mlflow.sklearn.log_model(model, **kwargs)
    kwargs["pip_requirements"] = [*kwargs.get("pip_requirements", []), *family_requirements(model)]
    return Model.log(
        artifact_path=None,
        flavor=_SklearnWithNative(family),
        flavor_name="sklearn",
        sk_model=model,
        **kwargs,
    )
