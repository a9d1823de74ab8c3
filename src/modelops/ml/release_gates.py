"""The release gates a candidate model must pass before it may become champion (M4, M9, M20).

The limits are fixed in a `GatePlan` when the model is trained, before anyone sees its
holdout results, and stored with the model. The gates are then evaluated against that recorded
plan, not against the current spec or policy: a limit cannot be loosened after the fact to let
a disappointing model through, and a validator can see exactly which bar the model was held to.

Every gate is evaluated, whatever the tier; the plan's `required_gates` (from the tier policy)
decide which failures block the release. A failed gate that is not required is a warning.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import polars as pl

from modelops.ml.fairness import FairnessReport, _cell, _num, _table
from modelops.spec.model import Column, UseCaseSpec
from modelops.spec.risk import GATE_NAMES, RiskAssessment, TierPolicy

EPSILON = 1e-9
"""A figure exactly at its limit passes; float noise (0.7 + 0.02 != 0.72) must not fail it."""

Figure = float | str | None

_BOOL_TEXT = frozenset({"true", "false", "0", "1", "yes", "no"})


@dataclass(frozen=True)
class GatePlan:
    """Every limit a release is held to, recorded when the model is trained."""

    use_case: str
    tier: str
    rationale: tuple[str, ...]
    required_gates: tuple[str, ...]
    min_auc: float | None
    min_ks: float | None
    max_brier: float | None
    baseline_margin: float
    champion_tolerance: float
    max_demographic_parity_difference: float
    max_equalized_odds_difference: float
    min_group_size: int
    min_outcome_count: int
    min_slice_auc: float
    min_slice_rows: int
    max_score_psi: float
    fairness_attributes: tuple[str, ...]
    model_inputs: tuple[str, ...]
    protected_attributes: tuple[str, ...]
    allow_protected_features: bool

    def __post_init__(self) -> None:
        unknown = [g for g in self.required_gates if g not in GATE_NAMES]
        if unknown:
            raise ValueError(f"unknown gate(s) {unknown}; gates are {', '.join(GATE_NAMES)}")

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GatePlan:
        """The plan stored with a model; a missing or unknown key raises (a damaged plan)."""
        names = {f.name for f in fields(cls)}
        if set(data) != names:
            raise ValueError(
                f"not a gate plan: missing {sorted(names - set(data))}, "
                f"unknown {sorted(set(data) - names)}"
            )
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    def fingerprint(self) -> str:
        """sha256 of the canonical JSON, to prove later that the plan was not changed."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def gate_plan(spec: UseCaseSpec, assessment: RiskAssessment, policy: TierPolicy) -> GatePlan:
    """The plan of a use case at its assessed tier: the spec's metric thresholds and inputs,
    the tier policy's gates and limits."""
    return GatePlan(
        use_case=spec.id,
        tier=assessment.tier,
        rationale=tuple(assessment.rationale),
        required_gates=tuple(policy.required_gates),
        min_auc=spec.evaluation.min_auc,
        min_ks=spec.evaluation.min_ks,
        max_brier=spec.evaluation.max_brier,
        baseline_margin=policy.baseline_margin,
        champion_tolerance=policy.champion_tolerance,
        max_demographic_parity_difference=policy.fairness.max_demographic_parity_difference,
        max_equalized_odds_difference=policy.fairness.max_equalized_odds_difference,
        min_group_size=policy.fairness.min_group_size,
        min_outcome_count=policy.fairness.min_outcome_count,
        min_slice_auc=policy.slice_floors.min_auc,
        min_slice_rows=policy.slice_floors.min_rows,
        max_score_psi=policy.max_score_psi,
        fairness_attributes=tuple(spec.fairness_attributes),
        model_inputs=tuple(spec.model_inputs),
        protected_attributes=tuple(spec.data_schema.protected_attributes),
        allow_protected_features=spec.model.allow_protected_features,
    )


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict, with the figures and limits a validator needs to check it."""

    name: str
    passed: bool
    required: bool
    summary: str
    measured: dict[str, Figure]
    limits: dict[str, Figure]
    details_markdown: str

    @property
    def blocking(self) -> bool:
        """A failed required gate blocks the release; a failed optional one only warns."""
        return self.required and not self.passed

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "required": self.required,
            "summary": self.summary,
            "measured": {k: _figure(v) for k, v in self.measured.items()},
            "limits": {k: _figure(v) for k, v in self.limits.items()},
            "details_markdown": self.details_markdown,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateResult:
        return cls(
            name=data["name"],
            passed=bool(data["passed"]),
            required=bool(data["required"]),
            summary=data["summary"],
            measured=dict(data["measured"]),
            limits=dict(data["limits"]),
            details_markdown=data["details_markdown"],
        )


@dataclass(frozen=True)
class FeatureAvailability:
    """Whether the production source delivers every raw column the model needs, usably."""

    source: str
    """Where the production schema came from (a URI or a description)."""
    missing: tuple[str, ...]
    wrong_type: tuple[str, ...]
    empty: tuple[str, ...]
    """Each entry reads 'column: reason', the column named by its source header."""
    checked: tuple[str, ...]

    @property
    def problems(self) -> tuple[str, ...]:
        return self.missing + self.wrong_type + self.empty

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureAvailability:
        return cls(
            source=data["source"],
            missing=tuple(data["missing"]),
            wrong_type=tuple(data["wrong_type"]),
            empty=tuple(data["empty"]),
            checked=tuple(data["checked"]),
        )


def check_feature_availability(
    spec: UseCaseSpec, production: pl.DataFrame, source: str
) -> FeatureAvailability:
    """Check the raw columns the model needs against a sample of a production batch.

    `production` has the source's headers and types (Parquet typed, CSV as text). A column
    that is absent, of an unusable type, or null on every row would make production scoring
    fail or silently score on imputed values, so each is reported; all problems at once.
    """
    missing: list[str] = []
    wrong_type: list[str] = []
    empty: list[str] = []
    checked: list[str] = []
    for column in _needed_columns(spec):
        header = column.header
        checked.append(header)
        named = f" (spec column {column.name})" if header != column.name else ""
        if header not in production.columns:
            missing.append(f"{header}: not in the production data{named}")
            continue
        values = _blank_as_null(production.get_column(header))
        if values.null_count() == values.len():
            reason = "the sample has no rows" if values.len() == 0 else "null on every row"
            empty.append(f"{header}: {reason}{named}")
            continue
        problem = _type_problem(values, column)
        if problem:
            wrong_type.append(f"{header}: {problem}{named}")
    return FeatureAvailability(
        source=source,
        missing=tuple(missing),
        wrong_type=tuple(wrong_type),
        empty=tuple(empty),
        checked=tuple(checked),
    )


def _needed_columns(spec: UseCaseSpec) -> list[Column]:
    """Raw model inputs plus the columns the engineered model inputs are computed from."""
    names = list(spec.features.raw)
    for feature in spec.engineered_inputs:
        names += pl.sql_expr(feature.expression).meta.root_names()
    return [spec.data_schema.column(name) for name in dict.fromkeys(names)]


def _blank_as_null(values: pl.Series) -> pl.Series:
    """Text as validation reads it: surrounding spaces ignored, a blank cell is a null."""
    if values.dtype != pl.String:
        return values
    return values.str.strip_chars().replace("", None)


def _type_problem(values: pl.Series, column: Column) -> str | None:
    """Why the values cannot be read as the column's spec type, or None when they can."""
    values = _blank_as_null(values)
    dtype = values.dtype
    expected = column.type
    if expected in ("int", "float"):
        if dtype.is_numeric():
            return None
        if dtype == pl.String:
            bad = values.filter(
                values.cast(pl.Float64, strict=False).is_null() & values.is_not_null()
            )
            return _bad_text(bad, f"text that is not a number (spec type {expected})")
    elif expected == "category":
        if dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum):
            return None
        return f"{dtype} values; a category must arrive as text (numbers as strings)"
    elif expected == "bool":
        if dtype == pl.Boolean:
            return None
        if dtype == pl.String:
            bad = values.filter(
                values.is_not_null() & ~values.str.to_lowercase().is_in(list(_BOOL_TEXT))
            )
            return _bad_text(bad, "text that is not a boolean (true/false, 0/1, yes/no)")
    else:  # date, datetime
        if dtype == pl.Date or isinstance(dtype, pl.Datetime):
            return None
        if dtype == pl.String:
            try:
                parsed = (
                    values.str.to_date(column.date_format, strict=False)
                    if expected == "date"
                    else values.str.to_datetime(column.date_format, strict=False)
                )
            except pl.exceptions.PolarsError:
                parsed = pl.Series([None] * values.len(), dtype=pl.Date)
            bad = values.filter(parsed.is_null() & values.is_not_null())
            fmt = f" in format {column.date_format}" if column.date_format else ""
            return _bad_text(bad, f"text that is not a {expected}{fmt}")
    return f"{dtype} values where the spec expects {expected}"


def _bad_text(bad: pl.Series, what: str) -> str | None:
    if bad.len() == 0:
        return None
    return f"{bad.len()} value(s) of {what}, e.g. '{bad[0]}'"


def evaluate_release_gates(
    plan: GatePlan,
    *,
    evaluation: dict[str, Any],
    fairness: FairnessReport,
    score_psi: float | None,
    fitted_inputs: Sequence[str],
    availability: FeatureAvailability,
) -> list[GateResult]:
    """Every gate against the recorded plan, one result per gate in `GATE_NAMES` order.

    `evaluation` is `EvaluationReport.to_dict()`; `fitted_inputs` are the feature names the
    fitted model actually consumes (after preprocessing), not the ones the spec declares.
    """
    checks: dict[str, Callable[[], _Verdict]] = {
        "minimum_performance": lambda: _minimum_performance(plan, evaluation),
        "beats_baseline": lambda: _beats_baseline(plan, evaluation),
        "no_worse_than_champion": lambda: _no_worse_than_champion(plan, evaluation),
        "fairness": lambda: _fairness(plan, fairness),
        "slice_floors": lambda: _slice_floors(plan, evaluation),
        "score_stability": lambda: _score_stability(plan, score_psi),
        "feature_availability": lambda: _feature_availability(availability),
        "protected_attributes_not_inputs": lambda: _protected_not_inputs(plan, fitted_inputs),
    }
    missing = [name for name in GATE_NAMES if name not in checks]
    if missing:
        raise NotImplementedError(f"no rule for gate(s) {missing}")
    results = []
    for name in GATE_NAMES:
        verdict = checks[name]()
        results.append(
            GateResult(
                name=name,
                passed=verdict.passed,
                required=name in plan.required_gates,
                summary=verdict.summary,
                measured=verdict.measured,
                limits=verdict.limits,
                details_markdown=verdict.details,
            )
        )
    return results


def gates_markdown(results: Sequence[GateResult]) -> str:
    """One line per gate for the release review: whether it is required and its verdict."""
    rows = [
        [
            r.name,
            "yes" if r.required else "no",
            "PASS" if r.passed else ("FAIL" if r.required else "WARN"),
            _cell(r.summary),
        ]
        for r in results
    ]
    blocking = [r.name for r in results if r.blocking]
    verdict = (
        f"**Blocked** by {', '.join(blocking)}." if blocking else "**No blocking gate failed.**"
    )
    lines = [
        "## Release gates",
        "",
        verdict,
        "",
        *_table(["Gate", "Required", "Result", "Summary"], rows),
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class _Verdict:
    passed: bool
    summary: str
    measured: dict[str, Figure]
    limits: dict[str, Figure]
    details: str


def _minimum_performance(plan: GatePlan, evaluation: dict[str, Any]) -> _Verdict:
    candidate = evaluation["candidate"]
    checks = [
        ("AUC", "auc", plan.min_auc, ">="),
        ("KS", "ks", plan.min_ks, ">="),
        ("Brier", "brier", plan.max_brier, "<="),
    ]
    measured = {metric: _finite(candidate.get(metric)) for _, metric, _, _ in checks}
    limits: dict[str, Figure] = {}
    parts: list[str] = []
    rows: list[list[str]] = []
    passed = True
    for label, metric, limit, direction in checks:
        if limit is None:
            continue
        limits[f"{'min' if direction == '>=' else 'max'}_{metric}"] = limit
        actual = measured[metric]
        ok = _at_least(actual, limit) if direction == ">=" else _at_most(actual, limit)
        passed &= ok
        shown = direction if ok else {">=": "<", "<=": ">"}[direction]
        parts.append(f"{label} {_fig(actual)} {shown} {_lim(limit)}")
        rows.append([label, _fig(actual), f"{direction} {_lim(limit)}", _ok(ok)])
    if not limits:
        return _Verdict(True, "no thresholds set in spec.evaluation", measured, limits, "")
    details = _table(["Metric", "Holdout", "Limit", "Result"], rows)
    return _Verdict(passed, "holdout " + "; ".join(parts), measured, limits, "\n".join(details))


def _beats_baseline(plan: GatePlan, evaluation: dict[str, Any]) -> _Verdict:
    ours = _finite(evaluation["candidate"].get("auc"))
    theirs = _finite(evaluation["baseline"].get("auc"))
    name = evaluation.get("baseline_name", "baseline")
    difference = ours - theirs if ours is not None and theirs is not None else None
    passed = _at_least(difference, plan.baseline_margin)
    measured: dict[str, Figure] = {
        "candidate_auc": ours,
        "baseline_auc": theirs,
        "difference": difference,
    }
    limits: dict[str, Figure] = {"baseline_margin": plan.baseline_margin}
    shown = ">=" if passed else "<"
    summary = (
        f"AUC {_fig(ours)} vs baseline {_fig(theirs)}: difference {_delta(difference)} "
        f"{shown} required margin {_lim(plan.baseline_margin)}"
    )
    details = _table(
        ["Model", "Holdout AUC"],
        [["candidate", _fig(ours)], [f"baseline ({_cell(str(name))})", _fig(theirs)]],
    )
    return _Verdict(passed, summary, measured, limits, "\n".join(details))


def _no_worse_than_champion(plan: GatePlan, evaluation: dict[str, Any]) -> _Verdict:
    limits: dict[str, Figure] = {"champion_tolerance": plan.champion_tolerance}
    ours = _finite(evaluation["candidate"].get("auc"))
    champion = evaluation.get("champion")
    if champion is None:
        return _Verdict(
            True,
            "no champion yet",
            {"candidate_auc": ours, "champion_version": None},
            limits,
            "No champion in production: nothing to compare against.",
        )
    version = str(champion.get("version"))
    if champion.get("error") is not None or champion.get("metrics") is None:
        error = champion.get("error") or "no metrics recorded"
        # A comparison that could not be made is not a comparison that passed.
        return _Verdict(
            False,
            f"champion {version} could not be scored on the holdout: {error}",
            {"candidate_auc": ours, "champion_version": version, "champion_error": error},
            limits,
            f"Champion {_cell(version)} could not be scored: {_cell(error)}",
        )
    theirs = _finite(champion["metrics"].get("auc"))
    difference = ours - theirs if ours is not None and theirs is not None else None
    passed = _at_least(difference, -plan.champion_tolerance)
    shown = ">=" if passed else "<"
    summary = (
        f"AUC {_fig(ours)} vs champion {version} {_fig(theirs)}: difference "
        f"{_delta(difference)} {shown} -{_lim(plan.champion_tolerance)} allowed"
    )
    measured: dict[str, Figure] = {
        "candidate_auc": ours,
        "champion_version": version,
        "champion_auc": theirs,
        "difference": difference,
    }
    details = _table(
        ["Model", "Holdout AUC"],
        [["candidate", _fig(ours)], [f"champion {_cell(version)}", _fig(theirs)]],
    )
    return _Verdict(passed, summary, measured, limits, "\n".join(details))


def _fairness(plan: GatePlan, report: FairnessReport) -> _Verdict:
    max_dpd = plan.max_demographic_parity_difference
    max_eod = plan.max_equalized_odds_difference
    limits: dict[str, Figure] = {
        "max_demographic_parity_difference": max_dpd,
        "max_equalized_odds_difference": max_eod,
        "min_group_size": plan.min_group_size,
        "min_outcome_count": plan.min_outcome_count,
    }
    measured: dict[str, Figure] = {"threshold": report.threshold}
    failures: list[str] = []
    notes: list[str] = []
    rows: list[list[str]] = []
    if (report.min_group_size, report.min_outcome_count) != (
        plan.min_group_size,
        plan.min_outcome_count,
    ):
        failures.append(
            f"report computed with groups of >= {report.min_group_size} rows and "
            f">= {report.min_outcome_count} of each outcome, the plan requires "
            f"{plan.min_group_size} and {plan.min_outcome_count}"
        )
    absent = [a for a in plan.fairness_attributes if report.attribute(a) is None]
    if absent:
        failures.append(f"not in the fairness report: {', '.join(absent)}")
    for name in plan.fairness_attributes:
        attribute = report.attribute(name)
        if attribute is None:
            continue
        dpd = attribute.demographic_parity_difference
        eod = attribute.equalized_odds_difference
        measured[f"{name}.demographic_parity_difference"] = dpd
        measured[f"{name}.equalized_odds_difference"] = eod
        dpd_ok = dpd is None or _at_most(dpd, max_dpd)
        eod_ok = eod is None or _at_most(eod, max_eod)
        if not dpd_ok:
            failures.append(f"{name} DPD {_fig(dpd)} > {_lim(max_dpd)}")
        if not eod_ok:
            failures.append(f"{name} EOD {_fig(eod)} > {_lim(max_eod)}")
        if (dpd is None or eod is None) and attribute.note:
            notes.append(f"{name}: {attribute.note}")
        rows.append(
            [
                _cell(name),
                _num(dpd),
                _num(eod),
                _ok(dpd_ok and eod_ok) + ("" if dpd is not None and eod is not None else " (n/a)"),
            ]
        )
    details = [
        f"Limits: demographic parity difference <= {_lim(max_dpd)}, equalized odds "
        f"difference <= {_lim(max_eod)}, over groups of >= {plan.min_group_size} rows "
        f"(equalized odds: >= {plan.min_outcome_count} actual bads and goods); "
        f"selected = predicted bad at threshold {report.threshold:g}.",
        "",
        *_table(["Attribute", "DPD", "EOD", "Result"], rows),
        "",
        report.to_markdown(),
    ]
    if failures:
        summary = "; ".join(failures)
    elif not plan.fairness_attributes:
        summary = "no fairness attribute in the plan"
    else:
        summary = (
            f"{len(plan.fairness_attributes)} attribute(s) within DPD <= {_lim(max_dpd)} and "
            f"EOD <= {_lim(max_eod)}"
        )
        if notes:
            summary += "; " + "; ".join(notes)
    return _Verdict(not failures, summary, measured, limits, "\n".join(details))


def _slice_floors(plan: GatePlan, evaluation: dict[str, Any]) -> _Verdict:
    floor, min_rows = plan.min_slice_auc, plan.min_slice_rows
    limits: dict[str, Figure] = {"min_slice_auc": floor, "min_slice_rows": min_rows}
    gated: list[tuple[str, float]] = []
    failed: list[str] = []
    rows: list[list[str]] = []
    for segment in evaluation.get("segments", []):
        name = f"{segment['column']}={segment['value']}"
        auc = _finite(segment.get("auc"))
        n = int(segment["n"])
        if n < min_rows:
            result = f"not gated (< {min_rows} rows)"
        elif auc is None:
            result = "skipped: AUC undefined (single class)"
        else:
            gated.append((name, auc))
            result = _ok(_at_least(auc, floor))
            if result == "FAIL":
                failed.append(f"{name} AUC {_fig(auc)} < {_lim(floor)}")
        rows.append(
            [_cell(str(segment["column"])), _cell(str(segment["value"])), str(n), _num(auc), result]
        )
    measured: dict[str, Figure] = {"gated_slices": len(gated)}
    if gated:
        lowest_name, lowest = min(gated, key=lambda item: item[1])
        measured.update(lowest_slice=lowest_name, lowest_slice_auc=lowest)
    if failed:
        summary = "; ".join(failed)
    elif gated:
        summary = (
            f"{len(gated)} slice(s) with >= {min_rows} rows, lowest AUC {_fig(lowest)} "
            f"({lowest_name}) >= {_lim(floor)}"
        )
    else:
        summary = f"no slice with >= {min_rows} rows and a defined AUC"
    details = _table(["Segment", "Value", "Rows", "AUC", "Result"], rows) if rows else []
    return _Verdict(not failed, summary, measured, limits, "\n".join(details))


def _score_stability(plan: GatePlan, score_psi: float | None) -> _Verdict:
    psi = _finite(score_psi)
    limits: dict[str, Figure] = {"max_score_psi": plan.max_score_psi}
    if psi is None:
        summary = "score PSI not measured"
        return _Verdict(False, summary, {"score_psi": None}, limits, summary + ".")
    passed = _at_most(psi, plan.max_score_psi)
    summary = f"score PSI {_fig(psi)} {'<=' if passed else '>'} {_lim(plan.max_score_psi)}"
    details = "PSI of the candidate's scores, training set against holdout: " + summary + "."
    return _Verdict(passed, summary, {"score_psi": psi}, limits, details)


def _feature_availability(availability: FeatureAvailability) -> _Verdict:
    measured: dict[str, Figure] = {
        "checked": len(availability.checked),
        "missing": len(availability.missing),
        "wrong_type": len(availability.wrong_type),
        "empty": len(availability.empty),
        "source": availability.source,
    }
    limits: dict[str, Figure] = {"missing": 0, "wrong_type": 0, "empty": 0}
    source = availability.source
    if not availability.checked:
        summary = f"no column was checked against {source}"
        return _Verdict(False, summary, measured, limits, summary + ".")
    rows = [
        [kind, _cell(problem)]
        for kind, problems in (
            ("missing", availability.missing),
            ("wrong type", availability.wrong_type),
            ("empty", availability.empty),
        )
        for problem in problems
    ]
    if not rows:
        summary = f"all {len(availability.checked)} input columns available in {source}"
        return _Verdict(True, summary, measured, limits, summary + ".")
    counts = [
        f"{len(problems)} {kind}"
        for kind, problems in (
            ("missing", availability.missing),
            ("wrong type", availability.wrong_type),
            ("empty", availability.empty),
        )
        if problems
    ]
    summary = f"{', '.join(counts)} in {source}: " + "; ".join(availability.problems)
    details = [f"Production source: {_cell(source)}", "", *_table(["Problem", "Column"], rows)]
    return _Verdict(False, summary, measured, limits, "\n".join(details))


def _protected_not_inputs(plan: GatePlan, fitted_inputs: Sequence[str]) -> _Verdict:
    found = {
        attribute: [f for f in fitted_inputs if f == attribute or f.startswith(f"{attribute}_")]
        for attribute in plan.protected_attributes
    }
    found = {attribute: inputs for attribute, inputs in found.items() if inputs}
    measured: dict[str, Figure] = {
        "fitted_inputs": len(fitted_inputs),
        "protected_inputs": ", ".join(i for inputs in found.values() for i in inputs) or None,
    }
    limits: dict[str, Figure] = {
        "protected_attributes": ", ".join(plan.protected_attributes) or None,
        "allow_protected_features": str(plan.allow_protected_features).lower(),
    }
    rows = [[_cell(a), _cell(", ".join(inputs))] for a, inputs in found.items()]
    details = "\n".join(_table(["Protected attribute", "Fitted inputs"], rows)) if rows else ""
    if not found:
        summary = (
            f"none of {len(plan.protected_attributes)} protected attribute(s) among the "
            f"{len(fitted_inputs)} fitted inputs"
        )
        return _Verdict(True, summary, measured, limits, summary + ".")
    listed = "; ".join(f"{a}: {', '.join(inputs)}" for a, inputs in found.items())
    if plan.allow_protected_features:
        return _Verdict(
            True,
            f"protected attributes used as inputs, allowed by the spec: {listed}",
            measured,
            limits,
            details,
        )
    return _Verdict(
        False, f"protected attributes among the inputs: {listed}", measured, limits, details
    )


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _figure(value: Figure) -> Figure:
    """Plain JSON values: ints stay ints (counts), other numbers become floats or None."""
    if isinstance(value, str) or value is None:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    return _finite(value)


def _at_least(value: float | None, limit: float) -> bool:
    return value is not None and value >= limit - EPSILON


def _at_most(value: float | None, limit: float) -> bool:
    return value is not None and value <= limit + EPSILON


def _fig(value: float | None) -> str:
    """Measured figures: three decimals, 'n/a' when undefined."""
    return "n/a" if value is None else f"{value:.3f}"


def _lim(value: float) -> str:
    """Limits as written in the policy, at least two decimals (0.7 reads 0.70)."""
    return f"{value:.2f}" if round(value, 2) == value else f"{value:g}"


def _delta(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.3f}"


def _ok(passed: bool) -> str:
    return "PASS" if passed else "FAIL"
