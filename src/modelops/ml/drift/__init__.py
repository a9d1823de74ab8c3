"""Data drift: is the population a model scores still the one it was trained on?

Two producers give the same result (`DriftResult`, one `ColumnDrift` per column) with the
same decisions, those of Evidently's default test per column (`stattests`):

* `build_drift_report` runs Evidently itself on a sample (`sample_rows`), for its HTML page
  with the histograms (`drift_report_for` sets it up from a spec). About a minute per
  million rows.
* `DriftReference` is the fast engine: `fit` summarises the training data once (stored with
  the model, pickle-free), `compare` tests a whole batch in seconds and adds each column's
  PSI. It reproduces Evidently's scores without importing it; `tests/unit/ml` checks that
  both agree.

`score_psi` is the model score's Population Stability Index, the scorecard stability report,
read against `psi_band`'s classic bands.

Modules: `result` (the result types), `psi`, `stattests` (test choice and computation),
`summaries` (a column as distinct values and counts), `column_reference` and `reference`
(the engine), `evidently_report`, `checks` (argument checks both producers share).
"""

from modelops.ml.drift.evidently_report import build_drift_report, drift_report_for, sample_rows
from modelops.ml.drift.psi import PsiBand, PsiResult, psi, psi_band, score_psi
from modelops.ml.drift.reference import DriftReference
from modelops.ml.drift.result import ColumnDrift, DriftResult, FeatureKind
from modelops.ml.drift.stattests import ALL_NULL_METHOD

__all__ = [
    "ALL_NULL_METHOD",
    "ColumnDrift",
    "DriftReference",
    "DriftResult",
    "FeatureKind",
    "PsiBand",
    "PsiResult",
    "build_drift_report",
    "drift_report_for",
    "psi",
    "psi_band",
    "sample_rows",
    "score_psi",
]
