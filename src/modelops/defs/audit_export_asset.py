"""The audit log exported for auditors on a schedule (`governance/audit_export`): the whole
log as JSON lines in the artifact store (a new version each time, earlier ones kept), and
its head anchored outside the database (docs/security.md).

(No `from __future__ import annotations`: Dagster reads the annotations of asset functions.)
"""

import tempfile
from pathlib import Path

import dagster as dg

from modelops import names
from modelops.defs.versioning import code_version
from modelops.resources.audit_anchor_store import AnchorStore
from modelops.resources.audit_log import AuditLog
from modelops.resources.identity import IdentityProvider
from modelops.resources.storage import ArtifactStore

AUDIT_EXPORT = "audit_export"
AUDIT_EXPORT_KEY = dg.AssetKey([names.INVENTORY_GROUP, AUDIT_EXPORT])
EXPORT_FILE = "audit_log.jsonl"


def audit_export_asset(owners: list[str]) -> dg.AssetsDefinition:
    """The export, owned by the teams whose models the log records."""

    @dg.asset(
        key=AUDIT_EXPORT_KEY,
        owners=owners,
        group_name=names.INVENTORY_GROUP,
        kinds={"python"},
        code_version=code_version(("modelops.governance.audit_anchors",)),
        description=(
            "The audit log as JSON lines for auditors (`load_jsonl` + `verify_chain` check the "
            "copy), and the chain's head anchored in write-once storage."
        ),
    )
    def audit_export(
        audit_log: AuditLog,
        store: ArtifactStore,
        audit_anchors: AnchorStore,
        identity: IdentityProvider,
    ) -> dg.MaterializeResult:
        if not audit_log.exists():
            return dg.MaterializeResult(metadata={"records": 0, "note": "no audit log yet"})
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / EXPORT_FILE
            count = audit_log.export_jsonl(path)
            version = store.store_files(
                names.INVENTORY_GROUP, AUDIT_EXPORT, {EXPORT_FILE: path.read_bytes()}
            )
        anchor = audit_anchors.anchor(audit_log, identity.roles())
        return dg.MaterializeResult(
            data_version=dg.DataVersion(version),
            metadata={
                "records": count,
                "export": dg.MetadataValue.url(
                    store.link(names.INVENTORY_GROUP, AUDIT_EXPORT, version, EXPORT_FILE)
                ),
                "anchored_seq": anchor.seq if anchor else 0,
                "anchor_signed": bool(anchor and anchor.signature),
                "anchors": audit_anchors.location(),
            },
        )

    return audit_export


audit_export_schedule = dg.ScheduleDefinition(
    name="daily_audit_export",
    target=dg.AssetSelection.assets(AUDIT_EXPORT_KEY),
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every night: the audit log exported for auditors and its head anchored.",
)
