"""The online scoring service: `modelops serve -u <use case>`.

A FastAPI app on uvicorn that answers applications with the scoring core
(`modelops.ml.scoring.applications`), follows the champion the audit log names
(`champion_watch`), answers the fallback when it cannot score, counts what it does
(`metrics`) and documents the request from the spec's schema (`request_model`). An entry-point
layer like `cli` and `operator`: it may import everything but `defs`.
"""
