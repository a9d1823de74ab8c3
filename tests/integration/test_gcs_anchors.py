"""Audit anchors on GCS (the real client against gcp-storage-emulator): one create-only object
per anchor, read back for `audit verify`. Not verified here: the bucket's locked retention
policy, which makes the objects write-once on real GCS (deployment sets it; docs/security.md),
and GCS's enforcement of `ifGenerationMatch=0` (the emulator ignores preconditions)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from modelops.governance.audit_anchors import anchor_problems
from modelops.governance.audit_records import AuditEvent
from modelops.resources.audit_anchor_store import GcsAnchorObjects
from modelops.resources.audit_sqlite import SqliteAuditLog
from modelops.spec.roles import RolesFile

if TYPE_CHECKING:
    from support.gcs_emulator import EmulatorBucket

pytestmark = pytest.mark.integration


def test_anchors_are_kept_as_objects_and_read_back(gcs_bucket: EmulatorBucket, tmp_path):
    anchors = GcsAnchorObjects(bucket=gcs_bucket.name, prefix="mo/audit-anchors", project="p")
    log = SqliteAuditLog(path=str(tmp_path / "audit.db"))
    for n in range(2):
        log.append(AuditEvent(event="training", actor="t@bank.example", use_case=f"uc{n}"))
        anchors.anchor(log, RolesFile())

    kept = anchors.read_all()
    assert [a.seq for a in sorted(kept, key=lambda a: a.seq)] == [1, 2]
    names = [b.name for b in gcs_bucket.client().list_blobs(gcs_bucket.name)]
    assert all(name.startswith("mo/audit-anchors/") for name in names) and len(names) == 2
    assert anchor_problems(log.records(), kept, ()) == []
    assert anchors.location() == f"gs://{gcs_bucket.name}/mo/audit-anchors/"
