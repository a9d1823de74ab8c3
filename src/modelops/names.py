"""The names of every asset, stored file, job, sensor and run tag, in one place.

Asset names are also the artifact store's folders (`<use case>/<asset>/<version>/<file>`), so
the wiring, the release services, the operator commands and the demo all read them from here
rather than from the module that happens to build the asset. Imports nothing.
"""

from __future__ import annotations

# -- the training pipeline of a use case (asset keys are `<use case>/<name>`) ------------------
RAW = "raw_dataset"
VALIDATED = "validated_dataset"
QUARANTINE = "quarantined_rows"
FEATURES = "features"
TRAINING = "training_set"
HOLDOUT = "holdout_set"
MODEL = "trained_model"
EVALUATION = "evaluation_report"
DRIFT = "drift_report"
FAIRNESS = "fairness_report"
GATES = "release_gates"
RELEASE = "model_release"
CARD = "model_card"

TRAINING_ASSETS = (
    RAW,
    VALIDATED,
    QUARANTINE,
    FEATURES,
    TRAINING,
    HOLDOUT,
    MODEL,
    EVALUATION,
    DRIFT,
    FAIRNESS,
    GATES,
    RELEASE,
    CARD,
)
"""Raw data to model card: what the training job of a use case materializes."""

# -- monitoring, one partition per calendar month ----------------------------------------------
BATCH = "production_batch"
PRODUCTION_FEATURES = "production_features"
PRODUCTION_QUARANTINE = "production_quarantine"
PREDICTIONS = "predictions"
DATA_INCIDENTS = "data_incidents"
"""A month classified before it is scored: its data incidents (or none) and what was done."""
INCIDENT_RELEASE = "incident_release"
"""A person's release of a month with a data incident (stored beside, not inside, the
month's classification)."""
ESTIMATED_PERFORMANCE = "estimated_performance"
"""A scored month's performance estimated from the model's own probabilities (no labels)."""
MONTHLY_DRIFT = "monthly_drift"
DRIFT_HISTORY = "drift_history"
LABELS = "labels"
PERFORMANCE = "realised_performance"
PERFORMANCE_HISTORY = "performance_history"
PRODUCTION_FAIRNESS = "production_fairness"
"""A labelled month's decisions per protected group, and each group's share of applicants."""
LABELLED_PRODUCTION = "labelled_production"
"""Labelled production months, appended to the training data of the next retraining."""

ONLINE_DECISIONS = "online_decisions"
"""One day (UTC) of the online service's decision log, as a table."""
SCORING_ASSETS = (
    BATCH,
    PRODUCTION_FEATURES,
    PRODUCTION_QUARANTINE,
    DATA_INCIDENTS,
    PREDICTIONS,
    MONTHLY_DRIFT,
    ESTIMATED_PERFORMANCE,
)
LABEL_ASSETS = (LABELS, PERFORMANCE, PRODUCTION_FAIRNESS)


def monthly(asset: str, month: str) -> str:
    """Where one month of a partitioned asset is stored: `predictions/2025-06`."""
    return f"{asset}/{month}"


# -- across use cases --------------------------------------------------------------------------
INVENTORY_GROUP = "governance"
INVENTORY = "model_inventory"

# -- files kept beside each model version (`<use case>/trained_model/<version>/`) --------------
MODEL_RECORD_FILE = "model.json"
GATE_PLAN_FILE = "gate_plan.json"
CARD_INPUTS_FILE = "card_inputs.json"
SERVING_BUNDLE_PREFIX = "serving_bundle."
"""Beside the model, `serving_bundle.<file>` for each file of its serving bundle."""

# -- jobs and sensors --------------------------------------------------------------------------
MAIN_JOB = "all_use_cases"


def training_job(use_case: str) -> str:
    return f"{use_case}_pipeline"


def scoring_job(use_case: str) -> str:
    return f"{use_case}_monthly_scoring"


def labels_job(use_case: str) -> str:
    return f"{use_case}_monthly_labels"


def history_job(use_case: str) -> str:
    return f"{use_case}_monitoring_history"


def new_files_sensor(use_case: str, what: str) -> str:
    """`what` is `batches` or `labels`."""
    return f"{use_case}_new_{what}"


def retraining_sensor(use_case: str) -> str:
    return f"{use_case}_retraining"


# -- run tags and metadata keys ----------------------------------------------------------------
TRAINING_TAG = "modelops/use_case"
"""On training runs: the production instance allows one per use case at a time."""
SCORING_TAG = "modelops/scoring"
"""On scoring runs instead, so a backfill of many months runs in parallel."""
ACTOR_TAG = "modelops/actor"
"""The person who launched a run; automation is named by its sensor."""
RETRAINING_REASON_TAG = "modelops/retraining_reason"
MLFLOW_DAGSTER_RUN_TAG = "modelops.dagster_run_id"
"""MLflow run tag naming the Dagster run that trained it: how a killed run's MLflow runs are
found and ended."""
PROMOTION_POOL = "modelops-promotion"
"""Concurrency pool of every step that moves an alias: promotions run one at a time."""
SOURCE_TOKEN = "source_token"
"""Metadata key: the file's change token (size-mtime, GCS generation) when it was read, so a
sensor that lost its cursor can tell an already-processed file from a new one."""
