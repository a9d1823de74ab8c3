"""The declarative model of an ML use case.

A use case is onboarded by writing one YAML file that parses into `UseCaseSpec`. Every model
refuses unknown keys, so a typo fails at load time instead of being silently ignored, and the
cross-field rules (the target is a declared column, features are not PII, ...) are checked
here, once, so that the pipeline code can trust the spec.
"""

from __future__ import annotations

import importlib.util
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from modelops.spec.columns import RESERVED
from modelops.spec.duration import Duration
from modelops.spec.risk import RiskQuestionnaire

SAFE_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
"""Names the platform builds keys, paths and HTML reports from: lower snake case only.

Restricting names (instead of escaping them everywhere) is what keeps a column name from
injecting markup into an HTML report or a path into storage; a source header that does not fit
is mapped with `source_name`.
"""

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
TEAM_PATTERN = r"^[a-z][a-z0-9-]{1,62}$"
IMPORT_PATH_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$"

SafeName = Annotated[str, Field(pattern=SAFE_NAME_PATTERN)]
Email = Annotated[str, Field(pattern=EMAIL_PATTERN)]
Scalar = str | int | float | bool


class SpecModel(BaseModel):
    """Base of every spec section: unknown keys are refused, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Owners(SpecModel):
    """M5: the people answerable for the use case, its data and its model."""

    team: Annotated[str, Field(pattern=TEAM_PATTERN)]
    person: Email
    data_owner: Email | None = None

    @property
    def dagster_owners(self) -> list[str]:
        return [f"team:{self.team}", self.person]

    @property
    def dataset_owners(self) -> list[str]:
        owners = [f"team:{self.team}", self.data_owner or self.person]
        return list(dict.fromkeys(owners))


BIGQUERY_TABLE_PATTERN = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_]+\.[A-Za-z0-9_$-]+$"


class BigQuerySource(SpecModel):
    """A BigQuery table (filtered by `where`) or a whole query; the SQL runs in BigQuery and
    only the declared columns come back, so filtering and aggregation never leave it."""

    table: Annotated[str, Field(pattern=BIGQUERY_TABLE_PATTERN)] | None = None
    where: str | None = None
    query: str | None = None

    @model_validator(mode="after")
    def _table_or_query(self) -> BigQuerySource:
        if (self.table is None) == (self.query is None):
            raise ValueError("give either 'table' (project.dataset.table) or 'query', not both")
        if self.query is not None and self.where is not None:
            raise ValueError("'where' applies to 'table'; put the filter inside 'query'")
        return self


class Source(SpecModel):
    """Where the raw data lives: a file (`path`, read by the environment's file source: a
    local folder or GCS) or a BigQuery table or query (`bigquery`)."""

    path: Annotated[str, Field(min_length=1)] | None = None
    bigquery: BigQuerySource | None = None
    format: Literal["csv", "parquet"] | None = None
    csv_separator: Annotated[str, Field(min_length=1, max_length=1)] = ","
    null_values: list[str] = Field(default_factory=lambda: ["", "NA"])
    attribution: str | None = None

    @model_validator(mode="after")
    def _one_location(self) -> Source:
        if (self.path is None) == (self.bigquery is None):
            raise ValueError("give either 'path' (a file) or 'bigquery' (a table or query)")
        if self.bigquery is not None and self.format == "csv":
            raise ValueError("a BigQuery source arrives as Parquet; remove 'format: csv'")
        return self

    @property
    def resolved_format(self) -> Literal["csv", "parquet"]:
        if self.format is not None:
            return self.format
        if self.path is None or self.path.lower().endswith((".parquet", ".pq")):
            return "parquet"
        return "csv"

    @property
    def description(self) -> str:
        if self.bigquery is not None:
            return self.bigquery.table or "a BigQuery query"
        return str(self.path)


ColumnType = Literal["int", "float", "category", "bool", "date", "datetime"]
NUMERIC_TYPES = ("int", "float")
TEMPORAL_TYPES = ("date", "datetime")


class Column(SpecModel):
    """One column of the source: its type, what values are valid, and how it may be used."""

    name: SafeName
    type: ColumnType
    source_name: str | None = None
    description: str | None = None
    nullable: bool = False
    allowed: list[Scalar] | None = None
    min: float | None = None
    max: float | None = None
    date_format: str | None = None
    pii: bool = False
    protected: bool = False

    @model_validator(mode="after")
    def _checks_fit_the_type(self) -> Column:
        if self.allowed is not None:
            wrong = [v for v in self.allowed if not _fits_type(v, self.type)]
            if wrong:
                raise ValueError(f"allowed value(s) {wrong} are not of type {self.type}")
            if self.type not in ("category", "int", "bool"):
                raise ValueError(
                    f"'allowed' applies to category, int or bool columns, not {self.type}"
                )
            if not self.allowed:
                raise ValueError("'allowed' must list at least one value")
        if (self.min is not None or self.max is not None) and self.type not in NUMERIC_TYPES:
            raise ValueError(f"'min'/'max' apply to int or float columns, not {self.type}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"'min' ({self.min}) is greater than 'max' ({self.max})")
        if self.date_format is not None and self.type not in TEMPORAL_TYPES:
            raise ValueError(f"'date_format' applies to date or datetime columns, not {self.type}")
        return self

    @property
    def header(self) -> str:
        """The column's name in the source file."""
        return self.source_name or self.name


def _fits_type(value: Scalar, column_type: str) -> bool:
    """YAML reads `1` as an int and `yes` as a string: values must match the column's type."""
    if column_type == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if column_type == "bool":
        return isinstance(value, bool)
    if column_type == "category":
        return isinstance(value, str)
    return True


class DataSchema(SpecModel):
    """The contract every batch is validated against (M14)."""

    columns: Annotated[list[Column], Field(min_length=1)]
    date_column: str | None = None
    max_quarantine_share: Annotated[float, Field(ge=0, le=1)] = 0.05
    min_valid_rows: Annotated[int, Field(ge=1)] = 50

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]

    @property
    def protected_attributes(self) -> list[str]:
        return [column.name for column in self.columns if column.protected]


class Target(SpecModel):
    column: str
    positive_class: Scalar
    description: str | None = None


class EngineeredFeature(SpecModel):
    """A feature computed from raw columns with a SQL expression (evaluated by polars)."""

    name: SafeName
    expression: Annotated[str, Field(min_length=1)]
    kind: Literal["numeric", "categorical"]
    model_input: bool = True
    description: str | None = None


class Features(SpecModel):
    raw: Annotated[list[str], Field(min_length=1)]
    engineered: list[EngineeredFeature] = Field(default_factory=list)


class Split(SpecModel):
    """How the holdout is drawn: seeded and stratified, or out-of-time on the date column."""

    holdout_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.25
    seed: int = 42
    stratify: bool = True
    strategy: Literal["auto", "random", "out_of_time"] = "auto"


class EstimatorSpec(SpecModel):
    """A scikit-learn compatible estimator named by import path, with its parameters."""

    estimator: Annotated[str, Field(pattern=IMPORT_PATH_PATTERN)]
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _package_is_installed(self) -> EstimatorSpec:
        # Only the top-level package is looked up: importing scikit-learn here would make
        # every load of the code location pay for it. The class itself is resolved at training.
        package = self.estimator.split(".")[0]
        if importlib.util.find_spec(package) is None:
            raise ValueError(
                f"package '{package}' of estimator '{self.estimator}' is not installed"
            )
        return self


Preprocessing = Literal["scorecard", "standard", "native"]


class ModelSpec(EstimatorSpec):
    """The candidate model: estimator, params and the preprocessing family it expects.

    `scorecard` bins numeric features into quantile bands and one-hot encodes everything (a
    points-per-band logistic scorecard); `standard` imputes and scales; `native` hands numbers
    and ordinal-encoded categories to estimators that handle them (gradient boosting).
    """

    estimator: Annotated[str, Field(pattern=IMPORT_PATH_PATTERN)] = (
        "sklearn.linear_model.LogisticRegression"
    )
    preprocessing: Preprocessing = "scorecard"
    scorecard_bins: Annotated[int, Field(ge=2, le=50)] = 8
    allow_protected_features: bool = False
    registered_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$")] | None = None


class Evaluation(SpecModel):
    operating_threshold: Annotated[float, Field(gt=0, lt=1)] = 0.5
    calibration_bins: Annotated[int, Field(ge=2, le=100)] = 10
    segments: list[str] = Field(default_factory=list)
    min_auc: Annotated[float, Field(ge=0, le=1)] | None = None
    min_ks: Annotated[float, Field(ge=0, le=1)] | None = None
    max_brier: Annotated[float, Field(ge=0, le=1)] | None = None
    fairness_attributes: list[str] | None = None
    """Groups the fairness gate compares (categorical; a band for a numeric attribute such as
    age). Default: every categorical protected column."""
    baseline: EstimatorSpec = Field(
        default_factory=lambda: EstimatorSpec(
            estimator="sklearn.tree.DecisionTreeClassifier",
            params={"max_depth": 3, "min_samples_leaf": 20, "random_state": 0},
        )
    )


class Drift(SpecModel):
    """Thresholds of the drift report; per-feature tests follow Evidently's defaults."""

    drift_share: Annotated[float, Field(gt=0, le=1)] = 0.5
    stattest_threshold: Annotated[float, Field(gt=0, lt=1)] | None = None
    max_rows: Annotated[int, Field(ge=100)] = 50_000
    """Rows per side in Evidently's HTML report (the fast engine always uses every row)."""
    psi_breach: Annotated[float, Field(gt=0)] = 0.25
    """PSI of the score at which a month is a drift breach (0.25: 'significant shift')."""
    csi_breach: Annotated[float, Field(gt=0)] = 0.25
    """CSI of any single model input at which a month is a drift breach."""


class Freshness(SpecModel):
    """M17: how old the source data, the predictions and the model may get before the SLA is
    breached (and the owners are alerted)."""

    source_max_age: Duration = timedelta(days=31)
    model_max_age: Duration = timedelta(days=90)
    predictions_max_age: Duration = timedelta(days=35)


MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"


class MonthlyFiles(SpecModel):
    """Files that land once a month: `path` contains `{month}` (YYYY-MM)."""

    path: Annotated[str, Field(min_length=1)]
    format: Literal["csv", "parquet"] | None = None

    @model_validator(mode="after")
    def _has_month(self) -> MonthlyFiles:
        if "{month}" not in self.path:
            raise ValueError("'path' must contain {month}, e.g. data/production/{month}.parquet")
        return self

    def source_for(self, month: str, template: Source) -> Source:
        """The month's file as a `Source`, read like the training source (separator, nulls)."""
        return template.model_copy(
            update={"path": self.path.format(month=month), "bigquery": None, "format": self.format}
        )


class Retraining(SpecModel):
    """M18: when a new model is trained without anyone asking, and how often at most."""

    drift_breaches: Annotated[int, Field(ge=1)] = 2
    """Retrain when the dataset drifted in this many of the last `drift_window` months..."""
    drift_window: Annotated[int, Field(ge=1)] = 3
    min_auc: Annotated[float, Field(gt=0, le=1)] | None = 0.65
    """...or when the realised AUC of a month falls below this floor..."""
    min_new_labelled_rows: Annotated[int, Field(ge=1)] | None = None
    """...or when this many newly labelled rows arrived since the last training..."""
    schedule: str | None = None
    """...or on this cron schedule (e.g. '0 4 1 */3 *', quarterly)."""
    cooldown: Duration = timedelta(days=7)
    """At most one retraining per cooldown, however many signals arrive."""
    window_months: Annotated[int, Field(ge=1, le=120)] = 12
    """Labelled production months added to the training data when retraining."""

    @model_validator(mode="after")
    def _window_fits(self) -> Retraining:
        if self.drift_breaches > self.drift_window:
            raise ValueError("'drift_breaches' cannot exceed 'drift_window'")
        return self


class Monitoring(SpecModel):
    """Production scoring and monitoring, one partition per calendar month (UTC)."""

    start_month: Annotated[str, Field(pattern=MONTH_PATTERN)]
    batches: MonthlyFiles
    labels: MonthlyFiles | None = None
    id_column: Annotated[str, Field(pattern=SAFE_NAME_PATTERN)] = "application_id"
    """Identifies an application in batches and labels (carried, never a model input)."""
    reason_codes: Annotated[int, Field(ge=1, le=10)] = 3
    outlier_threshold: Annotated[float, Field(gt=0)] = 6.0
    retraining: Retraining = Retraining()


K8S_CPU_PATTERN = r"^\d+(\.\d+)?m?$"
K8S_MEMORY_PATTERN = r"^\d+(\.\d+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$"


class PodResources(SpecModel):
    """Kubernetes requests of one step's pod; limits are set equal to requests for memory."""

    cpu: Annotated[str, Field(pattern=K8S_CPU_PATTERN)]
    memory: Annotated[str, Field(pattern=K8S_MEMORY_PATTERN)]


class Compute(SpecModel):
    """What each step needs when it runs as its own pod (MODELOPS_ENV=k8s).

    `training` applies to the steps that fit models (trained_model, evaluation_report);
    `default` to every other step.
    """

    default: PodResources = PodResources(cpu="500m", memory="1Gi")
    training: PodResources = PodResources(cpu="2", memory="4Gi")


class Documentation(SpecModel):
    """The human part of the model card: what the model is for and what it must not be used for."""

    intended_use: str = "Not stated in the spec."
    out_of_scope_uses: list[str] = Field(default_factory=list)
    caveats: list[str] = Field(default_factory=list)
    ethical_considerations: list[str] = Field(default_factory=list)


class SpecProblems(ValueError):
    """Cross-field problems, each with the dotted path of the field it concerns."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))


class UseCaseSpec(SpecModel):
    """One ML use case, everything the platform needs to build its assets (M7)."""

    id: SafeName
    description: Annotated[str, Field(min_length=1)]
    owners: Owners
    source: Source
    data_schema: DataSchema = Field(alias="schema")
    target: Target
    features: Features
    split: Split = Split()
    model: ModelSpec = ModelSpec()
    evaluation: Evaluation = Evaluation()
    drift: Drift = Drift()
    freshness: Freshness = Freshness()
    monitoring: Monitoring | None = None
    compute: Compute = Compute()
    documentation: Documentation = Documentation()
    risk: RiskQuestionnaire | None = None
    """The risk exercise (M3); the tier follows from it and the bank's risk policy. Without
    it the use case is treated as high risk."""

    @model_validator(mode="after")
    def _fields_agree(self) -> UseCaseSpec:
        problems = _cross_field_problems(self)
        if problems:
            raise SpecProblems(problems)
        return self

    # Derived views the pipeline uses, so no asset re-derives them differently.

    @property
    def registered_model_name(self) -> str:
        return self.model.registered_name or self.id

    @property
    def numeric_features(self) -> list[str]:
        raw = [c for c in self.features.raw if self.data_schema.column(c).type in NUMERIC_TYPES]
        return raw + [f.name for f in self.engineered_inputs if f.kind == "numeric"]

    @property
    def categorical_features(self) -> list[str]:
        raw = [c for c in self.features.raw if self.data_schema.column(c).type not in NUMERIC_TYPES]
        return raw + [f.name for f in self.engineered_inputs if f.kind == "categorical"]

    @property
    def engineered_inputs(self) -> list[EngineeredFeature]:
        return [f for f in self.features.engineered if f.model_input]

    @property
    def model_inputs(self) -> list[str]:
        return self.numeric_features + self.categorical_features

    @property
    def fairness_attributes(self) -> list[str]:
        if self.evaluation.fairness_attributes is not None:
            return list(self.evaluation.fairness_attributes)
        return [
            c.name
            for c in self.data_schema.columns
            if c.protected and (c.type in ("category", "bool") or c.allowed is not None)
        ]

    @property
    def split_strategy(self) -> Literal["random", "out_of_time"]:
        if self.split.strategy == "auto":
            return "out_of_time" if self.data_schema.date_column else "random"
        return self.split.strategy

    @property
    def passthrough_columns(self) -> list[str]:
        """Columns kept beside the features for slicing and fairness, never fed to the model."""
        analysis_only = [f.name for f in self.features.engineered if not f.model_input]
        wanted = [
            *self.data_schema.protected_attributes,
            *analysis_only,
            *self.evaluation.segments,
            *self.fairness_attributes,
        ]
        if self.data_schema.date_column:
            wanted.append(self.data_schema.date_column)
        inputs = set(self.model_inputs)
        return [c for c in dict.fromkeys(wanted) if c not in inputs]


def _cross_field_problems(spec: UseCaseSpec) -> list[tuple[str, str]]:
    schema = spec.data_schema
    declared = {c.name: c for c in schema.columns}
    problems: list[tuple[str, str]] = []

    seen: set[str] = set()
    for i, column in enumerate(schema.columns):
        if column.name in RESERVED:
            problems.append(
                (
                    f"schema.columns[{i}].name",
                    f"'{column.name}' is reserved by the "
                    f"platform ({', '.join(sorted(RESERVED))}); rename it",
                )
            )
        if column.name in seen:
            problems.append(
                (f"schema.columns[{i}].name", f"column '{column.name}' is declared twice")
            )
        seen.add(column.name)
    headers = [c.header for c in schema.columns]
    for header in {h for h in headers if headers.count(h) > 1}:
        problems.append(("schema.columns", f"source column '{header}' is mapped twice"))

    if schema.date_column is not None:
        date_col = declared.get(schema.date_column)
        if date_col is None:
            problems.append(("schema.date_column", _not_declared(schema.date_column, declared)))
        elif date_col.type not in TEMPORAL_TYPES:
            problems.append(
                (
                    "schema.date_column",
                    f"'{schema.date_column}' has type {date_col.type}, expected date or datetime",
                )
            )
    elif spec.split.strategy == "out_of_time":
        problems.append(("split.strategy", "out_of_time needs schema.date_column to be declared"))

    target = declared.get(spec.target.column)
    if target is None:
        problems.append(("target.column", _not_declared(spec.target.column, declared)))
    else:
        if target.nullable:
            problems.append(
                (
                    "target.column",
                    "the target must not be nullable: unlabelled "
                    "rows cannot train a model (they are quarantined instead)",
                )
            )
        if target.type in ("float", "date", "datetime"):
            problems.append(("target.column", f"a binary target cannot have type {target.type}"))
        elif not _fits_type(spec.target.positive_class, target.type):
            problems.append(
                (
                    "target.positive_class",
                    f"{spec.target.positive_class!r} is not a "
                    f"{target.type} value like the target column '{target.column}'",
                )
            )
        if target.allowed is not None:
            if spec.target.positive_class not in target.allowed:
                problems.append(
                    (
                        "target.positive_class",
                        f"{spec.target.positive_class!r} is not "
                        f"among the target's allowed values {target.allowed}",
                    )
                )
            elif len(target.allowed) != 2:
                problems.append(
                    (
                        "target.column",
                        f"a binary target needs exactly 2 allowed "
                        f"values, got {len(target.allowed)}",
                    )
                )

    feature_names: set[str] = set()
    for i, name in enumerate(spec.features.raw):
        path = f"features.raw[{i}]"
        column = declared.get(name)
        if column is None:
            problems.append((path, _not_declared(name, declared)))
            continue
        if name in feature_names:
            problems.append((path, f"feature '{name}' is listed twice"))
        feature_names.add(name)
        problems.extend((path, p) for p in _input_problems(name, column, spec))

    for i, feature in enumerate(spec.features.engineered):
        path = f"features.engineered[{i}]"
        if feature.name in declared or feature.name in feature_names:
            problems.append((f"{path}.name", f"'{feature.name}' clashes with a column or feature"))
        feature_names.add(feature.name)
        roots, error = _expression_roots(feature.expression)
        if error:
            problems.append((f"{path}.expression", error))
            continue
        for root in dict.fromkeys(roots):
            column = declared.get(root)
            if column is None:
                problems.append((f"{path}.expression", _not_declared(root, declared)))
            elif root == spec.target.column:
                problems.append(
                    (
                        f"{path}.expression",
                        f"'{root}' is the target: a feature computed from it leaks the label",
                    )
                )
            elif feature.model_input:
                problems.extend(
                    (f"{path}.expression", p) for p in _input_problems(root, column, spec)
                )

    # Slices need few distinct values: text, booleans, or integers with an `allowed` list.
    categorical = {f.name for f in spec.features.engineered if f.kind == "categorical"} | {
        c.name
        for c in schema.columns
        if c.type in ("category", "bool") or (c.type == "int" and c.allowed is not None)
    }
    slices = [(f"evaluation.segments[{i}]", s) for i, s in enumerate(spec.evaluation.segments)]
    slices += [
        (f"evaluation.fairness_attributes[{i}]", s)
        for i, s in enumerate(spec.evaluation.fairness_attributes or [])
    ]
    for path, segment in slices:
        if segment not in declared and segment not in feature_names:
            problems.append((path, _not_declared(segment, declared)))
        elif segment not in categorical:
            problems.append(
                (
                    path,
                    f"'{segment}' is not categorical; "
                    "declare a categorical engineered feature (a band) to slice on it",
                )
            )
    return problems


def _input_problems(name: str, column: Column, spec: UseCaseSpec) -> list[str]:
    """Why a column may not feed the model: leakage, PII, protected attributes, dates."""
    if name == spec.target.column:
        return [f"'{name}' is the target: using it as an input leaks the label"]
    if column.pii:
        return [f"'{name}' is flagged PII and may not be a model input"]
    if column.protected and not spec.model.allow_protected_features:
        return [
            f"'{name}' is a protected attribute; set model.allow_protected_features: true "
            "only if the risk assessment allows it"
        ]
    if column.type in TEMPORAL_TYPES:
        return [f"'{name}' is a {column.type}; derive a numeric or categorical feature from it"]
    return []


def _expression_roots(expression: str) -> tuple[list[str], str | None]:
    import polars as pl

    try:
        return pl.sql_expr(expression).meta.root_names(), None
    except Exception as exc:  # polars raises several error types for bad SQL
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return [], f"not a valid SQL expression: {first_line}"


def _not_declared(name: str, declared: dict[str, Column]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(declared), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"'{name}' is not a column declared in schema.columns{hint}"
