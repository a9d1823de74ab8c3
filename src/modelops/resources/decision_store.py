"""Where the online service's decision log lives, for the assets that read it.

The service appends to the folder (`monitoring.decision_log`); the Dagster assets read and
prune it through this resource. Locally it is `decisions/` under the platform home; on
Kubernetes a volume shared by the service pods and the step pods (ReadWriteMany), mounted at
`MODELOPS_DECISION_LOG_DIR` (deploy/README.md).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import polars as pl

from modelops.monitoring.decision_log import (
    DecisionDay,
    decision_schema,
    prune_decisions,
    read_decisions,
)


class DecisionLogStore(dg.ConfigurableResource):
    directory: str

    def day(self, use_case: str, day: date, *, top_k: int = 3) -> DecisionDay:
        return read_decisions(Path(self.directory), use_case, day, top_k=top_k)

    def month(self, use_case: str, month: str, *, top_k: int = 3) -> pl.DataFrame:
        """Every decision of a calendar month (`YYYY-MM`, UTC), in time order."""
        first = date.fromisoformat(f"{month}-01")
        following = (first + timedelta(days=32)).replace(day=1)
        days = [first + timedelta(days=i) for i in range((following - first).days)]
        frames = [self.day(use_case, d, top_k=top_k).decisions for d in days]
        if not frames:
            return pl.DataFrame(schema=decision_schema(top_k))
        return pl.concat(frames, how="vertical")

    def prune(self, use_case: str, *, keep_days: int, today: date) -> list[date]:
        return prune_decisions(Path(self.directory), use_case, keep_days=keep_days, today=today)
