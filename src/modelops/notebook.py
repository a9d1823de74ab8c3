"""The platform from a notebook: `import modelops; ws = modelops.workspace()`.

    ws.use_cases                         # ['german_credit', ...]
    uc = ws["german_credit"]
    uc.dataset("validated_dataset")      # polars; pandas=True for pandas
    uc.champion, uc.challenger           # '2', None
    uc.evaluation()["candidate"]["auc"]  # the evaluation, drift and fairness reports as stored
    uc.score(applications)               # the champion's answers, as every door gives them

It reads through the same resources as the platform (the environment `MODELOPS_ENV` chooses:
the local store, or GCS in `gcp`), so a notebook sees what the pipeline produced, in the
data domain the environment allows. It only reads: nothing here trains, approves, writes to
the store or the audit log (releases go through `modelops approve`, as the person you are).
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import TYPE_CHECKING, Any

from modelops import names
from modelops.operator import Platform
from modelops.settings import Settings

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

    from modelops.spec import UseCaseSpec

REPORT_FILES = {
    names.EVALUATION: "evaluation.json",
    names.DRIFT: "drift.json",
    names.FAIRNESS: "fairness.json",
}


class Workspace:
    """The configured platform, read-only."""

    def __init__(self, settings: Settings | None = None) -> None:
        self._platform = Platform(settings or Settings.from_env())

    @property
    def use_cases(self) -> list[str]:
        return sorted(self._platform.specs)

    def __getitem__(self, use_case: str) -> UseCase:
        return UseCase(self._platform, self._platform.spec(use_case))

    def __repr__(self) -> str:
        return f"Workspace({self._platform.settings.environment}: {', '.join(self.use_cases)})"


class UseCase:
    """One use case's data, releases and reports."""

    def __init__(self, platform: Platform, spec: UseCaseSpec) -> None:
        self._platform = platform
        self.spec = spec

    def __repr__(self) -> str:
        return f"UseCase({self.spec.id}: champion {self.champion}, challenger {self.challenger})"

    @property
    def _store(self) -> Any:
        return self._platform.resources.store

    def dataset(
        self, name: str = names.VALIDATED, *, version: str | None = None, pandas: bool = False
    ) -> pl.DataFrame | pd.DataFrame:
        """A stored table (validated_dataset, training_set, holdout_set, predictions/2025-06,
        ...): the current version, or `version`."""
        table = self._store.read_table(self.spec.id, name, version)
        return table.to_pandas() if pandas else table

    def version_of(self, name: str) -> str | None:
        """The current version (content fingerprint) of a stored asset."""
        return self._store.current_version(self.spec.id, name)

    @property
    def champion(self) -> str | None:
        from modelops.governance.champion import serving_champion

        return serving_champion(self._platform.resources.audit_log, self.spec)

    @property
    def challenger(self) -> str | None:
        return self._desk.status().challenger

    @cached_property
    def _desk(self) -> Any:
        return self._platform.desk(self.spec.id)

    def evaluation(self, *, version: str | None = None) -> dict[str, Any]:
        return self._report(names.EVALUATION, version)

    def drift(self, *, version: str | None = None) -> dict[str, Any]:
        return self._report(names.DRIFT, version)

    def fairness(self, *, version: str | None = None) -> dict[str, Any]:
        return self._report(names.FAIRNESS, version)

    def _report(self, asset: str, version: str | None) -> dict[str, Any]:
        version = version or self._store.require_current(self.spec.id, asset)
        raw = self._store.read_bytes(self.spec.id, asset, version, REPORT_FILES[asset])
        return json.loads(raw)

    def score(self, applications: pl.DataFrame | pd.DataFrame) -> pl.DataFrame:
        """The champion's answers to these applications (columns named as in the spec; other
        columns are ignored): model version, score, decision, reasons, as every door answers."""
        import polars as pl

        from modelops.governance.champion import champion_bundle
        from modelops.ml.scoring.application_fields import application_fields
        from modelops.ml.scoring.applications import ApplicationScorer

        frame = (
            applications if isinstance(applications, pl.DataFrame) else pl.from_pandas(applications)
        )
        resources = self._platform.resources
        bundle = champion_bundle(resources.store, resources.audit_log, self.spec)
        if bundle is None:
            raise LookupError(f"{self.spec.id} has no champion yet: nothing to score with")
        fields = [f.name for f in application_fields(self.spec) if f.name in frame.columns]
        answers = ApplicationScorer(bundle, self.spec).answer(frame.select(fields).to_dicts())
        return pl.DataFrame(
            [
                {
                    **a.model_dump(exclude={"reasons"}),
                    "reasons": ", ".join(r.feature for r in a.reasons),
                }
                for a in answers
            ]
        )
