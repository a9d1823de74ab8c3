"""Synthetic credit applications with a use case's source schema, calibrated on real data.

Benchmarks need 100k to 10M rows and the traffic simulator needs an endless stream, while the
real source has 1,000 rows. `SyntheticApplications` learns a class-conditional Gaussian copula
from the real rows and samples any number of rows in the real file's headers and dtypes:

1. the target is drawn with the real class prior;
2. within each class a latent standard normal vector over all value columns is drawn with the
   correlation of the real rows' normal scores in that class (numbers: mid-ranks; categories:
   mid-points of their frequency-ordered cumulative distribution), so that e.g. duration and
   credit amount stay correlated;
3. each latent coordinate is mapped back through the column's class-conditional empirical
   marginal: numbers through the interpolated empirical quantile function (integers rounded,
   clipped to the spec's min/max, snapped to its allowed values), categories through the
   cut points of their frequency-ordered cumulative distribution, so the class-conditional
   category frequencies are reproduced exactly in expectation.

The class-conditional marginals carry the signal a scorecard learns, so a model trained on
synthetic rows ranks real applications sensibly. Temporal columns (the spec's date column, when
the real data has it) are drawn uniformly over the real range. Rows are generated in chunks of
`CHUNK_ROWS` with vectorised numpy, each chunk from its own seeded stream, so output is
deterministic for a seed and memory stays at the output table plus one chunk. The marginals
and their fitting are in `modelops.simulation.copula`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from modelops.simulation.copula import (
    ClassModel,
    Marginal,
    NumericMarginal,
    TemporalRange,
    fit_categorical,
    fit_numeric,
    fit_temporal,
    latent_cholesky,
)
from modelops.spec import Column, UseCaseSpec
from modelops.spec.schema import TEMPORAL_TYPES

CHUNK_ROWS = 1_000_000
"""Rows generated per vectorised step: large enough to amortise Python, small enough that the
latent matrix (rows x columns float32) stays a few tens of MB."""


@dataclass(frozen=True, eq=False)
class SyntheticApplications:
    """A fitted generator of synthetic rows with the real data's headers and dtypes.

    Immutable, so one fit can serve many samplers; a drift scenario can derive a shifted
    generator with `dataclasses.replace` (e.g. another `prior`).
    """

    headers: tuple[str, ...]
    dtypes: tuple[pl.DataType, ...]
    target: str
    classes: pl.Series
    prior: np.ndarray
    value_columns: tuple[str, ...]
    categories: dict[str, pl.Series]
    class_models: tuple[ClassModel, ...]
    temporal: dict[str, TemporalRange]

    @classmethod
    def fit(cls, real: pl.DataFrame, spec: UseCaseSpec) -> SyntheticApplications:
        """Learn the class prior, per-class marginals and per-class latent correlation.

        Rows that break the spec's value rules (allowed values, min/max, nulls) are left out,
        so that synthetic rows pass validation; the quarantine path is for real data.
        """
        by_header = {c.header: c for c in spec.data_schema.columns}
        date_header = (
            spec.data_schema.column(spec.data_schema.date_column).header
            if spec.data_schema.date_column
            else None
        )
        missing = [h for h in by_header if h not in real.columns and h != date_header]
        if missing:
            raise ValueError(f"the real data lacks columns declared in the spec: {missing}")
        target = spec.data_schema.column(spec.target.column).header
        valid = real.filter(_valid_rows(real, by_header))
        if valid.height == 0:
            raise ValueError("no real row passes the spec's value rules; nothing to fit on")

        temporal: dict[str, TemporalRange] = {}
        value_columns: list[str] = []
        for header in real.columns:
            if header == target:
                continue
            column = by_header.get(header)
            if real.schema[header].is_temporal() or (
                column is not None and column.type in TEMPORAL_TYPES
            ):
                temporal[header] = fit_temporal(valid[header], column)
            else:
                value_columns.append(header)

        numeric = {h for h in value_columns if valid.schema[h].is_numeric()}
        categories = {
            h: valid[h].unique().sort(nulls_last=True) for h in value_columns if h not in numeric
        }
        classes = valid[target].drop_nulls().unique().sort()
        counts = np.array([(valid[target] == c).sum() for c in classes], dtype=np.float64)

        class_models = []
        for value in classes:
            rows = valid.filter(pl.col(target) == value)
            marginals: list[Marginal] = []
            scores = np.zeros((rows.height, len(value_columns)))
            for j, header in enumerate(value_columns):
                if header in numeric:
                    marginal, scores[:, j] = fit_numeric(rows[header], by_header.get(header))
                else:
                    marginal, scores[:, j] = fit_categorical(rows[header], categories[header])
                marginals.append(marginal)
            class_models.append(ClassModel(latent_cholesky(scores), tuple(marginals)))

        return cls(
            headers=tuple(real.columns),
            dtypes=tuple(real.dtypes),
            target=target,
            classes=classes,
            prior=counts / counts.sum(),
            value_columns=tuple(value_columns),
            categories=categories,
            class_models=tuple(class_models),
            temporal=temporal,
        )

    def sample(self, n_rows: int, *, seed: int) -> pl.DataFrame:
        """`n_rows` synthetic rows, deterministic for `seed`."""
        batches = list(self.iter_batches(n_rows, seed=seed))
        if not batches:
            return pl.DataFrame(schema=dict(zip(self.headers, self.dtypes, strict=True)))
        return pl.concat(batches, rechunk=False)

    def iter_batches(
        self, n_rows: int, *, seed: int, batch_rows: int = CHUNK_ROWS
    ) -> Iterator[pl.DataFrame]:
        """The same rows as `sample`, batch by batch, to stream them to a file or a consumer."""
        if n_rows < 0 or batch_rows < 1:
            raise ValueError(f"need n_rows >= 0 and batch_rows >= 1, got {n_rows}, {batch_rows}")
        n_batches = -(-n_rows // batch_rows)
        streams = np.random.SeedSequence(seed).spawn(n_batches)
        for i, stream in enumerate(streams):
            size = min(batch_rows, n_rows - i * batch_rows)
            yield self._batch(size, np.random.default_rng(stream))

    def _batch(self, n_rows: int, rng: np.random.Generator) -> pl.DataFrame:
        labels = np.searchsorted(np.cumsum(self.prior)[:-1], rng.random(n_rows), side="right")
        columns: list[np.ndarray] = []
        for model in self.class_models[0].marginals:
            dtype = np.float64 if isinstance(model, NumericMarginal) else np.uint32
            columns.append(np.empty(n_rows, dtype=dtype))
        for k, model in enumerate(self.class_models):
            rows = np.flatnonzero(labels == k)
            if len(rows) == 0:
                continue
            # One row per column, so that each column's scores are contiguous in memory.
            latent = rng.standard_normal((len(model.marginals), len(rows)), dtype=np.float32)
            latent = model.cholesky @ latent
            for j, marginal in enumerate(model.marginals):
                columns[j][rows] = marginal.sample(latent[j], rng)
            del latent

        out: dict[str, pl.Series] = {}
        for header, values in zip(self.value_columns, columns, strict=True):
            if header in self.categories:
                out[header] = self.categories[header].gather(values)
            else:
                out[header] = pl.Series(header, values, nan_to_null=True)
        for header, column in self.temporal.items():
            out[header] = column.sample(n_rows, rng)
        out[self.target] = self.classes.gather(labels.astype(np.uint32))
        return pl.DataFrame(
            [
                out[h].alias(h).cast(dtype)
                for h, dtype in zip(self.headers, self.dtypes, strict=True)
            ]
        )


def write_synthetic_source(
    real_path: str | Path, spec: UseCaseSpec, n_rows: int, out_path: str | Path, seed: int
) -> Path:
    """Fit on the real source and stream `n_rows` synthetic rows to parquet or CSV.

    Batches are written as they are generated, so memory stays at one batch whatever the size.
    """
    real = _read_source(Path(real_path), spec)
    generator = SyntheticApplications.fit(real, spec)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    batches = generator.iter_batches(n_rows, seed=seed)
    if out.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        writer: pq.ParquetWriter | None = None
        try:
            for batch in batches:
                # Arrow string views share polars' buffers: no copy of the batch.
                table = batch.to_arrow(compat_level=pl.CompatLevel.newest())
                if writer is None:
                    writer = pq.ParquetWriter(out, table.schema, compression="zstd")
                writer.write_table(table)
                del batch, table  # free this batch before the next one is generated
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            real.clear().write_parquet(out)
    else:
        with out.open("wb") as handle:
            wrote = False
            for batch in batches:
                batch.write_csv(handle, include_header=not wrote, separator=_separator(spec))
                wrote = True
            if not wrote:
                real.clear().write_csv(handle, separator=_separator(spec))
    return out


def _read_source(path: Path, spec: UseCaseSpec) -> pl.DataFrame:
    if path.suffix.lower() in (".parquet", ".pq"):
        return pl.read_parquet(path)
    return pl.read_csv(
        path,
        separator=_separator(spec),
        null_values=spec.source.null_values,
        infer_schema_length=10_000,
    )


def _separator(spec: UseCaseSpec) -> str:
    return spec.source.csv_separator


def _valid_rows(real: pl.DataFrame, by_header: dict[str, Column]) -> pl.Expr:
    """Rows whose values satisfy the spec's rules for every declared column present."""
    checks: list[pl.Expr] = [pl.lit(True)]
    for header, column in by_header.items():
        if header not in real.columns:
            continue
        col = pl.col(header)
        dtype = real.schema[header]
        rule = pl.lit(True)
        if column.allowed is not None:
            if dtype == pl.String:
                rule = rule & col.is_in([str(v) for v in column.allowed])
            elif dtype.is_numeric():
                allowed = [v for v in column.allowed if not isinstance(v, str | bool)]
                rule = rule & col.is_in(allowed)
        if dtype.is_numeric():
            if column.min is not None:
                rule = rule & (col >= column.min)
            if column.max is not None:
                rule = rule & (col <= column.max)
        checks.append(col.is_null() | rule if column.nullable else col.is_not_null() & rule)
    return pl.all_horizontal(checks).fill_null(False)
