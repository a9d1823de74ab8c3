"""Where audit anchors are kept, per environment: storage the audit database's owner cannot
rewrite.

- locally, an append-only file (`audit-anchors.jsonl` in the platform home; opened for
  appending only, never rewritten by the platform; on a shared host, make it append-only for
  the platform's user too: `chattr +a`);
- on GCP, one create-only object per anchor in a bucket with a locked retention policy (the
  bucket's retention, set by deployment, is what makes it write-once: deploy/README).
Each anchor is signed with the platform's anchor key (`MODELOPS_ANCHOR_KEY_FILE`), whose
public half is registered as `anchor_keys` in the roles file.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from modelops.governance.audit_anchors import AuditAnchor, new_anchor
from modelops.governance.signatures import SigningKeyError, load_private_key, public_key_text
from modelops.resources.audit_log import AuditLog
from modelops.settings import Settings
from modelops.spec.roles import RolesFile

ANCHOR_KEY_VARIABLE = "MODELOPS_ANCHOR_KEY_FILE"


class AnchorStore(dg.ConfigurableResource):
    key_file: str | None = None
    """The platform's anchor signing key; None: anchors are written unsigned."""

    def write(self, anchor: AuditAnchor) -> None:
        raise NotImplementedError

    def read_all(self) -> list[AuditAnchor]:
        raise NotImplementedError

    def location(self) -> str:
        raise NotImplementedError

    def anchor(self, audit_log: AuditLog, roles: RolesFile) -> AuditAnchor | None:
        """Anchor the log's current head (None where there is no log yet)."""
        if not audit_log.exists():
            return None
        head = audit_log.head()
        key = key_id = None
        if self.key_file and Path(self.key_file).exists():
            try:
                key = load_private_key(Path(self.key_file))
            except SigningKeyError:
                key = None
            public = public_key_text(key) if key else None
            key_id = next((k.id for k in roles.anchor_keys if k.public_key == public), None)
        anchor = new_anchor(head, key if key_id else None, key_id)
        self.write(anchor)
        return anchor


class LocalAnchorFile(AnchorStore):
    path: str

    def write(self, anchor: AuditAnchor) -> None:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(anchor.model_dump_json() + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def read_all(self) -> list[AuditAnchor]:
        path = Path(self.path)
        if not path.exists():
            return []
        return [
            AuditAnchor.model_validate_json(line)
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]

    def location(self) -> str:
        return self.path


class GcsAnchorObjects(AnchorStore):
    """One object per anchor, created only if absent (`if_generation_match=0`)."""

    bucket: str
    prefix: str = "modelops/audit-anchors"
    project: str | None = None

    _client: Any = PrivateAttr(default=None)

    def _bucket(self) -> Any:
        if self._client is None:
            from google.cloud import storage

            self._client = storage.Client(project=self.project)
        return self._client.bucket(self.bucket)

    def write(self, anchor: AuditAnchor) -> None:
        from google.api_core.exceptions import PreconditionFailed

        name = f"{self.prefix}/{anchor.seq:012d}-{anchor.anchored_at}.json"
        # The same head anchored in the same second is kept already.
        with contextlib.suppress(PreconditionFailed):
            self._bucket().blob(name).upload_from_string(
                anchor.model_dump_json(), content_type="application/json", if_generation_match=0
            )

    def read_all(self) -> list[AuditAnchor]:
        blobs = self._bucket().list_blobs(prefix=f"{self.prefix}/")
        return [AuditAnchor.model_validate(json.loads(b.download_as_bytes())) for b in blobs]

    def location(self) -> str:
        return f"gs://{self.bucket}/{self.prefix}/"


def anchor_store_for(settings: Settings) -> AnchorStore:
    key = os.environ.get(ANCHOR_KEY_VARIABLE) or str(settings.home_dir / "keys" / "anchor.pem")
    if settings.gcp is not None:
        return GcsAnchorObjects(
            bucket=settings.gcp.bucket,
            prefix=f"{settings.gcp.prefix}/audit-anchors",
            project=settings.gcp.project,
            key_file=key,
        )
    return LocalAnchorFile(path=str(settings.home_dir / "audit-anchors.jsonl"), key_file=key)
