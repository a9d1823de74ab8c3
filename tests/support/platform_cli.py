"""The `modelops` command run in process against a platform of a test's own, as a user types
it: the platform's settings as environment variables, what it printed and its exit code."""

from __future__ import annotations

import contextlib
import io
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelops.cli import main
from modelops.settings import Settings
from support import make_settings
from support.identities import login_env


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str

    @property
    def printed(self) -> str:
        return self.out + self.err


def platform_env(settings: Settings) -> dict[str, str]:
    return {
        "MODELOPS_PROJECT_DIR": str(settings.project_dir),
        "MODELOPS_SPECS_DIR": str(settings.specs_dir),
        "MODELOPS_HOME": str(settings.home_dir),
        "MODELOPS_SOURCE_ROOTS": ",".join(settings.source_roots),
    }


def cli(settings: Settings, *args: str, env: Mapping[str, str] | None = None) -> Outcome:
    """`modelops ARGS` against `settings`' platform, with `env` on top."""
    with pytest.MonkeyPatch.context() as patch:
        logged_in = login_env(settings, args)  # the person --by names, authenticated
        for name, value in {**platform_env(settings), **logged_in, **(env or {})}.items():
            patch.setenv(name, value)
        patch.delenv("DAGSTER_HOME", raising=False)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    return Outcome(code, out.getvalue(), err.getvalue())


def copy_platform(settings: Settings, root: Path) -> Settings:
    """The platform's specs and home copied under `root`: what a test does there is its own.
    (Sources stay where they are: the copy reads them from the same roots.)"""
    shutil.copytree(settings.specs_dir, root / "specs")
    shutil.copytree(settings.home_dir, root / "home")
    copied = make_settings(root, root / "specs")
    return copied.model_copy(update={"source_roots": settings.source_roots})
