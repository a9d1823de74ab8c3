"""How a model script runs as a subprocess of the step, and how its failure reads.

Pipes' own subprocess client only says "failed with code 1"; a model developer needs the
script's error. So the subprocess's stderr is echoed and its tail kept, and the exception the
script closed its Pipes session with (recorded by Pipes as an engine event of the run) is
read back: both go into the `ModelScriptError` that names the script.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import warnings
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import dagster as dg

STDERR_TAIL_LINES = 40
_CLOSED_WITH_EXCEPTION = "[pipes] external process pipes closed with exception"


class ModelScriptError(dg.Failure):
    """A model script failed, or could not be started; the message says which and why."""

    def __init__(self, message: str) -> None:
        super().__init__(description=message, allow_retries=False)
        self.message = message

    def __str__(self) -> str:
        return self.message


class TailingSubprocessClient(dg.PipesSubprocessClient):
    """`PipesSubprocessClient` that also keeps the tail of the script's stderr (still echoed
    to this process's stderr) and, when the script fails, raises `ModelScriptError` with the
    exception it closed Pipes with and that tail. Its `env` is the whole child environment."""

    def __init__(self, script: Path, *, cwd: str, env: Mapping[str, str]) -> None:
        super().__init__(cwd=cwd, env=env)
        self.script = script

    def run(  # type: ignore[override]
        self,
        *,
        context: dg.AssetExecutionContext | dg.OpExecutionContext,
        extras: Mapping[str, Any] | None = None,
        command: list[str],
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> dg.PipesClientCompletedInvocation:
        from dagster._core.errors import DagsterExecutionInterruptedError
        from dagster._core.pipes.utils import open_pipes_session

        tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        # Dagster flags an internal call of its own Pipes reader as preview; nothing to act on.
        warnings.filterwarnings("ignore", message=".*expected_writer_count.*")
        with open_pipes_session(
            context=context,
            context_injector=self.context_injector,
            message_reader=self.message_reader,
            extras=extras,
        ) as session:
            try:
                process = subprocess.Popen(
                    command,
                    cwd=cwd or self.cwd,
                    env={**self.env, **(env or {}), **session.get_bootstrap_env_vars()},
                    stderr=subprocess.PIPE,
                )
            except FileNotFoundError as exc:
                raise ModelScriptError(f"cannot start {self.script.name}: {exc}") from exc
            reader = threading.Thread(target=_echo, args=(process.stderr, tail), daemon=True)
            reader.start()
            try:
                code = process.wait()
            except DagsterExecutionInterruptedError:
                process.terminate()
                process.wait(timeout=self.termination_timeout_seconds)
                raise
            reader.join(timeout=10)
        if code != 0:
            raise script_failed(context, self.script, f"exit code {code}", list(tail))
        return dg.PipesClientCompletedInvocation(session)


def uv_command() -> list[str]:
    """uv as `uv run` exports it, else from PATH, else the module pip installs."""
    found = os.environ.get("UV") or shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


def inherited_env() -> dict[str, str]:
    """This process's environment without what would point uv at the platform's own venv."""
    dropped = {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"}
    return {k: v for k, v in os.environ.items() if k not in dropped}


def _echo(stream: IO[bytes] | None, tail: deque[str]) -> None:
    if stream is None:
        return
    for raw in iter(stream.readline, b""):
        line = raw.decode(errors="replace")
        sys.stderr.write(line)
        tail.append(line.rstrip("\n"))
    stream.close()


def script_failed(
    context: dg.AssetExecutionContext | dg.OpExecutionContext,
    script: Path,
    reason: str,
    stderr_tail: list[str],
) -> ModelScriptError:
    parts = [f"model script {script.name} failed ({reason}): {script}"]
    closed = _closed_exception(context)
    if closed:
        parts.append(f"the script reported: {closed}")
    if stderr_tail:
        parts.append("its stderr ended with:\n" + "\n".join(stderr_tail))
    return ModelScriptError("\n".join(parts))


def _closed_exception(context: dg.AssetExecutionContext | dg.OpExecutionContext) -> str | None:
    """The exception the script closed its Pipes session with (Pipes records it as an engine
    event of this run), the latest one."""
    try:
        logs = context.instance.all_logs(context.run_id)
        step = context.get_step_execution_context().step.key
    except Exception:  # a context without an instance: nothing to add
        return None
    for entry in reversed(logs):
        event = entry.dagster_event
        if entry.step_key != step:
            continue
        data = getattr(event, "engine_event_data", None) if event else None
        if entry.user_message == _CLOSED_WITH_EXCEPTION or (
            event is not None and event.message == _CLOSED_WITH_EXCEPTION
        ):
            error = getattr(data, "error", None)
            if error is not None:
                text, name = error.message.strip(), error.cls_name or "Error"
                return text if text.startswith(name) else f"{name}: {text}"
    return None


def failure_text(result: dg.ExecuteInProcessResult) -> str:
    """Why a one-off run failed: our message when a script failed, else the error."""
    texts = []
    for event in result.get_step_failure_events():
        data = event.step_failure_data
        if data.user_failure_data is not None and data.user_failure_data.description:
            texts.append(data.user_failure_data.description)
        elif data.error is not None:
            cause = data.error.cause or data.error
            texts.append(cause.message.strip())
    return "\n".join(texts) or "the run failed"
