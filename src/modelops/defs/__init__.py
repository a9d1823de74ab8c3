"""Dagster wiring: assets, checks, jobs and resources built from specs and settings."""
