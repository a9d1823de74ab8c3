"""Simulated production traffic: monthly application batches with late labels.

Monitoring needs months of production data whose drift is known in advance, so that a drift
report or a performance alert can be checked against the truth. `TrafficSimulator` draws each
month from a fitted `SyntheticApplications` generator and passes it through a drift
`Scenario`; `TrafficSimulator.simulate` plays the months through a simulated clock and writes

    <prefix>/production/<YYYY-MM>.parquet   the month's applications, without the target,
                                            each with a unique `application_id`
    <prefix>/labels/<YYYY-MM>.parquet       `application_id` and the target, written only when
                                            the clock reaches the month + `label_delay_months`

through a `TrafficWriter` (a local folder or a GCS bucket), where every file appears whole or
not at all and is never replaced. A month is generated in chunks of `chunk_rows` and streamed
to parquet, so a 5M-row month needs the memory of one chunk, not of the month.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import polars as pl

from modelops.formatting import number
from modelops.simulation.batch import APPLICATION_ID, MonthlyBatch, stream_to_parquet
from modelops.simulation.scenarios import Scenario
from modelops.simulation.synthetic import CHUNK_ROWS, SyntheticApplications
from modelops.simulation.writers import Layout, TrafficWriter, as_writer
from modelops.spec import UseCaseSpec

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Progress:
    """Where a simulation stands after a month."""

    month: str
    months_done: int
    months_total: int
    rows_done: int
    rows_total: int
    elapsed_s: float
    eta_s: float
    written: tuple[str, ...]
    """URIs written at this clock month (the month's applications, matured labels)."""


@dataclass
class SimulationSummary:
    """What a `simulate` call did: months and rows played, URIs of the files it wrote."""

    months: int = 0
    rows: int = 0
    elapsed_s: float = 0.0
    applications: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)


def print_progress(progress: Progress) -> None:
    """The default progress report: one line per simulated month on stderr."""
    p = progress
    print(
        f"[{p.months_done}/{p.months_total}] {p.month}: "
        f"{p.rows_done:,}/{p.rows_total:,} rows, {number(p.elapsed_s, 1)}s elapsed, "
        f"ETA {number(p.eta_s, 1)}s, wrote {len(p.written)} file(s)",
        file=sys.stderr,
        flush=True,
    )


@dataclass(frozen=True)
class TrafficSimulator:
    """Monthly production batches drawn from `generator`, deterministic per (seed, month).

    Month `index` is the calendar month `start_month` + index. Output depends on the seed, the
    month index, the row count, the scenario and `chunk_rows` (each chunk has its own seeded
    stream), never on which months were generated before.
    """

    generator: SyntheticApplications
    spec: UseCaseSpec
    start_month: str
    label_delay_months: int = 3
    seed: int = 0
    chunk_rows: int = CHUNK_ROWS
    _first: tuple[int, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        match = _MONTH.match(self.start_month)
        if match is None:
            raise ValueError(f"start_month must be YYYY-MM, got {self.start_month!r}")
        object.__setattr__(self, "_first", (int(match[1]), int(match[2])))
        if self.label_delay_months < 0 or self.chunk_rows < 1:
            raise ValueError("need label_delay_months >= 0 and chunk_rows >= 1")
        target = self.spec.data_schema.column(self.spec.target.column).header
        if target != self.generator.target:
            raise ValueError(
                f"the generator's target '{self.generator.target}' is not the spec's '{target}'"
            )

    @property
    def target(self) -> str:
        """The target's source header (the labels file's second column)."""
        return self.generator.target

    def month_name(self, index: int) -> str:
        """Calendar month of month `index`, as YYYY-MM."""
        if index < 0:
            raise ValueError(f"month index must be >= 0, got {index}")
        year, month = self._first
        total = year * 12 + month - 1 + index
        return f"{total // 12:04d}-{total % 12 + 1:02d}"

    def iter_month(
        self, index: int, rows: int, scenario: Scenario | None = None
    ) -> Iterator[MonthlyBatch]:
        """Month `index` chunk by chunk (at most `chunk_rows` rows each), for streaming."""
        month = self.month_name(index)
        if rows == 0:  # one empty chunk, so that an empty month still writes a typed file
            yield self._empty(index)
            return
        sequence = np.random.SeedSequence([self.seed, index])
        generator_seed = int(sequence.generate_state(1)[0])
        generator = self.generator
        if scenario is not None:
            generator = scenario.generator(generator, month_offset=index)
        chunks = generator.iter_batches(rows, seed=generator_seed, batch_rows=self.chunk_rows)
        scenario_streams = sequence.spawn(-(-rows // self.chunk_rows))
        date_header = self._date_header()
        offset = 0
        for chunk, stream in zip(chunks, scenario_streams, strict=True):
            rng = np.random.default_rng(stream)
            if scenario is not None:
                chunk = scenario.apply(chunk, month_offset=index, rng=rng)
            if date_header is not None and date_header in chunk.columns:
                chunk = chunk.with_columns(self._dates_in(month, chunk[date_header], rng))
            ids = pl.format(
                "{}-{}", pl.lit(month), pl.int_range(offset + 1, offset + chunk.height + 1)
            ).alias(APPLICATION_ID)
            chunk = chunk.select(ids, pl.all())
            offset += chunk.height
            batch = MonthlyBatch(
                month=month,
                applications=chunk.drop(self.target),
                labels=chunk.select(APPLICATION_ID, self.target),
            )
            del chunk  # the consumer's batch is the only reference while the next is drawn
            yield batch
            del batch

    def month(self, index: int, rows: int, scenario: Scenario | None = None) -> MonthlyBatch:
        """Month `index` in memory; use `iter_month` or `simulate` for months of millions."""
        chunks = list(self.iter_month(index, rows, scenario))
        return MonthlyBatch(
            month=chunks[0].month,
            applications=pl.concat([c.applications for c in chunks], rechunk=False),
            labels=pl.concat([c.labels for c in chunks], rechunk=False),
        )

    def simulate(
        self,
        months: int,
        rows_per_month: int,
        scenario: Scenario | None,
        writer: TrafficWriter | str | Path,
        *,
        layout: Layout | None = None,
        first_month: int = 0,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> SimulationSummary:
        """Play months `first_month` .. `first_month + months - 1` through the clock.

        At clock month c the simulator writes c's applications and the labels of month
        c - `label_delay_months`, which have just matured (labels of months before
        `first_month` are regenerated deterministically). Labels still immature at the end are
        not written; a later call with a later `first_month` writes them. Existing files are
        kept, so a rerun with the same arguments resumes where a crashed run stopped.
        `on_progress` (default: one line per month on stderr) gets a `Progress` per month.
        """
        if months < 0 or rows_per_month < 0 or first_month < 0:
            raise ValueError("months, rows_per_month and first_month must be >= 0")
        writer = as_writer(writer)
        layout = layout or Layout()
        report = print_progress if on_progress is None else on_progress
        last = first_month + months - 1
        summary = SimulationSummary()
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="modelops-labels-") as pending_dir:
            pending: dict[int, Path] = {}
            for done, clock in enumerate(range(first_month, first_month + months), start=1):
                month = self.month_name(clock)
                written: list[str] = []
                apps_name = layout.applications(month)
                labels_mature = clock + self.label_delay_months <= last
                labels_needed = labels_mature and not writer.exists(layout.labels(month))
                if not writer.exists(apps_name):
                    with writer.create(apps_name) as apps_path:
                        spill = Path(pending_dir, f"{clock}.parquet") if labels_needed else None
                        stream_to_parquet(
                            self.iter_month(clock, rows_per_month, scenario), apps_path, spill
                        )
                    written.append(writer.uri(apps_name))
                    summary.applications.append(writer.uri(apps_name))
                    if spill is not None:
                        pending[clock] = spill

                matured = clock - self.label_delay_months
                if matured >= 0:
                    uri = self._publish_labels(
                        matured, rows_per_month, scenario, writer, layout, pending, pending_dir
                    )
                    if uri is not None:
                        written.append(uri)
                        summary.labels.append(uri)

                elapsed = time.perf_counter() - started
                summary.months, summary.rows = done, done * rows_per_month
                summary.elapsed_s = elapsed
                report(
                    Progress(
                        month=month,
                        months_done=done,
                        months_total=months,
                        rows_done=done * rows_per_month,
                        rows_total=months * rows_per_month,
                        elapsed_s=elapsed,
                        eta_s=elapsed / done * (months - done),
                        written=tuple(written),
                    )
                )
        return summary

    def _publish_labels(
        self,
        index: int,
        rows: int,
        scenario: Scenario | None,
        writer: TrafficWriter,
        layout: Layout,
        pending: dict[int, Path],
        pending_dir: str,
    ) -> str | None:
        name = layout.labels(self.month_name(index))
        if writer.exists(name):
            pending.pop(index, None)
            return None
        staged = pending.pop(index, None) or self._labels_only(index, rows, scenario, pending_dir)
        with writer.create(name) as path:
            shutil.move(staged, path)
        return writer.uri(name)

    def _labels_only(
        self, index: int, rows: int, scenario: Scenario | None, pending_dir: str
    ) -> Path:
        path = Path(pending_dir, f"{index}.parquet")
        stream_to_parquet(self.iter_month(index, rows, scenario), None, path)
        return path

    def _empty(self, index: int) -> MonthlyBatch:
        columns = zip(self.generator.headers, self.generator.dtypes, strict=True)
        frame = pl.DataFrame(schema={APPLICATION_ID: pl.String(), **dict(columns)})
        return MonthlyBatch(
            self.month_name(index),
            frame.drop(self.target),
            frame.select(APPLICATION_ID, self.target),
        )

    def _date_header(self) -> str | None:
        date_column = self.spec.data_schema.date_column
        return self.spec.data_schema.column(date_column).header if date_column else None

    def _dates_in(self, month: str, values: pl.Series, rng: np.random.Generator) -> pl.Series:
        """The spec's date column redrawn uniformly within `month`, in the batch's dtype."""
        column = self.spec.data_schema.column(self.spec.data_schema.date_column or "")
        year, mon = int(month[:4]), int(month[5:])
        start = datetime(year, mon, 1)
        end = datetime(year + mon // 12, mon % 12 + 1, 1)
        dtype = values.dtype
        as_datetime = column.type == "datetime" if dtype == pl.String else dtype == pl.Datetime
        if as_datetime:
            micros = int((end - start).total_seconds() * 1_000_000)
            offsets = pl.Series(rng.integers(0, micros, size=len(values)), dtype=pl.Int64)
            drawn = pl.lit(start, dtype=pl.Datetime("us")) + pl.duration(microseconds=offsets)
        else:
            days = (end - start).days
            offsets = pl.Series(rng.integers(0, days, size=len(values)), dtype=pl.Int64)
            drawn = pl.lit(date(year, mon, 1)) + pl.duration(days=offsets)
        out = pl.select(drawn.alias(values.name)).to_series()
        if dtype == pl.String:
            fmt = column.date_format
            return out.dt.to_string(fmt) if fmt else out.cast(pl.String)
        return out.cast(dtype)
