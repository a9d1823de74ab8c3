"""The declared missing-value policy (`features.missing`) applied: in the training pipeline,
at validation (`reject`), and stated for the card and the evaluation report.

Without a declaration the pipeline is exactly what it always was (numeric inputs
median-imputed for `scorecard`/`standard`, left to the estimator for `native`, binned on their
own for `woe`; categorical inputs a `__missing__` category), and `missing_policy_lines` says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl
from sklearn.base import clone
from sklearn.impute import MissingIndicator, SimpleImputer

from modelops.formatting import Markdown, cell, code
from modelops.ml.row_failures import FAILURE_SCHEMA
from modelops.spec import Column, UseCaseSpec
from modelops.spec.columns import ROW_ID
from modelops.spec.missing import MissingPolicy

Transformer = tuple[str, Any, list[str]]
MISSING_CATEGORY = "__missing__"  # the same category ml.training gives a missing text value


def with_missing_policy(
    transformers: list[Transformer], policy: MissingPolicy | None, preprocessing: str
) -> list[Transformer]:
    """The ColumnTransformer entries of `build_pipeline` with the declared policy applied to
    the numeric inputs: unchanged when nothing is declared (or for `woe`)."""
    if policy is None or not policy.declared or preprocessing == "woe":
        return transformers
    out: list[Transformer] = []
    flags: list[str] = []
    for name, steps, columns in transformers:
        if name != "numeric":
            out.append((name, steps, columns))
            continue
        native = preprocessing == "native"
        groups: dict[str, list[str]] = {}
        for column in columns:
            groups.setdefault(_group(policy.treatment(column), native), []).append(column)
        for key, group in groups.items():
            if key == "passthrough":
                group_steps: Any = "passthrough"
            elif native:
                group_steps = SimpleImputer(strategy=key)
            else:
                # own_bin: the usual band of the median, plus an indicator with its own points
                group_steps = clone(steps).set_params(
                    impute__strategy="mean" if key == "mean" else "median"
                )
            usual = key == ("passthrough" if native else "median")  # today's transformer
            out.append((name if usual else f"{name}_{key}", group_steps, group))
        flags = groups.get("own_bin", [])
    if flags:
        out.append(("missing_indicator", MissingIndicator(features="all"), flags))
    return out


def _group(treatment: str | None, native: bool) -> str:
    """Which numeric transformer an input joins: its imputation statistic, or passthrough
    (`native` estimators take a missing value as it is), or own_bin (an indicator)."""
    if treatment == "impute_mean":
        return "mean"
    if native:
        return "median" if treatment == "impute_median" else "passthrough"
    return "own_bin" if treatment == "own_bin" else "median"


def rejected_missing(
    typed: pl.DataFrame, spec: UseCaseSpec, columns: Sequence[Column]
) -> pl.DataFrame:
    """A failure for every row missing a raw input whose treatment is `reject` (validation
    quarantines it). Non-nullable columns are left to the usual "value is missing"."""
    rejected = set(spec.features.missing.rejected(spec.features.raw))
    parts = [
        typed.filter(pl.col(c.name).is_null()).select(
            ROW_ID,
            pl.lit(c.name).alias("column"),
            pl.lit("missing_policy").alias("check"),
            pl.lit(None, pl.String).alias("value"),
            pl.lit(f"{c.name}: value is missing (features.missing: reject)").alias("reason"),
        )
        for c in columns
        if c.name in rejected and c.nullable and c.name in typed.columns
    ]
    return (
        pl.concat(parts, how="vertical").cast(FAILURE_SCHEMA)
        if parts
        else pl.DataFrame(schema=FAILURE_SCHEMA)
    )


def treatment_text(spec: UseCaseSpec, feature: str) -> str:
    """How a missing value of one model input is treated, in words (platform-written
    markdown: nothing in it comes from the data)."""
    declared = spec.features.missing.treatment(feature)
    numeric = feature in spec.numeric_features
    preprocessing = spec.model.preprocessing
    if spec.model.runtime.outside and declared != "reject":
        return "handled by the model script (model.runtime)"
    if declared == "reject":
        return "reject: rows missing it are quarantined at validation"
    if not numeric:
        return f"own category `{MISSING_CATEGORY}`"
    if preprocessing == "woe":
        return "own bin (the WoE binning's missing bin)"
    if declared in ("impute_median", "impute_mean"):
        return f"imputed with the training {declared.removeprefix('impute_')}"
    if preprocessing == "native":
        return "left missing for the estimator's own handling (native)"
    if declared == "own_bin":
        return "own bin: a missing indicator with its own points (band of the median)"
    return "imputed with the training median (platform default)"


def missing_policy_lines(spec: UseCaseSpec, training: pl.DataFrame | None = None) -> list[str]:
    """Markdown lines for the card and the evaluation report: each model input, its
    treatment and (given the training set) the share of training rows missing it."""
    policy = spec.features.missing
    source = "declared in `features.missing`" if policy.declared else "the platform default"
    lines = [
        f"Missing values ({source}; `{spec.model.preprocessing}` preprocessing):",
        "",
        "| Feature | Treatment | Missing in training |",
        "|---|---|---|",
    ]
    for feature in spec.model_inputs:
        share = "n/a"
        if training is not None and feature in training.columns and training.height:
            missing = training.get_column(feature).null_count()
            share = f"{missing / training.height:.1%}"
        treatment = cell(Markdown(treatment_text(spec, feature)))
        lines.append(f"| {code(feature)} | {treatment} | {share} |")
    return lines
