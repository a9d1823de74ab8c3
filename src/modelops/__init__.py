"""modelops: release ML models with confidence.

Nothing leaves the bank's network unasked: the telemetry of the libraries underneath
(MLflow reads MLFLOW_DISABLE_TELEMETRY, Evidently DO_NOT_TRACK) is off for every process
that imports the platform, before any of them is imported. MLflow's download progress bar
is off too: every model load downloads (to verify the artifact's sha256), and the bar would
flood run logs.
"""

import os

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
