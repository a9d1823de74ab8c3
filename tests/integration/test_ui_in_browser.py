"""What people see, checked in a real browser: Debian's Chromium driven by Playwright against
`dagster dev` and an MLflow server started on loopback after a real run.

The platform is trained and approved first (with the MLflow UI's address, so the links the
run records point at it); then the test looks where a validator would: the use case's asset
graph, the model card, the release gate checks, the MLflow run behind the trained model.
A screenshot of each page is kept under `.modelops/test-artifacts/` (the failing page's is
what to look at when a test fails).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from modelops.report_server import report_server
from support import GERMAN_SPEC, make_settings, write_spec
from support.browser import browser_context, keep_screenshot, start_dagster_ui
from support.mlflow_server import free_port, launch_mlflow_server
from support.monthly_platform import write_month
from support.platform_cli import cli

UC = "german_credit"
GATES = ("gate_minimum_performance", "gate_fairness", "gate_slice_floors")
CARD_SECTIONS = ("Model details", "Risk and release", "Quantitative analyses", "Explanations")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    root = tmp_path_factory.mktemp("browser")
    spec = yaml.safe_load(GERMAN_SPEC.read_text())
    spec["monitoring"]["batches"] = {"path": str(root / "applications" / "{month}.csv")}
    write_spec(root / "specs", spec)
    write_month(root)
    settings = make_settings(root, root / "specs")
    mlflow = launch_mlflow_server(root / "mlflow", settings.mlflow_tracking_uri)
    reports_port = free_port()
    reports = report_server(settings.data_dir, reports_port)
    threading.Thread(target=reports.serve_forever, daemon=True).start()
    reports_url = f"http://127.0.0.1:{reports_port}"
    try:
        mlflow.wait_healthy()
        env = {
            "MODELOPS_MLFLOW_UI_URL": mlflow.url,
            "MODELOPS_REPORTS_URL": reports_url,
            "MODELOPS_ACTOR": "trainer@bank.example",
        }
        trained = cli(settings, "run", "-u", UC, env=env)
        assert trained.code == 0, trained.printed
        approve = ("--by", "val@bank.example", "--role", "model_validator", "--reason", "VR-1")
        approved = cli(settings, "approve", "-u", UC, *approve, env=env)
        assert approved.code == 0, approved.printed
        ui = start_dagster_ui(settings, mlflow.url, root, reports_url)
        try:
            yield ui.url, mlflow.url, reports_url
        finally:
            ui.stop()
    finally:
        mlflow.stop()
        reports.shutdown()
        reports.server_close()


@pytest.fixture(scope="module")
def context() -> Iterator:
    yield from browser_context()


@pytest.fixture
def page(context, request: pytest.FixtureRequest):
    page = context.new_page()
    # Dagster's newsletter dialog on a first visit: dismissed whenever it blocks an action.
    page.add_locator_handler(page.get_by_role("button", name="Skip"), lambda skip: skip.click())
    yield page
    keep_screenshot(page, request.node.name)
    page.close()


def _open(page, url: str) -> None:
    page.goto(url, wait_until="load")


def test_the_asset_graph_shows_the_use_case(servers, page) -> None:
    dagster, *_ = servers
    _open(page, f"{dagster}/locations/modelops/asset-groups/{UC}")
    for asset in ("trained_model", "release_gates", "model_card", "evaluation_report"):
        page.get_by_text(asset, exact=True).first.wait_for(timeout=30_000)


def test_the_model_card_shows_its_sections(servers, page) -> None:
    dagster, *_ = servers
    _open(page, f"{dagster}/assets/{UC}/model_card")
    page.get_by_text("[Show Markdown]").first.click(timeout=30_000)
    for section in CARD_SECTIONS:
        page.get_by_text(section, exact=True).first.wait_for(timeout=15_000)
    page.get_by_text(re.compile(r"^Release gates \(")).first.wait_for(timeout=15_000)


def test_the_release_gate_checks_are_listed(servers, page) -> None:
    dagster, *_ = servers
    _open(page, f"{dagster}/assets/{UC}/release_gates?view=checks")
    page.get_by_text(re.compile(r"Checks \(\d+\)")).first.wait_for(timeout=30_000)
    for gate in GATES:
        assert page.get_by_text(gate, exact=True).count() > 0, gate


def test_the_mlflow_link_opens_the_run_with_its_metrics(servers, page) -> None:
    dagster, mlflow, _ = servers
    _open(page, f"{dagster}/assets/{UC}/trained_model")
    link = page.locator(f'a[href^="{mlflow}/"][href*="/runs/"]').first
    link.wait_for(timeout=30_000)
    href = link.get_attribute("href")
    assert href and href.startswith(mlflow)
    _open(page, href)
    page.get_by_text("holdout_auc").first.wait_for(timeout=30_000)


def test_no_link_on_the_assets_is_a_local_file(servers, page) -> None:
    """Browsers refuse file:// links from a web page: every report opens over http."""
    dagster, *_ = servers
    for asset in ("trained_model", "model_card", "evaluation_report", "fairness_report"):
        _open(page, f"{dagster}/assets/{UC}/{asset}")
        page.get_by_text("Metadata").first.wait_for(timeout=30_000)
        assert "file://" not in page.inner_text("body"), asset


def test_screenshots_are_kept(servers, page) -> None:
    dagster, *_ = servers
    _open(page, f"{dagster}/assets/{UC}/trained_model")
    assert keep_screenshot(page, "trained_model_page").stat().st_size > 10_000
    assert Path(keep_screenshot(page, "trained_model_page")).suffix == ".png"


def test_a_report_link_opens_over_http(servers, page) -> None:
    dagster, _, reports = servers
    _open(page, f"{dagster}/assets/{UC}/model_card")
    link = page.locator(f'a[href^="{reports}/{UC}/model_card/"]').first
    link.wait_for(timeout=30_000)
    href = link.get_attribute("href")
    assert href
    _open(page, href)
    page.get_by_text("Model details").first.wait_for(timeout=15_000)
