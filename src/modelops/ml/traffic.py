"""Simulated production traffic: monthly application batches, late labels, and named drifts.

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

Scenarios work on the source headers of the generator's output (target included), so the same
scenario objects can shift the features, the labels, or the generator itself (a shifted class
prior). They compose with `+`, and are registered by name in `SCENARIOS`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import polars as pl

from modelops.ml.synthetic import CHUNK_ROWS, SyntheticApplications
from modelops.spec.model import UseCaseSpec

APPLICATION_ID = "application_id"
"""Column that identifies an application across the production and labels files."""

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_UNSAFE_PARTS = ("", ".", "..")

# --------------------------------------------------------------------------------------------
# Drift scenarios


class Scenario(ABC):
    """A drift that starts at `start_month` (0-based month index) and is a no-op before it.

    Two hooks: `generator` may derive a shifted generator for the month (e.g. another class
    prior, so labels and features move together), `apply` rewrites a generated batch (source
    headers, target included). Subclasses implement `_generator`/`_apply`, which are only
    called from the start month on, with `months_in` = month index - start month.
    """

    name: ClassVar[str]
    start_month: int

    def generator(self, base: SyntheticApplications, *, month_offset: int) -> SyntheticApplications:
        """The generator that draws month `month_offset`."""
        if month_offset < self.start_month:
            return base
        return self._generator(base, months_in=month_offset - self.start_month)

    def apply(
        self, batch: pl.DataFrame, *, month_offset: int, rng: np.random.Generator
    ) -> pl.DataFrame:
        """The batch of month `month_offset` after the drift (the batch itself before it)."""
        if month_offset < self.start_month:
            return batch
        return self._apply(batch, months_in=month_offset - self.start_month, rng=rng)

    def _generator(self, base: SyntheticApplications, *, months_in: int) -> SyntheticApplications:
        return base

    def _apply(
        self, batch: pl.DataFrame, *, months_in: int, rng: np.random.Generator
    ) -> pl.DataFrame:
        return batch

    def __add__(self, other: Scenario) -> Combined:
        """`a + b`: both drifts, `a` first."""
        return Combined((*_parts(self), *_parts(other)))

    def _check_start(self) -> None:
        if self.start_month < 0:
            raise ValueError(f"{self.name}: start_month must be >= 0, got {self.start_month}")


def _parts(scenario: Scenario) -> tuple[Scenario, ...]:
    return scenario.scenarios if isinstance(scenario, Combined) else (scenario,)


@dataclass(frozen=True)
class Combined(Scenario):
    """Several drifts at once, applied in order (each keeps its own start month)."""

    scenarios: tuple[Scenario, ...]
    name: ClassVar[str] = "combined"

    @property
    def start_month(self) -> int:  # type: ignore[override]
        return min((s.start_month for s in self.scenarios), default=0)

    def generator(self, base: SyntheticApplications, *, month_offset: int) -> SyntheticApplications:
        for scenario in self.scenarios:
            base = scenario.generator(base, month_offset=month_offset)
        return base

    def apply(
        self, batch: pl.DataFrame, *, month_offset: int, rng: np.random.Generator
    ) -> pl.DataFrame:
        for scenario in self.scenarios:
            batch = scenario.apply(batch, month_offset=month_offset, rng=rng)
        return batch


@dataclass(frozen=True)
class AmountInflation(Scenario):
    """Income/amount inflation: amounts grow by `yearly_rate`, compounded monthly from the
    start month (the German data has no income column, so the credit amount inflates)."""

    start_month: int = 0
    yearly_rate: float = 0.10
    column: str = "credit_amount"
    name: ClassVar[str] = "amount_inflation"

    def __post_init__(self) -> None:
        self._check_start()
        if self.yearly_rate <= -1:
            raise ValueError(f"{self.name}: yearly_rate must be > -1, got {self.yearly_rate}")

    def factor(self, months_in: int) -> float:
        return (1 + self.yearly_rate) ** (months_in / 12)

    def _apply(
        self, batch: pl.DataFrame, *, months_in: int, rng: np.random.Generator
    ) -> pl.DataFrame:
        dtype = batch.schema[self.column]
        grown = pl.col(self.column) * self.factor(months_in)
        if dtype.is_integer():
            grown = grown.round()
        return batch.with_columns(grown.cast(dtype).alias(self.column))


@dataclass(frozen=True)
class NewSegment(Scenario):
    """A new applicant segment: a growing share of young applicants borrowing for purposes in
    a mix the training data never had (vacation loans, which the German data lacks).

    The segment's share is `initial_share` in the start month and grows by `monthly_growth`
    up to `max_share`; its rows get an age in [`min_age`, `max_age`] and a purpose drawn from
    `purpose_mix`. Labels are left as drawn: how the segment performs is what monitoring finds
    out.
    """

    start_month: int = 0
    initial_share: float = 0.05
    monthly_growth: float = 0.03
    max_share: float = 0.40
    min_age: int = 18
    max_age: int = 24
    purpose_mix: tuple[tuple[str, float], ...] = (
        ("vacation", 0.5),
        ("education", 0.3),
        ("retraining", 0.2),
    )
    age_column: str = "age_in_years"
    purpose_column: str = "purpose"
    name: ClassVar[str] = "new_segment"

    def __post_init__(self) -> None:
        self._check_start()
        if not 0 <= self.initial_share <= self.max_share <= 1 or self.monthly_growth < 0:
            raise ValueError(
                f"{self.name}: need 0 <= initial_share <= max_share <= 1 and monthly_growth >= 0"
            )
        weights = np.array([w for _, w in self.purpose_mix], dtype=np.float64)
        if len(weights) == 0 or (weights < 0).any() or weights.sum() <= 0:
            raise ValueError(f"{self.name}: purpose_mix needs positive weights")
        if self.min_age > self.max_age:
            raise ValueError(f"{self.name}: min_age is above max_age")

    def share(self, months_in: int) -> float:
        return min(self.max_share, self.initial_share + self.monthly_growth * months_in)

    def _apply(
        self, batch: pl.DataFrame, *, months_in: int, rng: np.random.Generator
    ) -> pl.DataFrame:
        n_rows = batch.height
        in_segment = pl.Series(rng.random(n_rows) < self.share(months_in))
        ages = pl.Series(rng.integers(self.min_age, self.max_age + 1, size=n_rows))
        purposes, weights = zip(*self.purpose_mix, strict=True)
        p = np.asarray(weights, dtype=np.float64)
        picks = rng.choice(len(purposes), size=n_rows, p=p / p.sum())
        purpose = pl.Series(purposes, dtype=pl.String).gather(picks)
        return batch.with_columns(
            pl.when(in_segment)
            .then(ages)
            .otherwise(pl.col(self.age_column))
            .cast(batch.schema[self.age_column])
            .alias(self.age_column),
            pl.when(in_segment)
            .then(purpose)
            .otherwise(pl.col(self.purpose_column))
            .cast(batch.schema[self.purpose_column])
            .alias(self.purpose_column),
        )


@dataclass(frozen=True)
class BrokenFeature(Scenario):
    """An upstream feed breaks: `column` arrives all-null from the start month on."""

    start_month: int = 0
    column: str = "present_employment_since"
    name: ClassVar[str] = "broken_feature"

    def __post_init__(self) -> None:
        self._check_start()

    def _apply(
        self, batch: pl.DataFrame, *, months_in: int, rng: np.random.Generator
    ) -> pl.DataFrame:
        if self.column not in batch.columns:
            raise KeyError(f"{self.name}: the batch has no column '{self.column}'")
        dtype = batch.schema[self.column]
        return batch.with_columns(pl.lit(None, dtype=dtype).alias(self.column))


@dataclass(frozen=True)
class DefaultRateShift(Scenario):
    """The bad rate moves by `factor` from the start month on.

    Implemented on the generator (more rows drawn from the bad class's copula), so the labels
    and every feature the bad class differs in move together, as they would in a downturn.
    """

    start_month: int = 0
    factor: float = 1.6
    positive_class: str = "bad"
    name: ClassVar[str] = "default_rate_shift"

    def __post_init__(self) -> None:
        self._check_start()
        if self.factor <= 0:
            raise ValueError(f"{self.name}: factor must be > 0, got {self.factor}")

    def _generator(self, base: SyntheticApplications, *, months_in: int) -> SyntheticApplications:
        classes = base.classes.to_list()
        if self.positive_class not in classes:
            raise ValueError(f"{self.name}: '{self.positive_class}' is not a class of {classes}")
        k = classes.index(self.positive_class)
        rate = min(1.0, float(base.prior[k]) * self.factor)
        others = np.delete(base.prior, k)
        prior = np.empty_like(base.prior)
        prior[k] = rate
        rest = others.sum()
        prior[np.arange(len(prior)) != k] = (
            others / rest * (1 - rate) if rest > 0 else (1 - rate) / len(others)
        )
        return dataclasses.replace(base, prior=prior)


SCENARIOS: dict[str, type[Scenario]] = {
    s.name: s for s in (AmountInflation, NewSegment, BrokenFeature, DefaultRateShift)
}
"""Drift scenarios by name: `SCENARIOS["broken_feature"](start_month=6, column="telephone")`."""


def make_scenario(name: str, **params: Any) -> Scenario:
    """A registered scenario from its name and parameters (e.g. from a CLI or a config)."""
    if name not in SCENARIOS:
        raise KeyError(f"unknown scenario '{name}'; known: {sorted(SCENARIOS)}")
    return SCENARIOS[name](**params)


# --------------------------------------------------------------------------------------------
# Months of traffic


@dataclass(frozen=True)
class MonthlyBatch:
    """One month of production traffic (or one chunk of it)."""

    month: str
    """YYYY-MM"""
    applications: pl.DataFrame
    """`application_id` then the source headers, without the target."""
    labels: pl.DataFrame
    """`application_id` and the target (source header), one row per application."""


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
        writer = _as_writer(writer)
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
                        _stream(self.iter_month(clock, rows_per_month, scenario), apps_path, spill)
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
        _stream(self.iter_month(index, rows, scenario), None, path)
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


def _stream(chunks: Iterable[MonthlyBatch], applications: Path | None, labels: Path | None) -> None:
    """Write chunks' applications and/or labels to parquet files as they are generated."""
    import pyarrow.parquet as pq

    writers: dict[str, pq.ParquetWriter] = {}
    try:
        for chunk in chunks:
            for key, path, frame in (
                ("applications", applications, chunk.applications),
                ("labels", labels, chunk.labels),
            ):
                if path is None:
                    continue
                table = frame.to_arrow(compat_level=pl.CompatLevel.newest())
                if key not in writers:
                    writers[key] = pq.ParquetWriter(path, table.schema, compression="zstd")
                writers[key].write_table(table)
                del table
            del chunk  # free this chunk before the next one is generated
    finally:
        for w in writers.values():
            w.close()


# --------------------------------------------------------------------------------------------
# Where the files go


@dataclass(frozen=True)
class Layout:
    """File names of the simulated traffic, under an optional prefix (e.g. the use case id)."""

    prefix: str = ""
    production: str = "production"
    labels_dir: str = "labels"

    def applications(self, month: str) -> str:
        return self._name(self.production, f"{month}.parquet")

    def labels(self, month: str) -> str:
        return self._name(self.labels_dir, f"{month}.parquet")

    def _name(self, *parts: str) -> str:
        return "/".join(p.strip("/") for p in (self.prefix, *parts) if p.strip("/"))


class TrafficWriter(ABC):
    """Where simulated files go. A file appears whole or not at all and is never replaced:
    readers polling for a month never see half a file, and a rerun keeps what exists."""

    @abstractmethod
    def exists(self, name: str) -> bool: ...

    @abstractmethod
    def create(self, name: str) -> contextlib.AbstractContextManager[Path]:
        """A local path to write `name` into; published when the block exits cleanly, else
        discarded. If `name` exists meanwhile, the existing file is kept."""

    @abstractmethod
    def uri(self, name: str) -> str: ...


def _check_name(name: str) -> str:
    parts = name.split("/")
    if any(p in _UNSAFE_PARTS for p in parts):
        raise ValueError(f"{name!r} is not a safe relative file name")
    return name


class LocalTrafficWriter(TrafficWriter):
    """Files under a local folder: written to a temp file beside the target, then linked into
    place (create-only and atomic; a rename where hard links are unsupported)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, name: str) -> Path:
        return self.root / _check_name(name)

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    @contextlib.contextmanager
    def create(self, name: str) -> Iterator[Path]:
        target = self.path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(handle)
        try:
            yield Path(temp)
            try:
                os.link(temp, target)  # fails if the target exists: create-only
            except FileExistsError:
                pass
            except OSError:
                if not target.exists():
                    os.replace(temp, target)
        finally:
            if os.path.exists(temp):
                os.unlink(temp)

    def uri(self, name: str) -> str:
        return self.path(name).resolve().as_uri()


class GcsTrafficWriter(TrafficWriter):
    """Objects in a GCS bucket (a `google.cloud.storage.Bucket`), under `prefix`.

    A file is staged locally, then uploaded with `if_generation_match=0`: GCS creates the object
    only if none exists (a concurrent writer's object is kept) and an object appears only when
    its upload completes, so a crash never leaves a truncated month.
    """

    def __init__(self, bucket: Any, prefix: str = "", *, chunk_size: int | None = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.chunk_size = chunk_size

    def object_name(self, name: str) -> str:
        return "/".join(p for p in (self.prefix, _check_name(name)) if p)

    def _blob(self, name: str) -> Any:
        return self.bucket.blob(self.object_name(name), chunk_size=self.chunk_size)

    def exists(self, name: str) -> bool:
        return self._blob(name).exists()

    @contextlib.contextmanager
    def create(self, name: str) -> Iterator[Path]:
        from google.api_core.exceptions import PreconditionFailed

        blob = self._blob(name)
        with tempfile.TemporaryDirectory(prefix="modelops-gcs-") as staging:
            path = Path(staging, Path(name).name)
            path.touch()
            yield path
            with contextlib.suppress(PreconditionFailed):  # someone created it: theirs is kept
                blob.upload_from_filename(
                    str(path), content_type="application/vnd.apache.parquet", if_generation_match=0
                )

    def uri(self, name: str) -> str:
        return f"gs://{self.bucket.name}/{self.object_name(name)}"


def _as_writer(writer: TrafficWriter | str | Path) -> TrafficWriter:
    return writer if isinstance(writer, TrafficWriter) else LocalTrafficWriter(writer)


@dataclass(frozen=True)
class MonthFiles:
    applications: str
    labels: str


def write_month(
    batch: MonthlyBatch | Iterable[MonthlyBatch],
    writer: TrafficWriter | str | Path,
    layout: Layout | None = None,
) -> MonthFiles:
    """Write one month's applications and labels now (labels already matured, e.g. a backfill).

    `batch` is a month or its chunks (`TrafficSimulator.iter_month`), streamed to the files.
    """
    writer = _as_writer(writer)
    layout = layout or Layout()
    chunks = iter([batch] if isinstance(batch, MonthlyBatch) else batch)
    first = next(chunks, None)
    if first is None:
        raise ValueError("write_month needs at least one batch")
    month = first.month
    apps_name, labels_name = layout.applications(month), layout.labels(month)
    with (
        tempfile.TemporaryDirectory(prefix="modelops-labels-") as staging,
        writer.create(apps_name) as apps_path,
    ):
        staged_labels = Path(staging, "labels.parquet")
        _stream(_same_month(first, chunks), apps_path, staged_labels)
        with writer.create(labels_name) as labels_path:
            shutil.move(staged_labels, labels_path)
    return MonthFiles(writer.uri(apps_name), writer.uri(labels_name))


def _same_month(first: MonthlyBatch, rest: Iterator[MonthlyBatch]) -> Iterator[MonthlyBatch]:
    yield first
    for chunk in rest:
        if chunk.month != first.month:
            raise ValueError(f"chunks of months {first.month} and {chunk.month} mixed")
        yield chunk


# --------------------------------------------------------------------------------------------
# Progress


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
        f"{p.rows_done:,}/{p.rows_total:,} rows, {p.elapsed_s:.1f}s elapsed, "
        f"ETA {p.eta_s:.1f}s, wrote {len(p.written)} file(s)",
        file=sys.stderr,
        flush=True,
    )
