"""`modelops serve`: check the use case and the address, print how to call it, run uvicorn.

The app is imported by uvicorn from a factory string (`app_from_env`), so `--workers N`
starts N processes, each with its own champion watch; the use case and poll interval reach
them through the environment.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shlex
import socket

from modelops.settings import Settings
from modelops.spec import UseCaseSpec

FACTORY = "modelops.serving.app:app_from_env"
LOOPBACK_NAMES = ("localhost",)


class ServeRefused(Exception):
    """The service cannot start as asked; the message says why."""


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def example_curl(url: str, spec: UseCaseSpec) -> str:
    from modelops.serving.request_model import example_application

    body = json.dumps(example_application(spec), separators=(",", ":"))
    return (
        f"curl -s -X POST {url}/v1/{spec.id}/score "
        f"-H 'Content-Type: application/json' -d {shlex.quote(body)}"
    )


def serve(
    settings: Settings,
    use_case: str,
    *,
    host: str,
    port: int,
    workers: int,
    poll_seconds: float,
    host_given: bool,
) -> None:
    """Run the service until interrupted. `ServeRefused` (or `OperatorError` for an unknown
    use case) before anything listens."""
    import uvicorn

    from modelops.operator import Platform

    spec = Platform(settings).spec(use_case)
    if not is_loopback(host) and not host_given:
        raise ServeRefused(f"{host} is not a loopback address; pass --host to listen on it")
    if not 1 <= port <= 65535:
        raise ServeRefused(f"--port {port} is not a TCP port")
    if workers < 1:
        raise ServeRefused("--workers must be at least 1")
    if not 0.05 <= poll_seconds <= 60:
        raise ServeRefused("--poll-seconds must be between 0.05 and 60")
    with socket.socket() as probe:  # a clear message rather than uvicorn's traceback
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ServeRefused(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    os.environ["MODELOPS_SERVING_USE_CASE"] = spec.id
    os.environ["MODELOPS_SERVING_POLL_SECONDS"] = str(poll_seconds)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}"
    print(f"Serving {spec.id} on {url} ({workers} worker(s); docs at {url}/docs)", flush=True)
    print(f"Try:\n  {example_curl(url, spec)}", flush=True)
    uvicorn.run(
        FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=10,
    )
