"""The scoring core every door calls: one application, a list of them, or a monthly batch.

`ApplicationScorer` holds one model version's serving bundle and answers with the model
version, the probability, the decision at the spec's operating threshold, the reason codes
with their contributions (log-odds), the outlier score and flag, and, when the model gave no
score, the fallback decision with the reason. The HTTP service, the MLflow pyfunc package and
the monthly batch scoring all use it, so the three cannot disagree:

- `answer(records)`: applications as JSON-like mappings (online, pyfunc), read field by field
  (`application_fields`) and scored by the `RowEngine`;
- `score_table(features)`: a validated feature table (batch), scored by `score_batch`.

At construction the row engine is checked against `score_batch` on the bundle's probe rows;
if they differ, `answer` scores through `score_batch` too (slower, the same numbers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict

from modelops.ml.scoring.answers import ACCEPT, REFER, score_batch
from modelops.ml.scoring.application_fields import ApplicationReader, ReadApplication
from modelops.ml.scoring.reason_catalogue import ReasonCatalogue
from modelops.ml.scoring.row_engine import RowEngine, feature_frame, top_reasons
from modelops.spec import UseCaseSpec
from modelops.spec.columns import ROW_ID
from modelops.spec.schema import validated_dtype

if TYPE_CHECKING:
    from modelops.ml.serving_bundle import ServingBundle

FALLBACK_DECISION = REFER
"""What production answers when the model cannot: a credit officer decides."""
VERIFY_TOLERANCE = 1e-9


class ReasonCode(BaseModel):
    model_config = ConfigDict(frozen=True)

    feature: str
    contribution: float
    """The feature's push on the log-odds, relative to the training average."""
    code: str | None = None
    text: str | None = None
    """The spec's reason-code catalogue's code and applicant-facing text (null without one)."""


class ApplicationAnswer(BaseModel):
    """The answer to one application, whichever door it came through."""

    model_config = ConfigDict(frozen=True)

    application_id: str | None = None
    model_version: str | None
    probability: float | None
    decision: str
    reasons: tuple[ReasonCode, ...] = ()
    outlier_score: float | None = None
    outlier_flag: bool | None = None
    fallback_reason: str | None = None
    """Why the model gave no score (None when it did): machine-readable, stable prefix."""


def fallback_answer(
    reason: str, *, model_version: str | None, application_id: str | None = None
) -> ApplicationAnswer:
    return ApplicationAnswer(
        application_id=application_id,
        model_version=model_version,
        probability=None,
        decision=FALLBACK_DECISION,
        fallback_reason=reason,
    )


class ApplicationScorer:
    """One model version, ready to answer: built once per version, used for every request."""

    def __init__(self, bundle: ServingBundle, spec: UseCaseSpec) -> None:
        self.spec = spec
        self.bundle = bundle
        self.model_version = bundle.model_version
        # The threshold resolved when the version was trained, else the spec's fixed one.
        self.threshold = bundle.manifest.operating_threshold or spec.evaluation.operating_threshold
        self.top_k = spec.monitoring.reason_codes if spec.monitoring else 3
        self.reader = ApplicationReader(spec)
        self.catalogue = ReasonCatalogue.of(spec)
        self.engine = RowEngine.build(
            spec, pipeline=bundle.pipeline, reasons=bundle.reasons, outliers=bundle.outliers
        )
        # Categories as text: engineered expressions compare them as strings.
        self._raw_dtypes = {
            f.name: pl.String() if f.column.type == "category" else validated_dtype(f.column)
            for f in self.reader.fields
        }
        self.row_engine_verified = self._verify()

    # Doors -------------------------------------------------------------------------------

    def answer(self, records: Sequence[Mapping[str, object]]) -> list[ApplicationAnswer]:
        """One answer per application, in order; a problem with an application's fields makes
        its answer the fallback, with the fields and reasons."""
        return self.answer_read([self.reader.read(r) for r in records], records)

    def answer_read(
        self, reads: Sequence[ReadApplication], records: Sequence[Mapping[str, object]]
    ) -> list[ApplicationAnswer]:
        """`answer` for applications already read (the HTTP door reads first, to refuse a
        request of the wrong shape with 422)."""
        ids = [self.reader.application_id(r) for r in records]
        answers: list[ApplicationAnswer | None] = [None] * len(reads)
        good = [i for i, read in enumerate(reads) if not read.problems]
        for i, read in enumerate(reads):
            if read.problems:
                answers[i] = fallback_answer(
                    read.reason or "input failed validation",
                    model_version=self.model_version,
                    application_id=ids[i],
                )
        if good:
            for i, answer in zip(good, self._score([reads[i].values for i in good]), strict=True):
                answers[i] = answer.model_copy(update={"application_id": ids[i]})
        return [a for a in answers if a is not None]

    def score_table(
        self, features: pl.DataFrame, *, scored_at: datetime, scores: np.ndarray | None = None
    ) -> pl.DataFrame:
        """A validated feature table's answers (`prediction_schema`): the batch door.
        `scores` from the model's own runtime replace the pipeline's (see `score_batch`)."""
        return score_batch(
            features,
            pipeline=self.bundle.pipeline,
            reasons=self.bundle.reasons,
            outliers=self.bundle.outliers,
            spec=self.spec,
            model_version=self.model_version,
            threshold=self.threshold,
            top_k=self.top_k,
            scored_at=scored_at,
            scores=scores,
        )

    # Engine ------------------------------------------------------------------------------

    def _score(self, values: Sequence[Mapping[str, object]]) -> list[ApplicationAnswer]:
        rows = self.engine.with_engineered(values, self._raw_dtypes)  # type: ignore[arg-type]
        if not self.row_engine_verified:
            return self._score_by_table(rows)
        result = self.engine.score(rows)
        features = self.engine.reasons.features
        outlier_threshold = self.engine.outliers.threshold
        answers = []
        for i, row_contributions in enumerate(result.contributions):
            score = float(result.scores[i])
            contributions = [float(c) for c in row_contributions]
            outlier = result.outlier_scores[i]
            answers.append(
                ApplicationAnswer(
                    model_version=self.model_version,
                    probability=score,
                    decision=ACCEPT if score < self.threshold else REFER,
                    reasons=tuple(
                        ReasonCode(
                            feature=features[j],
                            contribution=contributions[j],
                            **self.catalogue.describe(features[j]),
                        )
                        for j in top_reasons(contributions, features, self.top_k)
                    ),
                    outlier_score=outlier,
                    outlier_flag=outlier >= outlier_threshold,
                )
            )
        return answers

    def _score_by_table(self, rows: Sequence[Mapping[str, object]]) -> list[ApplicationAnswer]:
        """The batch door's answers for these rows (when the row engine was not verified)."""
        table = self.score_table(feature_frame(rows, self.spec), scored_at=datetime.now(UTC))
        answers = []
        for record in table.iter_rows(named=True):
            answers.append(
                ApplicationAnswer(
                    model_version=self.model_version,
                    probability=record["score"],
                    decision=record["decision"],
                    reasons=tuple(
                        ReasonCode(
                            feature=record[f"reason_{k}"],
                            contribution=record[f"reason_{k}_contribution"],
                            code=record[f"reason_{k}_code"],
                            text=record[f"reason_{k}_text"],
                        )
                        for k in range(1, self.top_k + 1)
                        if record[f"reason_{k}"] is not None
                    ),
                    outlier_score=record["outlier_score"],
                    outlier_flag=record["outlier_flag"],
                )
            )
        return answers

    def _verify(self) -> bool:
        """Whether the row engine gives `score_batch`'s answers on the probe rows."""
        probe = self.bundle.reasons.probe
        if probe.height == 0:
            return False
        inputs = self.spec.model_inputs
        rows = [
            {c: (None if v is None else v) for c, v in zip(inputs, values, strict=True)}
            for values in probe.select(inputs).iter_rows()
        ]
        try:
            mine = self.engine.score(rows)
            reference = self.score_table(
                probe.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias(ROW_ID)),
                scored_at=datetime.now(UTC),
            )
        except Exception:  # the engine cannot score these rows: use the batch path
            return False
        names = list(self.engine.reasons.features)
        chosen = [
            [names[j] for j in top_reasons(list(c), names, self.top_k)] for c in mine.contributions
        ]
        expected = [
            [r for r in row if r is not None]
            for row in reference.select(
                [f"reason_{k}" for k in range(1, self.top_k + 1)]
            ).iter_rows()
        ]
        return bool(
            np.allclose(mine.scores, reference["score"].to_numpy(), rtol=0, atol=VERIFY_TOLERANCE)
            and np.allclose(
                mine.outlier_scores,
                reference["outlier_score"].to_numpy(),
                rtol=0,
                atol=VERIFY_TOLERANCE,
            )
            and chosen == expected
        )
