"""Commands the platform prints for people to copy, in the form that works on this machine:
`uv run modelops ...` where `uv` is on the PATH, else through the `uv` module that
`python3 -m pip install --user uv` (the Makefile's fallback) left off the PATH."""

from __future__ import annotations

import shutil
from functools import cache


@cache
def uv_run() -> str:
    return "uv run" if shutil.which("uv") else "python3 -m uv run"


def modelops(arguments: str) -> str:
    """`uv run modelops <arguments>` as it works here."""
    return f"{uv_run()} modelops {arguments}"
