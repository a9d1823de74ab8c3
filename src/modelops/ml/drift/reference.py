"""The engine's reference side: every column summarised once, compared with each new batch.

Evidently takes about a minute per million rows because it recomputes each column's drift
several times and builds plots. `DriftReference.fit` does everything that depends on the
reference only, once: per numeric column the sorted distinct non-null values with their
counts, the population standard deviation and the PSI quantile edges; per categorical column
the category counts. It holds no frame and serialises without pickle (`to_bytes` /
`from_bytes`), so it is stored with the model and reused for every current batch.
`compare` sorts each numeric current column once (numpy's SIMD sort), counts each categorical
one (polars) and derives every score from those summaries (`stattests`).

Deliberate differences from Evidently:

* A column whose current values are all null (or non-finite) is reported as drifted with
  method `ALL_NULL_METHOD` and a NaN score; Evidently raises. This is how a broken upstream
  feature shows up, so it must not abort the whole comparison. An all-null *reference*
  column still raises in `fit`: there is nothing to monitor it against.
* Every column also gets a PSI (a CSI, per feature), which Evidently's defaults do not
  compute. It is reported, never used for `drifted`.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import polars as pl

from modelops.ml.drift.checks import check_column_lists, check_frame, check_thresholds
from modelops.ml.drift.column_reference import (
    CategoricalReference,
    ColumnReference,
    NumericReference,
)
from modelops.ml.drift.result import ColumnDrift, DriftResult, FeatureKind
from modelops.ml.drift.stattests import choose_method

_FORMAT = "modelops.drift_reference"
_FORMAT_VERSION = 1

_T = TypeVar("_T")


@dataclass(frozen=True, eq=False)
class DriftReference:
    """Everything about the reference side, computed once and reused for every current batch."""

    columns: tuple[str, ...]
    kinds: tuple[FeatureKind, ...]
    reference_rows: int
    psi_bins: int
    _refs: tuple[ColumnReference, ...]

    @classmethod
    def fit(
        cls,
        reference: pl.DataFrame,
        *,
        numeric: list[str],
        categorical: list[str],
        psi_bins: int = 10,
        workers: int | None = None,
    ) -> DriftReference:
        """Summarise the reference: one sort per numeric column, one count per categorical.

        `workers` threads share the columns, as in `compare`.

        Raises ValueError for an empty frame, a missing or mistyped column, a column listed
        twice, or a column without any non-null value (nothing to compare against).
        """
        check_column_lists("drift reference", numeric, categorical)
        if psi_bins < 2:
            raise ValueError(f"drift reference: psi_bins must be at least 2, got {psi_bins}")
        check_frame("drift reference", "reference", reference, numeric, categorical)
        numeric_set = set(numeric)

        def fit_column(name: str) -> ColumnReference:
            series = reference.get_column(name)
            ref: ColumnReference = (
                NumericReference.fit(series, psi_bins)
                if name in numeric_set
                else CategoricalReference.fit(series)
            )
            if ref.n == 0:
                raise ValueError(f"drift reference: column {name!r} holds only nulls")
            return ref

        refs = _map(fit_column, [*numeric, *categorical], workers)
        return cls(
            columns=(*numeric, *categorical),
            kinds=("numeric",) * len(numeric) + ("categorical",) * len(categorical),
            reference_rows=reference.height,
            psi_bins=psi_bins,
            _refs=tuple(refs),
        )

    @property
    def numeric(self) -> list[str]:
        return [c for c, k in zip(self.columns, self.kinds, strict=True) if k == "numeric"]

    @property
    def categorical(self) -> list[str]:
        return [c for c, k in zip(self.columns, self.kinds, strict=True) if k == "categorical"]

    def default_methods(self) -> dict[str, str]:
        """The test Evidently's defaults pick per column for a current batch adding no new value.

        The actual choice in `compare` counts distinct values of both sides, so a current batch
        bringing new values to a low-cardinality column can move it to another test.
        """
        return {
            name: choose_method(kind, ref.n, ref.n_values)
            for name, kind, ref in zip(self.columns, self.kinds, self._refs, strict=True)
        }

    def compare(
        self,
        current: pl.DataFrame,
        *,
        stattest_threshold: float | None = None,
        drift_share: float = 0.5,
        workers: int | None = None,
    ) -> DriftResult:
        """Test every reference column of `current` against the cached reference.

        `stattest_threshold=None` keeps each test's default (0.05 for p-values, 0.1 for
        distances); a value applies to every column, as in Evidently. `workers` threads share the
        columns (numpy's sorts and polars release the GIL); default: up to 2, the machines' cores.
        """
        check_thresholds("drift engine", drift_share, stattest_threshold)
        check_frame("drift engine", "current", current, self.numeric, self.categorical)
        refs = dict(zip(self.columns, self._refs, strict=True))

        def compare_column(name: str) -> ColumnDrift:
            return refs[name].compare(name, current.get_column(name), stattest_threshold)

        return DriftResult.of(
            _map(compare_column, list(self.columns), workers),
            drift_share=drift_share,
            reference_rows=self.reference_rows,
            current_rows=current.height,
        )

    def to_bytes(self) -> bytes:
        """Compact, pickle-free serialisation (numpy .npz with a JSON header)."""
        arrays: dict[str, np.ndarray] = {}
        for i, ref in enumerate(self._refs):
            if isinstance(ref, NumericReference):
                arrays[f"{i}_values"] = ref.values
                if ref.counts is not None:
                    arrays[f"{i}_counts"] = ref.counts
                arrays[f"{i}_edges"] = ref.psi_edges
                arrays[f"{i}_share"] = ref.psi_share
            else:
                arrays[f"{i}_keys"] = np.array(ref.table["key"].to_list(), dtype=np.str_)
                arrays[f"{i}_counts"] = ref.table["ref"].to_numpy()
        header = {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "columns": list(self.columns),
            "kinds": list(self.kinds),
            "reference_rows": self.reference_rows,
            "psi_bins": self.psi_bins,
            "n_rows": [ref.n_rows for ref in self._refs],
            "std": [ref.std if isinstance(ref, NumericReference) else None for ref in self._refs],
        }
        arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> DriftReference:
        """Inverse of `to_bytes`; never unpickles, so a tampered file cannot run code."""
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            header = json.loads(npz["header"].tobytes().decode())
            if header.get("format") != _FORMAT or header.get("version") != _FORMAT_VERSION:
                raise ValueError(
                    f"not a drift reference of format version {_FORMAT_VERSION}: "
                    f"{header.get('format')!r} v{header.get('version')!r}"
                )
            refs: list[ColumnReference] = []
            for i, kind in enumerate(header["kinds"]):
                n_rows = int(header["n_rows"][i])
                if kind == "numeric":
                    counts = npz[f"{i}_counts"] if f"{i}_counts" in npz.files else None
                    refs.append(
                        NumericReference(
                            values=npz[f"{i}_values"],
                            counts=counts,
                            n_rows=n_rows,
                            std=float(header["std"][i]),
                            psi_edges=npz[f"{i}_edges"],
                            psi_share=npz[f"{i}_share"],
                        )
                    )
                else:
                    table = pl.DataFrame(
                        {"key": npz[f"{i}_keys"].tolist(), "ref": npz[f"{i}_counts"]},
                        schema={"key": pl.String, "ref": pl.Int64},
                    )
                    refs.append(CategoricalReference(table, n_rows))
        return cls(
            columns=tuple(header["columns"]),
            kinds=tuple(header["kinds"]),
            reference_rows=int(header["reference_rows"]),
            psi_bins=int(header["psi_bins"]),
            _refs=tuple(refs),
        )


def _map(func: Callable[[str], _T], names: list[str], workers: int | None) -> list[_T]:
    """Run `func` over columns on a few threads (numpy's sort and polars release the GIL)."""
    workers = min(2, os.cpu_count() or 1) if workers is None else workers
    if workers <= 1 or len(names) <= 1:
        return [func(n) for n in names]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(func, names))
