"""The nightly audit export: the log as JSON lines in the store (each export a new version),
and the head anchored outside the database, signed with the platform's anchor key."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

from modelops.definitions import build_definitions
from modelops.defs.audit_export_asset import AUDIT_EXPORT, AUDIT_EXPORT_KEY, EXPORT_FILE
from modelops.governance.audit_chain import verify_chain
from modelops.governance.audit_records import AuditEvent, load_jsonl
from modelops.local_identities import ensure_key
from modelops.resources.audit_anchor_store import anchor_store_for
from modelops.resources.audit_sqlite import SqliteAuditLog
from modelops.resources.storage import LocalArtifactStore
from support import copy_german_spec, make_settings

pytestmark = pytest.mark.dagster


def test_the_export_keeps_the_log_and_anchors_its_head(tmp_path: Path):
    copy_german_spec(tmp_path / "specs")
    settings = make_settings(tmp_path, tmp_path / "specs")
    public = ensure_key(settings.home_dir / "keys" / "anchor.pem")
    settings.roles_file.write_text(
        yaml.safe_dump({"anchor_keys": [{"id": "anchor-1", "public_key": public}]})
    )
    log = SqliteAuditLog(path=str(settings.audit_log_path))
    for n in range(3):
        log.append(AuditEvent(event="training", actor="t@bank.example", use_case=f"uc{n}"))

    defs = build_definitions(settings)
    assert "daily_audit_export" in [s.name for s in defs.schedules]
    result = dg.materialize([defs.get_assets_def(AUDIT_EXPORT_KEY)], resources=defs.resources)

    assert result.success
    metadata = result.asset_materializations_for_node("governance__audit_export")[0].metadata
    assert metadata["records"].value == 3 and metadata["anchor_signed"].value is True
    store = LocalArtifactStore(root=str(settings.data_dir))
    version = store.require_current("governance", AUDIT_EXPORT)
    exported = tmp_path / "copy.jsonl"
    exported.write_bytes(store.read_bytes("governance", AUDIT_EXPORT, version, EXPORT_FILE))
    assert verify_chain(load_jsonl(exported)).ok
    (anchor,) = anchor_store_for(settings).read_all()
    assert (anchor.seq, anchor.hash) == (3, log.head().hash) and anchor.signature
