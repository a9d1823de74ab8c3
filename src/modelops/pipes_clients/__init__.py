"""Dagster Pipes clients for model scripts in languages Dagster ships no client for.

The platform hands a client's path to a model script in the environment variable
`MODELOPS_R_PIPES_CLIENT`; the script sources it (R has no package index here to install
a client from).
"""

from __future__ import annotations

from pathlib import Path

R_CLIENT: Path = Path(__file__).with_name("dagster_pipes.R")
"""The R client: `source(Sys.getenv("MODELOPS_R_PIPES_CLIENT"))`, then `pipes_run(main)`."""

__all__ = ["R_CLIENT"]
