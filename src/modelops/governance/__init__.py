"""The release process: who may move a model version to champion, and the record.

Sits between `resources/` (the registry, the audit log) and `defs/` (Dagster assets and the
CLI): the rules here are plain Python over audit records, so they are tested without Dagster,
and the same code serves the pipeline, the operator CLI and the demo.
"""
