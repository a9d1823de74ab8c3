"""Reports over http: the artifact store's files served read-only on loopback, so every report
and plot linked from the Dagster UI opens in one click (browsers refuse `file://` links from
a web page).

Only the embedded default needs it (on GCP the links are the bucket's own https URLs). Only
report file types are served, only from under the store's root; an HTML report is served in
a sandbox (`Content-Security-Policy: sandbox allow-scripts`): its scripts run (Evidently's
report needs them) but in an opaque origin, with no access to anything else.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import urllib.parse
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelops.settings import Settings

SERVED_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".csv": "text/csv; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".parquet": "application/octet-stream",
}


class ReportRequests(BaseHTTPRequestHandler):
    """GET `/<use case>/<asset>/<version>/<file>`: a stored file, or 404."""

    server_version = "modelops-reports"

    def __init__(self, *args, root: Path, **kwargs) -> None:
        self.root = root
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        target = self._target()
        if target is None:
            self.send_error(HTTPStatus.NOT_FOUND, "no such report")
            return
        content = target.read_bytes()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", SERVED_TYPES[target.suffix])
        self.send_header("Content-Length", str(len(content)))
        self.send_header("X-Content-Type-Options", "nosniff")
        if target.suffix in (".html", ".svg"):
            self.send_header("Content-Security-Policy", "sandbox allow-scripts")
        self.end_headers()
        self.wfile.write(content)

    def _target(self) -> Path | None:
        """The file asked for, if it is a report file under the root (never outside it)."""
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/")
        if not path or "\x00" in path:
            return None
        target = (self.root / path).resolve()
        if not target.is_relative_to(self.root) or target.suffix not in SERVED_TYPES:
            return None
        return target if target.is_file() else None

    def log_message(self, format: str, *args: object) -> None:
        return  # quiet: the UI's own log says what people opened


def report_server(root: Path | str, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """A server (not yet serving: call `serve_forever`) for the files under `root`."""
    handler = partial(ReportRequests, root=Path(root).resolve())
    return ThreadingHTTPServer((host, port), handler)


def report_link(base_url: str, use_case: str, asset: str, version: str, filename: str) -> str:
    """The http address of a stored file on the report server at `base_url`."""
    parts = (use_case, *asset.split("/"), version, filename)
    return base_url.rstrip("/") + "/" + "/".join(urllib.parse.quote(p, safe="") for p in parts)


def add_parser(commands: argparse._SubParsersAction) -> None:
    """`modelops reports`, dispatched by `args.handler`."""
    reports = commands.add_parser(
        "reports", help="serve the stored reports over http (the links in the Dagster UI)"
    )
    reports.add_argument("--port", type=int, help="default: the port of $MODELOPS_REPORTS_URL")
    reports.set_defaults(handler=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Exit 2 when it cannot serve: not the embedded store, or the port is taken."""
    if settings.environment != "local":
        print("error: on GCP the reports open from the bucket (https links)", file=sys.stderr)
        return 2
    port = args.port or urllib.parse.urlsplit(settings.reports_url).port or 3002
    try:
        server = report_server(settings.data_dir, port)
    except OSError as exc:
        print(
            f"error: cannot serve reports on 127.0.0.1:{port} ({exc.strerror}): stop the other "
            "'modelops reports' or set MODELOPS_REPORTS_URL to another port",
            file=sys.stderr,
        )
        return 2
    with server:
        print(f"Reports of {settings.data_dir} on http://127.0.0.1:{port}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
    return 0
