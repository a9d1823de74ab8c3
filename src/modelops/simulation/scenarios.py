"""Named drifts for simulated traffic, each starting at a chosen month.

A scenario works on the source headers of the generator's output (target included), so the
same scenario objects can shift the features, the labels, or the generator itself (a shifted
class prior). Scenarios compose with `+` and are registered by name in `SCENARIOS`, so a CLI
or a config can pick one with `make_scenario`.
"""

from __future__ import annotations

import dataclasses
from abc import ABC
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import polars as pl

from modelops.simulation.synthetic import SyntheticApplications

ScenarioParameter = float | str | tuple[tuple[str, float], ...]
"""What a scenario's fields hold: rates, months, column or class names, a purpose mix."""


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


@dataclass(frozen=True)
class UnitChange(Scenario):
    """A data incident: upstream starts delivering `column` in other units (thousands instead
    of units: divided by `divisor`) for `months` months, then the feed is mended."""

    start_month: int = 0
    months: int = 1
    column: str = "credit_amount"
    divisor: float = 1000.0
    name: ClassVar[str] = "unit_change"

    def __post_init__(self) -> None:
        self._check_start()
        if self.divisor <= 0 or self.months < 1:
            raise ValueError(f"{self.name}: divisor must be > 0 and months >= 1")

    def _apply(
        self, batch: pl.DataFrame, *, months_in: int, rng: np.random.Generator
    ) -> pl.DataFrame:
        if months_in >= self.months:
            return batch
        dtype = batch.schema[self.column]
        changed = pl.col(self.column) / self.divisor
        if dtype.is_integer():
            changed = changed.round()
        return batch.with_columns(changed.cast(dtype).alias(self.column))


@dataclass(frozen=True)
class RenamedCategory(Scenario):
    """A data incident: upstream renames category `old` of `column` to `new` for `months`."""

    start_month: int = 0
    months: int = 1
    column: str = "purpose"
    old: str = "radio/television"
    new: str = "radio_tv"
    name: ClassVar[str] = "renamed_category"

    def __post_init__(self) -> None:
        self._check_start()

    def _apply(
        self, batch: pl.DataFrame, *, months_in: int, rng: np.random.Generator
    ) -> pl.DataFrame:
        if months_in >= self.months:
            return batch
        renamed = pl.col(self.column).cast(pl.String).replace(self.old, self.new)
        return batch.with_columns(renamed.alias(self.column))


@dataclass(frozen=True)
class PopulationShift(Scenario):
    """A real, persistent population change in one step, a downturn: from the start month on,
    the safer applicants (a healthy or no checking account, or a history of credits paid
    elsewhere) mostly go to other lenders, each still applying with probability `keep`, and
    `young_share` of applicants are 18 to 24 years old.

    The mix moves toward the middle-to-risky applicants the model tells apart less well, so
    the bad rate rises and the AUC falls; what an application's data says about its outcome
    does not change, so the model stays calibrated (what an estimate before the labels
    assumes). Age is a protected attribute and no model input: its mix moves all the same.
    The month has fewer applications. It then stays put, so a model retrained on it can learn
    it."""

    start_month: int = 0
    keep: float = 0.1
    young_share: float = 0.3
    checking_column: str = "status_of_existing_checking_account"
    still_applying: tuple[str, ...] = ("... < 0 DM", "0 <= ... < 200 DM")
    history_column: str = "credit_history"
    going_elsewhere: tuple[str, ...] = (
        "critical account/ other credits existing (not at this bank)",
    )
    age_column: str = "age_in_years"
    name: ClassVar[str] = "population_shift"

    def __post_init__(self) -> None:
        self._check_start()
        if not 0 < self.keep <= 1 or not 0 <= self.young_share <= 1:
            raise ValueError(f"{self.name}: need 0 < keep <= 1 and 0 <= young_share <= 1")

    def _apply(
        self, batch: pl.DataFrame, *, months_in: int, rng: np.random.Generator
    ) -> pl.DataFrame:
        columns = (self.checking_column, self.history_column, self.age_column)
        missing = [c for c in columns if c not in batch.columns]
        if missing:
            raise KeyError(f"{self.name}: the batch has no column(s) {missing}")
        stays = pl.col(self.checking_column).cast(pl.String).is_in(self.still_applying) & ~pl.col(
            self.history_column
        ).cast(pl.String).is_in(self.going_elsewhere)
        lucky = pl.Series(rng.random(batch.height) < self.keep)
        young = pl.Series(rng.random(batch.height) < self.young_share)
        ages = pl.Series(rng.integers(18, 25, size=batch.height))
        return batch.with_columns(
            pl.when(young)
            .then(ages)
            .otherwise(pl.col(self.age_column))
            .cast(batch.schema[self.age_column])
            .alias(self.age_column)
        ).filter(stays | lucky)


SCENARIOS: dict[str, type[Scenario]] = {
    s.name: s
    for s in (
        AmountInflation,
        NewSegment,
        BrokenFeature,
        DefaultRateShift,
        UnitChange,
        RenamedCategory,
        PopulationShift,
    )
}
"""Drift scenarios by name: `SCENARIOS["broken_feature"](start_month=6, column="telephone")`."""


def make_scenario(name: str, **params: ScenarioParameter) -> Scenario:
    """A registered scenario from its name and parameters (e.g. from a CLI or a config).
    Several at once: `"unit_change@3+population_shift@6"` (each with its 0-based start
    month; `params` then apply to none of them)."""
    if "+" in name or "@" in name:
        parts = []
        for part in name.split("+"):
            label, _, start = part.strip().partition("@")
            if label not in SCENARIOS or not start.strip().isdigit():
                raise KeyError(
                    f"'{part}': expected <scenario>@<start month>; known: {sorted(SCENARIOS)}"
                )
            parts.append(SCENARIOS[label](start_month=int(start)))
        return Combined(tuple(parts))
    if name not in SCENARIOS:
        raise KeyError(f"unknown scenario '{name}'; known: {sorted(SCENARIOS)}")
    return SCENARIOS[name](**params)
