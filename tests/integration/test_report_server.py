"""Reports over http: `modelops reports` serves the stored files on loopback, so links from
the Dagster UI open in a browser; nothing outside the store, and no other file type."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelops.report_server import report_link, report_server
from modelops.resources.storage import LocalArtifactStore
from support.mlflow_server import free_port


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, LocalArtifactStore]]:
    root = tmp_path / "data"
    port = free_port()
    store = LocalArtifactStore(root=str(root), reports_url=f"http://127.0.0.1:{port}")
    root.mkdir()
    (tmp_path / "secret.txt").write_text("not a report")
    server = report_server(root, port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}", store
    finally:
        server.shutdown()
        server.server_close()


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), b""


def test_a_stored_report_opens_over_http_from_its_link(served) -> None:
    _, store = served
    version = store.store_files("german_credit", "monthly_drift/2025-07", {"drift.html": b"<p>x"})
    link = store.link("german_credit", "monthly_drift/2025-07", version, "drift.html")
    assert link.startswith("http://127.0.0.1:") and "file://" not in link
    status, headers, body = _get(link)
    assert status == 200 and body == b"<p>x"
    assert headers["Content-Type"].startswith("text/html")
    assert headers["Content-Security-Policy"] == "sandbox allow-scripts"  # scripts isolated


def test_nothing_outside_the_store_and_no_other_file_type(served) -> None:
    base, store = served
    version = store.store_files("uc", "card", {"card.py": b"print(1)", "card.md": b"# card"})
    assert _get(f"{base}/uc/card/{version}/card.md")[0] == 200
    assert _get(f"{base}/uc/card/{version}/card.py")[0] == 404  # not a report type
    assert _get(f"{base}/../secret.txt")[0] == 404
    assert _get(f"{base}/%2e%2e/secret.txt")[0] == 404
    assert _get(f"{base}/uc/card/{version}/missing.md")[0] == 404


def test_links_quote_what_they_name() -> None:
    link = report_link("http://h:1/", "uc", "drift report/2025-07", "v1", "a b.html")
    assert link == "http://h:1/uc/drift%20report/2025-07/v1/a%20b.html"
