"""A real browser for UI tests: Playwright driving Debian's Chromium (`apt-get install
chromium`, done by `make setup` as root; Playwright's own browser download is never used),
plus `dagster dev` started on a free loopback port against a platform's settings.

Screenshots of every page a failing test visited are kept under `.modelops/test-artifacts/`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelops.settings import Settings
from support import PROJECT
from support.mlflow_server import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = PROJECT / ".modelops" / "test-artifacts"
START_TIMEOUT_SECONDS = 120


@dataclass
class DagsterUI:
    url: str
    process: subprocess.Popen
    log: Path

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)


def platform_environment(
    settings: Settings, mlflow_ui_url: str, reports_url: str
) -> dict[str, str]:
    """The environment a `dagster dev` of this platform needs (what the Makefile sets)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODELOPS_", "DAGSTER_"))}
    env.update(
        {
            "MODELOPS_PROJECT_DIR": str(PROJECT),
            "MODELOPS_SPECS_DIR": str(settings.specs_dir),
            "MODELOPS_HOME": str(settings.home_dir),
            "MODELOPS_SOURCE_ROOTS": ":".join(str(r) for r in settings.source_roots),
            "MODELOPS_MLFLOW_UI_URL": mlflow_ui_url,
            "MODELOPS_REPORTS_URL": reports_url,
            "DAGSTER_HOME": str(settings.dagster_home),
            "DO_NOT_TRACK": "1",
            "MLFLOW_DISABLE_TELEMETRY": "true",
        }
    )
    return env


def start_dagster_ui(
    settings: Settings, mlflow_ui_url: str, folder: Path, reports_url: str
) -> DagsterUI:
    """`dagster dev` on a free port, healthy (its /server_info answers) or the test fails."""
    port = free_port()
    dagster = Path(sys.executable).with_name("dagster")
    command = [str(dagster), "dev", "-w", str(PROJECT / "workspace.yaml")]
    command += ["-h", "127.0.0.1", "-p", str(port)]
    log = folder / "dagster-dev.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=PROJECT,
            env=platform_environment(settings, mlflow_ui_url, reports_url),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    ui = DagsterUI(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"dagster dev exited with {process.returncode}:\n{ui.tail()}")
        try:
            with urllib.request.urlopen(f"{ui.url}/server_info", timeout=2) as response:
                if response.status == 200:
                    return ui
        except OSError:
            pass
        time.sleep(0.5)
    ui.stop()
    pytest.fail(f"dagster dev not answering after {START_TIMEOUT_SECONDS} s:\n{ui.tail()}")


def browser_context() -> Iterator:
    """A headless Chromium context (Debian's), closed at the end."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed: `make setup` installs Debian's as root")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            yield context
        finally:
            context.close()
            browser.close()


def keep_screenshot(page, name: str) -> Path:
    """A full-page screenshot kept as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
