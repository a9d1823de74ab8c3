"""Weight-of-Evidence binning: one WoE column per feature, fitted by optbinning.

optbinning only fits the bins; the fitted state is kept here as plain numbers (bin edges,
category groups, WoE and counts per bin, a missing and a special bin), so the model pickles and
skops-serialises without optbinning objects and scores without it being imported.
WoE = ln(share of goods / share of bads): higher is better.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

MISSING_LABEL = "Missing"
SPECIAL_LABEL = "Special"
MISSING_CATEGORY = "__missing__"  # what `model_input_frame` puts for a null category

MONOTONIC_TRENDS = {
    "auto": "auto_asc_desc",
    "ascending": "ascending",
    "descending": "descending",
    "peak": "peak",
    "valley": "valley",
    "none": None,
}


class WoEBinning(TransformerMixin, BaseEstimator):
    """Optimal binning of each column, then each value replaced by its bin's WoE.

    `monotonic` is one of MONOTONIC_TRENDS (for numeric columns) or a dict of column → trend;
    `special_codes` maps a column to its sentinel values (their own bin). Categories unseen in
    training score WoE 0 (neutral), like an empty bin.
    """

    def __init__(
        self,
        categorical: tuple[str, ...] = (),
        monotonic: str | dict[str, str] = "auto",
        max_bins: int = 6,
        min_bin_share: float = 0.05,
        special_codes: dict[str, list[Any]] | None = None,
    ) -> None:
        self.categorical = categorical
        self.monotonic = monotonic
        self.max_bins = max_bins
        self.min_bin_share = min_bin_share
        self.special_codes = special_codes

    def _trend(self, column: str) -> str | None:
        trend = (
            self.monotonic.get(column, "auto")
            if isinstance(self.monotonic, dict)
            else self.monotonic
        )
        return MONOTONIC_TRENDS[trend]

    def fit(self, X: pd.DataFrame, y: Any) -> WoEBinning:
        from optbinning import OptimalBinning  # fitting only: scoring never imports it

        frame = _frame(X)
        target = np.asarray(y).astype(int)
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = len(frame.columns)
        self.bins_: list[dict[str, Any]] = []
        for column in frame.columns:
            kind = "categorical" if column in self.categorical else "numeric"
            values = _values(frame[column], kind)
            special = list((self.special_codes or {}).get(column, [])) or None
            binning = OptimalBinning(
                name=str(column),
                dtype=kind if kind == "categorical" else "numerical",
                monotonic_trend=self._trend(column) if kind == "numeric" else None,
                max_n_bins=self.max_bins,
                min_bin_size=self.min_bin_share,
                special_codes=special,
            ).fit(values, target)
            table = binning.binning_table.build(add_totals=False)
            n = len(table) - 2  # the last two rows are Special and Missing
            self.bins_.append(
                {
                    "feature": str(column),
                    "kind": kind,
                    "splits": [float(s) for s in binning.splits] if kind == "numeric" else [],
                    "groups": [[str(c) for c in g] for g in binning.splits]
                    if kind == "categorical"
                    else [],
                    "special_codes": [
                        float(s) if kind == "numeric" else str(s) for s in special or []
                    ],
                    "labels": [*_labels(table["Bin"][:n], kind), SPECIAL_LABEL, MISSING_LABEL],
                    "goods": [int(v) for v in table["Non-event"]],
                    "bads": [int(v) for v in table["Event"]],
                    "woe": [float(v) for v in table["WoE"]],
                }
            )
        return self

    def bin_index(self, X: pd.DataFrame) -> np.ndarray:
        """Rows × features: the bin of each value (regular bins, then special, then missing;
        -1 for a category unseen in training)."""
        frame = _frame(X)
        out = np.empty((len(frame), len(self.bins_)), dtype=np.int64)
        for j, b in enumerate(self.bins_):
            values = _values(frame[b["feature"]], b["kind"])
            n = len(b["labels"]) - 2
            if b["kind"] == "numeric":
                numbers = values.astype(np.float64)
                index = np.searchsorted(np.asarray(b["splits"]), numbers, side="right")
                index[np.isin(numbers, b["special_codes"])] = n
                index[np.isnan(numbers)] = n + 1
            else:
                lookup = {c: i for i, group in enumerate(b["groups"]) for c in group}
                lookup.update({s: n for s in b["special_codes"]})
                index = np.array(
                    [n + 1 if v is None else lookup.get(v, -1) for v in values], dtype=np.int64
                )
            out[:, j] = index
        return out

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        index = self.bin_index(X)
        out = np.zeros(index.shape, dtype=np.float64)
        for j, b in enumerate(self.bins_):
            woe = np.append(np.asarray(b["woe"], dtype=np.float64), 0.0)  # [-1] → unseen: 0
            out[:, j] = woe[index[:, j]]
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray([b["feature"] for b in self.bins_], dtype=object)


def _labels(bins: Any, kind: str) -> list[str]:
    """Interval text for numbers ("[1.50, 3.00)"), the group's categories joined for text."""
    if kind == "numeric":
        return [str(b) for b in bins]
    return [", ".join(str(c) for c in group) for group in bins]


def _frame(X: Any) -> pd.DataFrame:
    return X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)


def _values(series: pd.Series, kind: str) -> np.ndarray:
    """Numbers as float64 (NaN missing); categories as str objects, None for missing."""
    if kind == "numeric":
        return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    text = series.astype(object)
    return np.array(
        [
            None
            if (
                v is None
                or v is pd.NA
                or (isinstance(v, float) and np.isnan(v))
                or v == MISSING_CATEGORY
            )
            else str(v)
            for v in text
        ],
        dtype=object,
    )
