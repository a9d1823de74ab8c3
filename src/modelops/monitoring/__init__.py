"""Production monitoring read back from the artifact store: the histories across months that
the retraining sensor, the history assets and the demo read, and the labelled production data
the next retraining learns from.

Plain Python over the store's interface (no Dagster): the months themselves are measured by
`modelops.ml` (`monthly_drift`, `realised_performance`) and stored by the monitoring assets.
"""
