"""Model integrity, a bank requirement: a stored model loads only types the project trusts, and
its files are shown to be the ones registered before it is loaded.

Models are stored with skops, which refuses to build any type not named on load. The trust
list travels with MLflow's artifact (in its MLmodel file), so whoever can change the model can
change the list: the project's own list (`TRUSTED_MODEL_TYPES`) is checked at registration and
at every load from bytes, and the sha256 manifest of the files (`artifact_digest`,
`files_digest`) is the guard that does not travel with the artifact.

skops (and through it scikit-learn) is imported inside the functions that need it.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

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
        # LightGBM and XGBoost classifiers (the `frameworks` extra): the scikit-learn wrapper
        # and its booster, rebuilt from the framework's own text/bytes model, not a pickle.
        "lightgbm.sklearn.LGBMClassifier",
        "lightgbm.basic.Booster",
        "collections.OrderedDict",  # LightGBM's booster state keeps its best scores in one
        "xgboost.sklearn.XGBClassifier",
        "xgboost.core.Booster",
        # The WoE scorecard transformer (preprocessing: woe): plain numbers, no optbinning.
        "modelops.ml.scorecard.woe_binning.WoEBinning",
    }
)

MLFLOW_META_FILE = "registered_model_meta"
"""Name/version note MLflow writes into a model folder it downloads through a `models:/` URI:
into the store itself when the store is a local folder. Not part of the model."""


class UntrustedModelError(RuntimeError):
    """A fitted model would need types outside the project's trusted list to load."""


class ModelIntegrityError(RuntimeError):
    """A model's stored artifacts cannot be shown to be the ones registered: it is not loaded."""


def trusted_types(data: bytes, *, what: str = "the fitted model") -> list[str]:
    """The types skops must be told to trust to load `data` (a skops dump), sorted; raises
    `UntrustedModelError` if any is outside `TRUSTED_MODEL_TYPES`, `ModelIntegrityError` if
    `data` is no skops file."""
    import skops.io

    try:
        needed = set(skops.io.get_untrusted_types(data=data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ModelIntegrityError(f"{what} is not a readable skops file: {exc}") from exc
    refused = sorted(needed - TRUSTED_MODEL_TYPES)
    if refused:
        raise UntrustedModelError(
            f"{what} needs types outside the project's trusted list: {refused}. "
            "Add them to modelops.ml.model_integrity.TRUSTED_MODEL_TYPES after review."
        )
    return sorted(needed)


def dump_model(model: object) -> bytes:
    """The model as skops bytes; `UntrustedModelError` if loading it back would need a type
    the project does not trust (refused now, at training time, not at the first load)."""
    import skops.io

    data = skops.io.dumps(model)
    trusted_types(data)
    return data


def load_model(data: bytes) -> object:
    """The model in skops bytes from `dump_model`, built from trusted types only: bytes that
    ask for anything else raise `UntrustedModelError` and nothing of them is built."""
    import skops.io

    return skops.io.loads(data, trusted=trusted_types(data, what="the stored model"))


def artifact_digest(directory: Path) -> str:
    """The sha256 of a model folder, as a manifest: every file's sha256 and relative path.

    The manifest is `sha256sum`'s format (`<hex>  <path>` per file, sorted by path), so a
    renamed, added or removed file changes the digest as much as a changed byte, and an
    auditor can rebuild it with standard tools. Left out: empty folders (artifact stores do
    not keep them) and MLflow's top-level `registered_model_meta` (any plain MLflow load from a
    local store adds it; `load_model` deletes it before loading). A symlink is refused, as what
    it points to could change between the check and the load.
    """
    entries = []
    for path in directory.rglob("*"):
        if path.is_symlink():
            raise ModelIntegrityError(f"model artifacts may not contain symlinks: {path}")
        if path.is_file():
            with path.open("rb") as handle:
                file_sha = hashlib.file_digest(handle, "sha256").hexdigest()
            entries.append((path.relative_to(directory).as_posix(), file_sha))
    return _manifest_digest(entries)


def files_digest(files: Mapping[str, bytes]) -> str:
    """`artifact_digest` of a folder holding `files` (relative POSIX path -> content), without
    writing the folder: what a bundle built in memory is checked against."""
    entries = []
    for name, content in files.items():
        path = PurePosixPath(name)
        if path.is_absolute() or not path.parts or ".." in path.parts or name != path.as_posix():
            raise ValueError(f"not a relative file path in a model folder: {name!r}")
        entries.append((name, hashlib.sha256(content).hexdigest()))
    folders = {parent.as_posix() for name in files for parent in PurePosixPath(name).parents}
    clash = sorted(folders & set(files))
    if clash:
        raise ValueError(f"a model folder cannot hold {clash[0]!r} both as a file and a folder")
    return _manifest_digest(entries)


def _manifest_digest(entries: Iterable[tuple[str, str]]) -> str:
    """The sha256 of the `sha256sum` manifest of (relative path, file sha256) pairs."""
    lines = [
        f"{file_sha}  {relative}\n"
        for relative, file_sha in sorted(entries)
        if relative != MLFLOW_META_FILE
    ]
    return hashlib.sha256("".join(lines).encode()).hexdigest()
