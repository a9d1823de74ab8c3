"""The online service's decisions as a Dagster asset: one partition per day (UTC).

    decision log files (every worker, every pod) -> online_decisions/<day>

Each night (00:30 UTC, the automation sensor) the closed day before is read: its decisions
are stored as a table (a version per materialization, like every table) and the days older
than the spec's `serving.decision_log_retention_days` are deleted. The
monthly drift and realised performance read the month's decisions directly, so they cover
online traffic whether or not this asset ran.

(No `from __future__ import annotations`: Dagster reads the annotations of asset functions.)
"""

from datetime import UTC, date, datetime

import dagster as dg

from modelops import names
from modelops.defs.outputs import stored_table, table_markdown
from modelops.defs.partitions import PARTITION_TIMEZONE
from modelops.defs.versioning import code_version
from modelops.resources.decision_store import DecisionLogStore
from modelops.resources.storage import ArtifactStore
from modelops.spec import UseCaseSpec

DAILY_CRON = "30 0 * * *"
"""00:30 UTC: the day before is closed (a decision is logged before it is answered)."""


def decision_assets(spec: UseCaseSpec) -> list[dg.AssetsDefinition]:
    """The online decisions asset of a use case with a `monitoring` section (else none)."""
    if spec.monitoring is None:
        return []
    uc = spec.id
    top_k = spec.monitoring.reason_codes
    retention = spec.serving.decision_log_retention_days
    key = dg.AssetKey([uc, names.ONLINE_DECISIONS])

    @dg.asset(
        key=key,
        partitions_def=dg.DailyPartitionsDefinition(
            start_date=f"{spec.monitoring.start_month}-01",
            timezone=PARTITION_TIMEZONE,
        ),
        # Yesterday's (complete) day, every night: stores it and applies the retention.
        automation_condition=dg.AutomationCondition.on_cron(
            DAILY_CRON, cron_timezone=PARTITION_TIMEZONE
        ),
        owners=spec.owners.dagster_owners,
        kinds={"polars"},
        code_version=code_version(("modelops.monitoring.decision_log",), spec.serving),
        description="Every decision the online service made on the day: request id, time, "
        "model version, inputs as validated, score, decision, reasons, fallback reason. "
        f"Days older than {retention} days are deleted.",
        group_name=uc,
    )
    def online_decisions(
        context: dg.AssetExecutionContext, store: ArtifactStore, decisions: DecisionLogStore
    ) -> dg.MaterializeResult:
        day = date.fromisoformat(context.partition_key[:10])
        read = decisions.day(uc, day, top_k=top_k)
        table = read.decisions
        pruned = decisions.prune(uc, keep_days=retention, today=datetime.now(UTC).date())
        if read.torn_lines:
            context.log.warning(
                f"{uc} {day}: {read.torn_lines} torn line(s) skipped (a process killed while "
                "writing: those requests were never answered)"
            )
        versions = table.get_column("model_version").value_counts(sort=True)
        fallbacks = table.filter(table["fallback_reason"].is_not_null()).height
        return stored_table(
            store,
            key,
            f"{names.ONLINE_DECISIONS}/{day.isoformat()}",
            table,
            {
                "decisions": table.height,
                "fallback_share": round(fallbacks / table.height, 6) if table.height else 0.0,
                "model_versions": table_markdown(versions, limit=10),
                "torn_lines_skipped": read.torn_lines,
                "writer_files": read.files,
                "retention_days": retention,
                "days_deleted": ", ".join(d.isoformat() for d in pruned) or "none",
            },
        )

    return [online_decisions]
