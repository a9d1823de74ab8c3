"""Plain-Python ML logic on DataFrames: no Dagster import anywhere under this package."""
