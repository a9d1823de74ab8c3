"""A real GCS API for tests: `gcp-storage-emulator` in a subprocess, one per test session
(per xdist worker), talked to with the real google-cloud-storage client.

Registered as a plugin by `tests/conftest.py`; ask for `gcs_bucket`:
an empty bucket of its own, with `STORAGE_EMULATOR_HOST` set for the test, so every client
the code under test creates (anonymous credentials) talks to the emulator.

Known gap: the emulator ignores preconditions (`ifGenerationMatch`), so the emulator's log is
kept (`EmulatorServer.requests()`) for tests to check what the client asked for.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

STARTUP_TIMEOUT_S = 20


@dataclass(frozen=True)
class EmulatorServer:
    host: str  # http://127.0.0.1:<port>
    log: Path

    def requests(self) -> list[str]:
        """The HTTP request lines the emulator served so far."""
        return [line for line in self.log.read_text().splitlines() if "HTTP/1.1" in line]


@dataclass(frozen=True)
class EmulatorBucket:
    name: str
    server: EmulatorServer

    def client(self):
        """A real client on the emulator (the variable is set by the `gcs_bucket` fixture)."""
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(project="test-project", credentials=AnonymousCredentials())

    def object_names(self, prefix: str | None = None) -> list[str]:
        return sorted(b.name for b in self.client().list_blobs(self.name, prefix=prefix))

    def upload(self, name: str, content: bytes) -> None:
        self.client().bucket(self.name).blob(name).upload_from_string(content)

    def download(self, name: str) -> bytes:
        return self.client().bucket(self.name).blob(name).download_as_bytes()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def gcs_emulator_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    executable = Path(sys.executable).parent / "gcp-storage-emulator"
    if not executable.exists():
        pytest.fail(f"{executable} not found: install the dev dependencies (uv sync)")
    port = _free_port()
    log = tmp_path_factory.mktemp("gcs-emulator") / "emulator.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(executable), "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    host = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"the GCS emulator exited at startup:\n{log.read_text()}")
            try:
                urllib.request.urlopen(f"{host}/storage/v1/b?project=probe", timeout=1).close()
                break
            except urllib.error.HTTPError:
                break  # it answered
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"the GCS emulator did not answer on {host}:\n{log.read_text()}")
                time.sleep(0.1)
        yield EmulatorServer(host=host, log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def gcs_bucket(
    gcs_emulator_server: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> EmulatorBucket:
    """A fresh, empty bucket; every GCS client created during the test uses the emulator."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator_server.host)
    bucket = EmulatorBucket(name=f"test-{uuid.uuid4().hex[:12]}", server=gcs_emulator_server)
    bucket.client().create_bucket(bucket.name)
    return bucket
