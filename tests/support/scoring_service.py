"""`modelops serve` as a real process on a free loopback port, for the tests that talk to the
online service over HTTP: started in its own session (so the test can kill every worker),
returned once `/readyz` answers 200, stopped with SIGTERM (SIGKILL if it lingers)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from modelops.settings import Settings
from support.mlflow_server import free_port
from support.platform_cli import platform_env


def start_service(
    settings: Settings,
    use_case: str,
    log: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 90.0,
) -> tuple[subprocess.Popen, str]:
    """The process and its base URL, once it is ready; its output goes to `log`."""
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "modelops.cli", "serve", "-u", use_case,
             "--port", str(port), *args],
            env={**os.environ, **platform_env(settings), **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)


def stop_service(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
