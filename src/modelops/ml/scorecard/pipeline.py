"""The `woe` preprocessing: a ColumnTransformer holding one WoEBinning over every feature, so
the pipeline keeps the shape the scorer reads (one encoded column per feature)."""

from __future__ import annotations

from sklearn.base import ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

from modelops.ml.scorecard.woe_binning import WoEBinning
from modelops.spec.modelling import ScorecardSpec


def woe_pipeline(
    estimator: ClassifierMixin,
    numeric: list[str],
    categorical: list[str],
    scorecard: ScorecardSpec | None,
) -> Pipeline:
    card = scorecard or ScorecardSpec()
    binning = WoEBinning(
        categorical=tuple(categorical),
        monotonic=card.monotonic,
        max_bins=card.max_bins,
        min_bin_share=card.min_bin_share,
        special_codes={name: list(codes) for name, codes in card.special_codes.items()} or None,
    )
    preprocess = ColumnTransformer(
        [("woe", binning, [*numeric, *categorical])],
        remainder="drop",
        verbose_feature_names_out=False,
    )
    return Pipeline([("preprocess", preprocess), ("model", estimator)])
