"""Per-environment I/O behind small interfaces: artifact storage, tracking/registry, sources.

Nothing here imports `modelops.defs`; heavy clients (MLflow, cloud SDKs) are imported inside
the methods that use them so that loading the code location stays fast.
"""
