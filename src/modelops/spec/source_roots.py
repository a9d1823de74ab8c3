"""Where a spec's files may be read from: the declared roots.

A spec's `source.path` and monthly `path`s are read by the platform with its own rights, so
without a limit a spec could read `/proc/self/environ`, `../secrets` or another team's
files and store their bytes as a dataset. Paths must resolve (symlinks and `..` followed)
inside a declared folder, or, on GCP, inside a configured bucket. The settings declare the
roots; the spec loader checks them when the spec loads and the file source again when it
reads (`resources/source.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOTS_VARIABLE = "MODELOPS_SOURCE_ROOTS"
GCS_SCHEME = "gs://"


class SourcePathError(ValueError):
    """A source path outside the declared roots."""


@dataclass(frozen=True)
class SourceRoots:
    """Folders (resolved) and bucket prefixes (`gs://bucket[/prefix]`) sources may be read
    from. `remote`: paths without `gs://` are objects in the environment's own bucket (GCP),
    not files on this machine."""

    base: Path
    """Relative paths are read from here (the project folder)."""
    folders: tuple[Path, ...] = ()
    buckets: tuple[str, ...] = ()
    remote: bool = False

    @classmethod
    def of(
        cls,
        base: Path,
        roots: tuple[str | Path, ...],
        *,
        remote: bool = False,
    ) -> SourceRoots:
        """Roots from settings: folders (resolved from `base` when relative) and `gs://`
        prefixes."""
        buckets = tuple(str(r).rstrip("/") for r in roots if str(r).startswith(GCS_SCHEME))
        folders = tuple((base / r).resolve() for r in roots if not str(r).startswith(GCS_SCHEME))
        return cls(base.resolve(), folders, buckets, remote)

    def refusal(self, path: str, *, written: str | None = None) -> str | None:
        """Why `path` may not be read (None when it may); `written` is how the spec wrote it
        (a monthly template), for the message."""
        shown = written or path
        if "\0" in path:
            return f"{shown!r} contains a NUL character"
        if path.startswith(GCS_SCHEME):
            return self._bucket_refusal(path, shown)
        if self.remote:
            return None  # an object in the environment's own bucket
        real = self.resolve(path)
        if any(real.is_relative_to(folder) for folder in self.folders):
            return None
        resolved = f" (it resolves to {real})" if str(real) != path else ""
        return (
            f"'{shown}'{resolved} is outside the folders sources are read from "
            f"({self._listing(self.folders)}); move the file under one of them, or ask the "
            f"platform team to add its folder to {ROOTS_VARIABLE}"
        )

    def resolve(self, path: str) -> Path:
        """The file `path` names, with symlinks and `..` resolved (it need not exist)."""
        candidate = Path(path)
        return (candidate if candidate.is_absolute() else self.base / candidate).resolve()

    def absence(self, path: str) -> str | None:
        """Why the local file `path` cannot be read now (None when it can, or when it is
        not a local file): `modelops validate` names it before a run fails on it."""
        if self.remote or path.startswith(GCS_SCHEME):
            return None
        real = self.resolve(path)
        if real.is_file():
            return None
        what = "is not a file" if real.exists() else "does not exist"
        looked = f" (it resolves to {real})" if str(real) != path else ""
        return f"'{path}'{looked} {what}"

    def checked(self, path: str) -> Path:
        """The resolved file, or `SourcePathError` if it lies outside the roots."""
        refusal = self.refusal(path)
        if refusal is not None:
            raise SourcePathError(refusal)
        return self.resolve(path)

    def _bucket_refusal(self, path: str, shown: str) -> str | None:
        if not self.remote:
            return (
                f"'{shown}' is a GCS object; this environment reads files under "
                f"{self._listing(self.folders)} (GCS sources need MODELOPS_ENV=gcp)"
            )
        if ".." in path.removeprefix(GCS_SCHEME).split("/"):
            return f"'{shown}' contains a '..' segment"
        if any(path.startswith(f"{bucket}/") for bucket in self.buckets):
            return None
        return (
            f"'{shown}' is outside the buckets sources are read from "
            f"({self._listing(self.buckets)}); ask the platform team to add it to "
            f"{ROOTS_VARIABLE}"
        )

    @staticmethod
    def _listing(roots: tuple[Path | str, ...]) -> str:
        return ", ".join(map(str, roots)) or "none declared"
