"""Whether the MLflow tracking server answers, found out in seconds.

MLflow's client retries an unreachable server for minutes before it raises; a command or a
step that is about to use MLflow asks first, so the operator learns within seconds which
server does not answer (its URL without any secret).
"""

from __future__ import annotations

import urllib.error
import urllib.request

from modelops.settings import redact


class TrackingUnavailableError(RuntimeError):
    """The MLflow tracking server does not answer; the message names it (never a secret)."""


def check_tracking_server(tracking_uri: str, timeout_seconds: float = 5.0) -> None:
    """Raise `TrackingUnavailableError` when an HTTP tracking server does not answer. Any HTTP
    answer counts, even 401; a local store has nothing to reach."""
    if not tracking_uri.startswith(("http://", "https://")):
        return
    try:
        urllib.request.urlopen(
            f"{tracking_uri.rstrip('/')}/health", timeout=timeout_seconds
        ).close()
    except urllib.error.HTTPError:
        return
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TrackingUnavailableError(
            f"the MLflow tracking server {redact(tracking_uri)} is unreachable "
            f"({redact(reason)}); check MODELOPS_MLFLOW_TRACKING_URI and that the server "
            "is running"
        ) from None
