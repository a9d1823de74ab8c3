"""pytest plugin: a real `mlflow server` on a free loopback port, with a Postgres backend store.

Registered as a plugin by `tests/conftest.py` (beside `support.postgres`); take what you
need from its fixtures (`mlflow_server`, `mlflow_server_process`, `start_mlflow_server`). The
server proxies artifacts (`--serve-artifacts`), so clients only ever talk HTTP to it, as in
production. Its background job runner (seven huey consumers for GenAI features the platform
does not use) is switched off: it doubles start-up time on a two-core machine.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

START_TIMEOUT_SECONDS = 90
# Credentials of a developer's shell must not leak into a server or an "unauthenticated" call.
_CLIENT_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")


@dataclass
class MlflowServer:
    """A started `mlflow server` process; `url` answers once `wait_healthy` returned."""

    url: str
    process: subprocess.Popen
    log: Path
    artifacts: Path
    backend_store_uri: str

    def wait_healthy(self, timeout: float = START_TIMEOUT_SECONDS) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"mlflow server exited with {self.process.returncode}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return self.url
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        pytest.fail(f"mlflow server not healthy after {timeout:.0f} s:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def terminate(self) -> None:
        """Ask the server and the uvicorn worker it started (its own process group) to stop."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)

    def stop(self) -> None:
        self.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch_mlflow_server(
    folder: Path,
    backend_store_uri: str,
    *,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> MlflowServer:
    """Start the server without waiting for it (call `wait_healthy`), so that several servers
    can start at the same time."""
    folder.mkdir(parents=True, exist_ok=True)
    artifacts = folder / "artifacts"
    port = free_port()
    mlflow = Path(sys.executable).with_name("mlflow")
    command = [
        str(mlflow) if mlflow.exists() else sys.executable,
        *([] if mlflow.exists() else ["-m", "mlflow"]),
        "server",
        "--backend-store-uri",
        backend_store_uri,
        "--artifacts-destination",
        artifacts.as_uri(),
        "--serve-artifacts",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        *extra_args,
    ]
    server_env = {k: v for k, v in os.environ.items() if k not in _CLIENT_VARIABLES}
    server_env.update({"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **(env or {})})
    log = folder / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=folder,  # anything the server writes by default lands in the temp folder
            env=server_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return MlflowServer(
        url=f"http://127.0.0.1:{port}",
        process=process,
        log=log,
        artifacts=artifacts,
        backend_store_uri=backend_store_uri,
    )


@pytest.fixture(scope="session")
def start_mlflow_server(
    postgres_database: Callable[[], str],
) -> Iterator[Callable[..., MlflowServer]]:
    """`launch_mlflow_server`, with every server it started stopped at the end of the session
    (before the databases are dropped: this fixture depends on theirs)."""
    started: list[MlflowServer] = []

    def start(folder: Path, backend_store_uri: str, **options: Any) -> MlflowServer:
        server = launch_mlflow_server(folder, backend_store_uri, **options)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:  # all at once: each takes a second or two to shut down
            server.terminate()
        for server in started:
            server.stop()


@pytest.fixture(scope="session")
def mlflow_server_process(
    start_mlflow_server: Callable[..., MlflowServer],
    postgres_database: Callable[[], str],
    postgres_server: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> MlflowServer:
    """The shared tracking server, healthy; its database and artifact folder are throwaway."""
    server = start_mlflow_server(
        tmp_path_factory.mktemp("mlflow-server"), postgres_server.url(postgres_database())
    )
    server.wait_healthy()
    return server


@pytest.fixture(scope="session")
def mlflow_server(mlflow_server_process: MlflowServer) -> str:
    """The URL of the shared tracking server (http://127.0.0.1:<port>)."""
    return mlflow_server_process.url
