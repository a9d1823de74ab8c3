"""Fallback reasons are counted by their machine-readable kind; the version gauge keeps one
series."""

from __future__ import annotations

import pytest

from modelops.governance.serving_switch import StopState
from modelops.serving.champion_watch import STARTING, ServingState
from modelops.serving.metrics import ServingMetrics, fallback_kind


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        (StopState("a@b", "incident", "2026-01-01", 3).fallback_reason, "stopped"),
        (
            ServingState("1", None, unavailable="bundle changed").fallback_reason,
            "model_unavailable",
        ),
        (ServingState(None, None).fallback_reason, "no_champion"),
        ("input failed validation: age_years: must not be null", "invalid_input"),
        ("model error: ValueError", "model_error"),
        ("something new", "other"),
    ],
)
def test_fallback_reasons_have_a_kind(reason: str, kind: str) -> None:
    assert fallback_kind(reason) == kind


def test_the_version_gauge_names_only_the_current_version() -> None:
    metrics = ServingMetrics("uc")
    metrics.show_model("1", "scoring")
    metrics.show_model("2", "scoring")
    metrics.observe_answer("refer", "model error: KeyError")
    text = metrics.text().decode()
    assert 'version="1"' not in text
    shown = 'state="scoring",use_case="uc",version="2"'
    assert f"modelops_serving_model_version_info{{{shown}}} 1.0" in text
    assert 'modelops_serving_fallbacks_total{reason="model_error",use_case="uc"} 1.0' in text


def test_states_say_why_they_answer_the_fallback() -> None:
    assert STARTING.label == "starting"
    stopped = ServingState("1", None, stop=StopState("a@b", "why", "t", 1))
    assert stopped.label == "stopped" and stopped.fallback_reason.startswith("scoring stopped")
    assert ServingState("1", None, unavailable="x").label == "fallback"
