"""What the service counts, in Prometheus' text format (`GET /metrics`).

Its own `CollectorRegistry` (not the process-global one), so two apps in one process (tests)
do not collide. With `--workers N` every worker keeps its own counters; a scrape sees the
worker that answered it (run one worker per pod and let Kubernetes scale pods instead).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from modelops.governance.serving_switch import STOPPED_REASON_PREFIX
from modelops.ml.scoring.fallback_reasons import (
    INVALID_INPUT,
    MODEL_ERROR,
    MODEL_UNAVAILABLE,
    NO_CHAMPION,
)

CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)
"""Seconds: sub-millisecond buckets, since one application is answered in well under 1 ms."""

_KINDS = (
    (STOPPED_REASON_PREFIX, "stopped"),
    (MODEL_UNAVAILABLE, "model_unavailable"),
    (INVALID_INPUT, "invalid_input"),
    (MODEL_ERROR, "model_error"),
    (NO_CHAMPION, "no_champion"),
)


def fallback_kind(reason: str) -> str:
    """The machine-readable kind of a fallback reason (its stable prefix)."""
    for prefix, kind in _KINDS:
        if reason.startswith(prefix):
            return kind
    return "other"


class ServingMetrics:
    """Requests by endpoint and status, latency, answers by decision, fallbacks by kind, and
    the model version being served."""

    def __init__(self, use_case: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "modelops_serving_requests",
            "HTTP requests answered, by endpoint and status code.",
            ["use_case", "endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "modelops_serving_request_seconds",
            "Time from request to response, by endpoint.",
            ["use_case", "endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.answers = Counter(
            "modelops_serving_answers",
            "Applications answered, by decision.",
            ["use_case", "decision"],
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "modelops_serving_fallbacks",
            "Applications answered with the fallback decision, by reason kind.",
            ["use_case", "reason"],
            registry=self.registry,
        )
        self.model_version = Gauge(
            "modelops_serving_model_version_info",
            "1 for the model version answering now (fallback: the champion it stands for).",
            ["use_case", "version", "state"],
            registry=self.registry,
        )
        self.use_case = use_case
        self._shown: tuple[str, str] | None = None

    def observe_request(self, endpoint: str, status: int, seconds: float) -> None:
        self.requests.labels(self.use_case, endpoint, str(status)).inc()
        self.latency.labels(self.use_case, endpoint).observe(seconds)

    def observe_answer(self, decision: str, fallback_reason: str | None) -> None:
        self.answers.labels(self.use_case, decision).inc()
        if fallback_reason is not None:
            self.fallbacks.labels(self.use_case, fallback_kind(fallback_reason)).inc()

    def show_model(self, version: str | None, state: str) -> None:
        """The version info gauge: one series, replaced when the version or state changes."""
        shown = (version or "none", state)
        if shown == self._shown:
            return
        if self._shown is not None:
            self.model_version.remove(self.use_case, *self._shown)
        self.model_version.labels(self.use_case, *shown).set(1)
        self._shown = shown

    def text(self) -> bytes:
        return generate_latest(self.registry)
