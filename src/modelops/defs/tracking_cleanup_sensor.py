"""A failed run's MLflow runs that its process could not end are ended when the failure is
seen.

A run worker killed outright (`kill -9`, out of memory, an evicted pod) is failed from outside
its process: by `dagster dev`'s code server within seconds, by the daemon's run monitoring in
a deployment. The MLflow run it had open would stay RUNNING for ever; this sensor ends it as
FAILED within a tick. (A run that fails in its own process has already ended its MLflow runs:
the sensor finds none open.)
"""

import dagster as dg

from modelops.resources.tracking import ModelTracking
from modelops.resources.tracking_cleanup import end_training_runs, open_training_runs


def failed_run_tracking_cleanup() -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name="failed_run_tracking_cleanup",
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Ends as FAILED the MLflow runs a failed run left open (a killed worker).",
    )
    def sensor(context: dg.RunFailureSensorContext, tracking: ModelTracking) -> None:
        run_id = context.dagster_run.run_id
        try:
            open_runs = open_training_runs(tracking.tracking_uri, run_id).get(run_id, [])
            why = (
                f"Dagster run {run_id} failed with this MLflow run still open (its process was "
                "killed or crashed); ended by the failed_run_tracking_cleanup sensor"
            )
            end_training_runs(tracking.tracking_uri, open_runs, why)
        except Exception as error:  # the next `modelops run` on this instance ends them
            context.log.warning(
                f"could not end the MLflow runs of failed run {run_id}: MLflow did not answer "
                f"({type(error).__name__})"
            )
            return
        if open_runs:
            context.log.info(f"ended MLflow run(s) {', '.join(open_runs)} of run {run_id}")

    return sensor
