"""Production scoring: per application the model version, the score, the decision (`refer` to a
credit officer at or above the operating threshold, else `accept`), the reasons behind the
score, how unusual the application is, and a fallback answer when the model cannot give one.

- `answers`: the answer's columns, `score_batch` and `fallback_predictions`;
- `reasons`: reason codes, exact for a linear model, from a measured `surrogate` otherwise;
- `outliers`: the outlier score and flag;
- `compiled` (on `blocks`): the fitted preprocessing as numpy lookups, checked against
  scikit-learn, so that one encoding per slice pays for the score, reasons and outliers;
- `payload`: pickle-free bytes of the fitted reason codes and outlier model.
"""

from modelops.ml.scoring.answers import (
    ACCEPT,
    REFER,
    fallback_predictions,
    prediction_schema,
    score_batch,
)
from modelops.ml.scoring.compiled import CompiledPreprocess, compiled_preprocess
from modelops.ml.scoring.errors import ScoringError, ScoringWarning, UnsupportedPreprocessing
from modelops.ml.scoring.outliers import DEFAULT_OUTLIER_THRESHOLD, OutlierModel
from modelops.ml.scoring.reasons import Fidelity, ReasonCodes

__all__ = [
    "ACCEPT",
    "DEFAULT_OUTLIER_THRESHOLD",
    "REFER",
    "CompiledPreprocess",
    "Fidelity",
    "OutlierModel",
    "ReasonCodes",
    "ScoringError",
    "ScoringWarning",
    "UnsupportedPreprocessing",
    "compiled_preprocess",
    "fallback_predictions",
    "prediction_schema",
    "score_batch",
]
