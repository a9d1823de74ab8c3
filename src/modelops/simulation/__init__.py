"""Demo traffic and benchmark data: synthetic applications calibrated on a use case's real
data, named drift scenarios, and months of simulated production traffic written to a folder
or a GCS bucket.

Used by the demo, the benchmarks and the tests, never by the platform's own assets: nothing in
`ml`, `spec`, `resources`, `governance`, `monitoring` or `defs` imports this package. It may
import `spec`, `ml` and `resources`.
"""
