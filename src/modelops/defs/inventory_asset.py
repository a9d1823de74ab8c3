"""The model inventory across use cases (`governance/model_inventory`): every use case with its
owner, risk tier, status, champion and review dates, from the specs and the audit log.

(No `from __future__ import annotations`: Dagster reads the annotations of asset functions.)
"""

import dagster as dg

from modelops import names
from modelops.defs.versioning import code_version
from modelops.governance.inventory import inventory_rows
from modelops.release_metadata import inventory_metadata
from modelops.resources.audit_log import AuditLog
from modelops.resources.tracking import ModelTracking
from modelops.spec import UseCaseSpec
from modelops.spec.risk import RiskPolicy

INVENTORY_KEY = dg.AssetKey([names.INVENTORY_GROUP, names.INVENTORY])


def inventory_asset(specs: list[UseCaseSpec], policy: RiskPolicy) -> dg.AssetsDefinition:
    @dg.asset(
        key=INVENTORY_KEY,
        deps=[dg.AssetKey([spec.id, names.RELEASE]) for spec in specs],
        group_name=names.INVENTORY_GROUP,
        owners=list(dict.fromkeys(f"team:{spec.owners.team}" for spec in specs)),
        kinds={"python"},
        code_version=code_version(("modelops.governance.inventory",)),
        description=(
            "Every use case with its owner, risk tier, status, champion, last validation and "
            "next review date; built from the specs and the audit log."
        ),
    )
    def model_inventory(
        context: dg.AssetExecutionContext, tracking: ModelTracking, audit_log: AuditLog
    ) -> dg.MaterializeResult:
        rows = inventory_rows(specs, policy, tracking, audit_log)
        overdue = [r.use_case for r in rows if r.review_overdue]
        return dg.MaterializeResult(
            metadata=inventory_metadata(rows) | {"reviews_overdue": ", ".join(overdue) or "none"}
        )

    return model_inventory
