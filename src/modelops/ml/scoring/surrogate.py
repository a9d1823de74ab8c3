"""The additive surrogate behind the reason codes of a model that is not linear (gradient
boosting): a sum of per-encoded-column step functions fitted to the model's log-odds, cheap to
evaluate (a lookup per column) and read like a scorecard."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from modelops.ml.scoring.compiled import Matrix


@dataclass(frozen=True, eq=False)
class BinnedColumn:
    """One encoded column of the surrogate: a value per bin, and one for a missing value."""

    column: int
    edges: np.ndarray
    table: np.ndarray

    def bins(self, x: np.ndarray) -> np.ndarray:
        bins = np.searchsorted(self.edges, x, side="right")
        bins[np.isnan(x)] = len(self.edges) + 1
        return bins


def fit_surrogate(
    matrix: Matrix, target: np.ndarray, n_bins: int, alpha: float
) -> tuple[tuple[BinnedColumn, ...], float]:
    """Ridge regression of `target` on one-hot bins of every encoded column, centred."""
    from sklearn.linear_model import Ridge

    dense = matrix.toarray() if sparse.issparse(matrix) else np.asarray(matrix, dtype=np.float64)
    n_rows = dense.shape[0]
    shells = []
    all_bins = []
    offset = 0
    for j in range(dense.shape[1]):
        x = dense[:, j]
        finite = x[~np.isnan(x)]
        distinct = np.unique(finite)
        if len(distinct) <= n_bins:
            edges = (distinct[1:] + distinct[:-1]) / 2
        else:
            edges = np.unique(np.quantile(finite, np.linspace(0, 1, n_bins + 1)[1:-1]))
        shell = BinnedColumn(j, edges, np.zeros(len(edges) + 2))
        shells.append(shell)
        all_bins.append(shell.bins(x) + offset)
        offset += len(edges) + 2
    columns = np.column_stack(all_bins)
    design = sparse.csr_matrix(
        (np.ones(columns.size), columns.ravel(), np.arange(0, columns.size + 1, dense.shape[1])),
        shape=(n_rows, offset),
    )
    ridge = Ridge(alpha=alpha).fit(design, target)
    counts = np.asarray(design.sum(axis=0)).ravel()
    binned = []
    baseline = float(ridge.intercept_)
    start = 0
    for shell, bins in zip(shells, all_bins, strict=True):
        size = len(shell.edges) + 2
        table = ridge.coef_[start : start + size].copy()
        seen = counts[start : start + size] > 0
        # Centred on the training mean; a bin no training row fell in carries no information.
        mean = float(table[bins - start].mean())
        table = np.where(seen, table - mean, 0.0)
        baseline += mean
        binned.append(BinnedColumn(shell.column, shell.edges, table))
        start += size
    return tuple(binned), baseline
