"""One drift result for both producers: Evidently's report and the fast engine.

Both give, per column, the test Evidently's defaults pick, its score, threshold and verdict,
and for the dataset the share of drifted columns against `drift_share`. Each adds what only it
knows: Evidently's report its HTML page and whether it sampled the rows; the engine each
column's PSI and the share of the current batch that is missing. What one producer does not
know stays None and is left out of `to_dict` and `to_markdown`, so each stored `drift.json`
keeps the keys it always had.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import polars as pl
from pydantic import JsonValue

from modelops.formatting import NOT_AVAILABLE, Markdown, number, percent, table
from modelops.ml.drift.psi import PSI_BANDS_TEXT, psi_band

FeatureKind = Literal["numeric", "categorical"]

_HEADER = ("column", "kind", "method", "score", "threshold", "drifted")
_PSI_HEADER = ("PSI", "current nulls")


@dataclass(frozen=True)
class ColumnDrift:
    """One column's verdict, as Evidently's default test gives it."""

    column: str
    kind: FeatureKind
    method: str
    """Evidently's name for the test, e.g. "K-S p_value" or "Wasserstein distance (normed)"."""
    score: float
    """p-value for a statistical test, distance for a distance; compare with `threshold`.
    NaN when the engine found no current value to test."""
    threshold: float
    drifted: bool
    psi: float | None = None
    """Engine only: CSI of the column, PSI on the reference's quantile bins (numeric) or
    categories, with a bin for missing values. Never used for `drifted`."""
    current_null_share: float | None = None
    """Engine only: share of current rows missing (null, NaN or ±inf) in this column."""

    def to_dict(self) -> dict[str, JsonValue]:
        """Strict JSON: a non-finite score (an all-null or degenerate column) becomes None."""
        out: dict[str, JsonValue] = {
            "column": self.column,
            "kind": self.kind,
            "method": self.method,
            "score": _finite_or_none(self.score),
            "threshold": _finite_or_none(self.threshold),
            "drifted": self.drifted,
        }
        if self.psi is not None:
            out |= {"psi": _finite_or_none(self.psi), "psi_band": psi_band(self.psi)}
        if self.current_null_share is not None:
            out["current_null_share"] = self.current_null_share
        return out


@dataclass(frozen=True)
class DriftResult:
    """Per-column verdicts and the dataset verdict of one comparison."""

    features: list[ColumnDrift]
    drifted_share: float
    """Share of compared columns that drifted."""
    dataset_drift: bool
    """True when `drifted_share >= drift_share`."""
    drift_share: float
    """The threshold `drifted_share` was compared with."""
    reference_rows: int
    """Reference rows compared (after sampling, for Evidently's report)."""
    current_rows: int
    """Current rows compared (after sampling, for Evidently's report)."""
    sampled: bool | None = None
    """Evidently's report only: True when either side was sampled down to `max_rows`. None
    for the engine, which compares every row."""
    html: str | None = field(default=None, repr=False)
    """Evidently's report only: a self-contained page. Evidently inlines its JavaScript bundle
    (about 3.5 MB) and icon font, so it renders without network access (the only CDN address
    in the bundle is plotly's map-topology URL, which drift plots never use)."""

    @classmethod
    def of(
        cls,
        features: list[ColumnDrift],
        *,
        drift_share: float,
        reference_rows: int,
        current_rows: int,
        sampled: bool | None = None,
        html: str | None = None,
    ) -> DriftResult:
        """The dataset verdict from the columns': drifted when the drifted share reaches
        `drift_share` (>=, as in Evidently)."""
        drifted_share = sum(f.drifted for f in features) / len(features)
        return cls(
            features=features,
            drifted_share=drifted_share,
            dataset_drift=drifted_share >= drift_share,
            drift_share=drift_share,
            reference_rows=reference_rows,
            current_rows=current_rows,
            sampled=sampled,
            html=html,
        )

    @property
    def drifted_columns(self) -> list[str]:
        """Names of the drifted columns, in the order they were compared."""
        return [f.column for f in self.features if f.drifted]

    def most_moved(self, count: int) -> list[str]:
        """The `count` columns furthest past (or nearest to) their test's threshold, drifted
        first: for a p-value, threshold / p; for a distance, distance / threshold."""

        def severity(feature: ColumnDrift) -> float:
            if not math.isfinite(feature.score):
                return 0.0
            if "p_value" in feature.method:
                return feature.threshold / max(feature.score, 1e-300)
            return feature.score / max(feature.threshold, 1e-300)

        ranked = sorted(self.features, key=lambda f: (not f.drifted, -severity(f)))
        return [f.column for f in ranked[:count]]

    def to_dict(self) -> dict[str, JsonValue]:
        """JSON-serialisable summary without the HTML, e.g. for a stored `drift.json`."""
        out: dict[str, JsonValue] = {
            "features": [f.to_dict() for f in self.features],
            "drifted_share": self.drifted_share,
            "dataset_drift": self.dataset_drift,
            "drift_share": self.drift_share,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
        }
        if self.sampled is not None:
            out["sampled"] = self.sampled
        return out

    def to_frame(self) -> pl.DataFrame:
        """One row per column, e.g. to persist per-batch drift history as a table. PSI and the
        null share are null where the producer did not compute them."""
        return pl.DataFrame(
            {
                "column": [f.column for f in self.features],
                "kind": [f.kind for f in self.features],
                "method": [f.method for f in self.features],
                "score": [f.score for f in self.features],
                "threshold": [f.threshold for f in self.features],
                "drifted": [f.drifted for f in self.features],
                "psi": [f.psi for f in self.features],
                "psi_band": [None if f.psi is None else psi_band(f.psi) for f in self.features],
                "current_null_share": [f.current_null_share for f in self.features],
            },
            schema={
                "column": pl.String,
                "kind": pl.String,
                "method": pl.String,
                "score": pl.Float64,
                "threshold": pl.Float64,
                "drifted": pl.Boolean,
                "psi": pl.Float64,
                "psi_band": pl.String,
                "current_null_share": pl.Float64,
            },
        )

    def to_markdown(self) -> str:
        """Concise summary for the Dagster UI: the headline verdict, then one row per column."""
        verdict = "DETECTED" if self.dataset_drift else "not detected"
        has_psi = any(f.psi is not None for f in self.features)
        sampled = " (sampled)" if self.sampled else ""
        bands = f" PSI bands: {PSI_BANDS_TEXT}." if has_psi else ""
        lines = [
            f"**Dataset drift: {verdict}** — {len(self.drifted_columns)} of "
            f"{len(self.features)} columns drifted ({percent(self.drifted_share, digits=1)}; "
            f"dataset drifts at ≥ {percent(self.drift_share, digits=1)}).",
            "",
            f"Compared {self.reference_rows:,} reference rows with {self.current_rows:,} current "
            f"rows{sampled}.{bands}",
            "",
            *table(
                [*_HEADER, *(_PSI_HEADER if has_psi else ())],
                [_row(f, has_psi) for f in self.features],
                align="lllrrc" + ("rr" if has_psi else ""),
            ),
        ]
        return "\n".join(lines) + "\n"


def _row(f: ColumnDrift, has_psi: bool) -> list[str]:
    # scores and thresholds keep four significant digits: p-values can be tiny
    row = [
        f.column,
        f.kind,
        f.method,
        f"{f.score:.4g}",
        f"{f.threshold:.4g}",
        Markdown("**yes**") if f.drifted else "no",
    ]
    if has_psi:
        psi = NOT_AVAILABLE if f.psi is None else f"{number(f.psi, 4)} ({psi_band(f.psi)})"
        row += [psi, percent(f.current_null_share, digits=1)]
    return row


def _finite_or_none(value: float) -> float | None:
    """A figure strict JSON accepts: NaN and ±inf become None."""
    return value if math.isfinite(value) else None
