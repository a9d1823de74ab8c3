"""Plots where people look, on the real platform: after a training run, a scored month and the
history, the evaluation, release drift, fairness, monthly drift and drift history assets carry
their plots as markdown images Dagster renders inline (a PNG embedded as a `data:` URI), each
with an http link to the stored file; no link of theirs is `file://`."""

from __future__ import annotations

import base64
import re

import dagster as dg
import pytest

from modelops.definitions import build_definitions
from modelops.instance import local_instance
from modelops.names import (
    DRIFT,
    DRIFT_HISTORY,
    EVALUATION,
    FAIRNESS,
    MONTHLY_DRIFT,
    history_job,
)
from modelops.settings import Settings
from support.monthly_platform import QUIET, UC, failures, score_month, trained_platform

IMAGES = {
    EVALUATION: ("roc_plot", "calibration_plot"),
    DRIFT: ("most_moved_inputs",),
    FAIRNESS: ("decline_rates",),
    MONTHLY_DRIFT: ("most_moved_inputs",),
    DRIFT_HISTORY: ("psi_csi_over_months", "scores_by_month"),
}
EMBEDDED = re.compile(r"!\[[^\]]*\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = trained_platform(tmp_path_factory.mktemp("plots"))
    scored = score_month(settings)
    assert scored.success, failures(scored)
    history = build_definitions(settings).resolve_job_def(history_job(UC))
    ran = history.execute_in_process(
        instance=local_instance(settings.dagster_home), run_config=QUIET, raise_on_error=False
    )
    assert ran.success, failures(ran)
    return settings


def _latest_metadata(settings: Settings, asset: str) -> dict[str, dg.MetadataValue]:
    instance = local_instance(settings.dagster_home)
    records = instance.fetch_materializations(dg.AssetKey([UC, asset]), limit=1).records
    assert records, f"{asset} was never materialized"
    materialization = records[0].asset_materialization
    assert materialization is not None
    return dict(materialization.metadata)


@pytest.mark.parametrize("asset", IMAGES)
def test_the_asset_shows_its_plots_inline_with_an_http_link(platform, asset: str) -> None:
    metadata = _latest_metadata(platform, asset)
    for label in IMAGES[asset]:
        value = metadata.get(label)
        assert isinstance(value, dg.MarkdownMetadataValue), f"{asset}: no {label} image"
        text = value.value
        embedded = EMBEDDED.search(text)
        assert embedded, f"{asset}/{label}: not an inline image: {text[:120]}"
        assert base64.b64decode(embedded.group(1)).startswith(b"\x89PNG\r\n\x1a\n")
        assert re.search(r"\[open [^\]]+\]\(http://127\.0\.0\.1:\d+/" + UC + "/", text)
    links = [v.value for v in metadata.values() if isinstance(v, dg.UrlMetadataValue)]
    assert all(link.startswith("http") for link in links), links
