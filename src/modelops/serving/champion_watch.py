"""Follows the champion the audit log names, in a background thread.

Every poll reads the champion's version and the stop switch from the audit log and checks the
stored serving bundle against the digest recorded at training (so a file tampered with after
it was loaded turns the answers into the fallback at the next poll). A new champion is loaded
and its `ApplicationScorer` built here, off the request path, then published with one
reference assignment: a request reads `watch.state` once, so requests in flight finish on the
old scorer and every later one uses the new. The service never scores with a version the log
does not name as champion: while a poll cannot read the log twice in a row, it answers the
fallback.

When the champion becomes unusable (integrity, missing artifact, store down) the owners are
alerted and one `scoring_fallback` audit record is written, once per change of state, not
per request.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from modelops.governance.audit_records import AuditEvent
from modelops.governance.champion import bundle_problem, load_serving_bundle, serving_champion
from modelops.governance.serving_switch import SCORING_FALLBACK, StopState, current_stop
from modelops.ml.scoring.applications import ApplicationScorer
from modelops.ml.scoring.fallback_reasons import MODEL_UNAVAILABLE, NO_CHAMPION
from modelops.settings import redact

if TYPE_CHECKING:
    from modelops.resources.alerts import AlertSink
    from modelops.resources.audit_log import AuditLog
    from modelops.resources.storage import ArtifactStore
    from modelops.spec import UseCaseSpec

_log = logging.getLogger("modelops.serving")


@dataclass(frozen=True)
class ServingState:
    """What the service answers with, as of one poll."""

    champion: str | None
    scorer: ApplicationScorer | None
    """The champion's scorer, when it may score (None: every answer is the fallback)."""
    stop: StopState | None = None
    unavailable: str | None = None
    """Why the champion cannot score (its bundle failed a check or could not be loaded)."""
    polled: bool = True

    @property
    def fallback_reason(self) -> str | None:
        """The reason every answer gives now (None: the model scores)."""
        if self.stop is not None:
            return self.stop.fallback_reason
        if self.unavailable is not None:
            return f"{MODEL_UNAVAILABLE}: {self.unavailable}"
        if not self.polled:
            return f"{MODEL_UNAVAILABLE}: the service is starting (first look at the audit log)"
        if self.champion is None or self.scorer is None:
            return NO_CHAMPION
        return None

    @property
    def label(self) -> str:
        if not self.polled:
            return "starting"
        if self.stop is not None:
            return "stopped"
        return "scoring" if self.fallback_reason is None else "fallback"


STARTING = ServingState(champion=None, scorer=None, polled=False)


def service_actor() -> str:
    """Who the service is in the audit log: `service:<host>:<pid>`."""
    return f"service:{socket.gethostname()}:{os.getpid()}"


class ChampionWatch:
    """The service's view of the audit log, refreshed every `poll_seconds`."""

    def __init__(
        self,
        spec: UseCaseSpec,
        *,
        store: ArtifactStore,
        audit_log: AuditLog,
        alerts: AlertSink | None,
        poll_seconds: float = 1.0,
    ) -> None:
        self.spec = spec
        self.store = store
        self.audit_log = audit_log
        self.alerts = alerts
        self.poll_seconds = poll_seconds
        self.state: ServingState = STARTING
        self.actor = service_actor()
        self._loaded: ApplicationScorer | None = None
        self._log_failures = 0
        self._halt = threading.Event()
        self._first_poll = threading.Event()
        self._thread: threading.Thread | None = None

    def wait_ready(self, timeout: float) -> bool:
        """Wait for the first look at the log (a request that reaches a worker still
        starting is answered by the champion, not by a 'starting' fallback)."""
        return self._first_poll.wait(timeout)

    @property
    def ready(self) -> bool:
        return self.state.polled

    def start(self) -> None:
        """Follow the log in the background, first look at once: the service listens (and
        `/healthz` answers) while a large model loads; `/readyz` says 503 until then."""
        self._thread = threading.Thread(target=self._follow, name="champion-watch", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _follow(self) -> None:
        wait = 0.0
        while not self._halt.wait(wait):
            wait = self.poll_seconds
            try:
                self.poll()
            except Exception:  # a poll must never end the thread
                _log.exception("champion watch: poll failed")

    def poll(self) -> ServingState:
        """One look at the log and the bundle; publishes and returns the new state."""
        before = self.state
        try:
            version = serving_champion(self.audit_log, self.spec)
            stop = current_stop(self.audit_log, self.spec.id)
        except Exception as exc:
            self._log_failures += 1
            if self._log_failures < 2 and before.polled:
                return before  # one failed read: keep the last known state for one poll
            reason = f"audit log unreadable ({type(exc).__name__})"
            _log.error("champion watch: %s: %s", reason, redact(str(exc)))
            after = ServingState(champion=before.champion, scorer=None, unavailable=reason)
        else:
            self._log_failures = 0
            after = self._state_for(version, stop)
        self.state = after  # the swap: one reference assignment
        self._first_poll.set()
        self._report(before, after)
        return after

    def _state_for(self, version: str | None, stop: StopState | None) -> ServingState:
        if version is None:
            return ServingState(champion=None, scorer=None, stop=stop)
        try:
            problem = bundle_problem(self.store, self.audit_log, self.spec, version)
        except Exception as exc:
            problem = f"artifact store unreadable ({type(exc).__name__})"
            _log.error("champion watch: %s: %s", problem, redact(str(exc)))
        if problem is None and (self._loaded is None or self._loaded.model_version != version):
            try:
                bundle = load_serving_bundle(self.store, self.audit_log, self.spec, version)
                self._loaded = ApplicationScorer(bundle, self.spec)
                # The model's objects live as long as the version: keep the garbage collector
                # from walking them on every full collection (latency tail of requests).
                gc.collect()
                gc.freeze()
                _log.warning("%s: now scoring with version %s", self.spec.id, version)
            except Exception as exc:
                problem = f"version {version} could not be loaded ({type(exc).__name__}: "
                problem += redact(str(exc))[:300] + ")"
        if problem is not None:
            return ServingState(champion=version, scorer=None, stop=stop, unavailable=problem)
        return ServingState(champion=version, scorer=self._loaded, stop=stop)

    def _report(self, before: ServingState, after: ServingState) -> None:
        """Alert and record a change of the model's availability (never per request)."""
        if after.unavailable == before.unavailable:
            return
        if after.unavailable is not None:
            reason = after.fallback_reason or ""
            self._record(reason, after.champion)
            self._alert(f"answering the fallback decision: {reason}", after, "critical")
        elif before.polled and before.unavailable is not None:
            self._alert(f"scoring again with version {after.champion}", after, "info")

    def _record(self, reason: str, version: str | None) -> None:
        try:
            self.audit_log.append(
                AuditEvent(
                    event=SCORING_FALLBACK,
                    actor=self.actor,
                    use_case=self.spec.id,
                    reason=reason,
                    model_version=version,
                )
            )
        except Exception as exc:  # the log may be what is down; the alert still goes
            _log.error("could not record %s: %s", SCORING_FALLBACK, type(exc).__name__)

    def _alert(self, summary: str, state: ServingState, severity: str) -> None:
        if self.alerts is None:
            return
        try:
            self.alerts.notify(
                self.spec,
                "serving",
                summary,
                severity=severity,  # type: ignore[arg-type]
                champion=state.champion,
                service=self.actor,
            )
        except Exception as exc:
            _log.error("could not alert the owners: %s", type(exc).__name__)
