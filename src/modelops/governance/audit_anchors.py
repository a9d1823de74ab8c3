"""Anchors: the audit chain's head written outside its database, signed, where it cannot be
changed afterwards.

The hash chain catches an edit; its head catches a cut tail. Someone who owns the database
could still rewrite the whole chain and its head consistently. An anchor (seq, hash, time)
kept in write-once storage at every release action and on a schedule is out of their reach:
a rewritten chain no longer has the anchored hash at the anchored seq, and `audit verify`
names the record.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel, ConfigDict

from modelops.governance.audit_records import AuditHead, AuditRecord, canonical_json
from modelops.spec.roles import SigningKey, ed25519_public_key


class AuditAnchor(BaseModel):
    model_config = ConfigDict(frozen=True)

    seq: int
    hash: str
    anchored_at: str
    key_id: str | None = None
    signature: str | None = None

    def content(self) -> bytes:
        return canonical_json(
            {"seq": self.seq, "hash": self.hash, "anchored_at": self.anchored_at}
        ).encode()


def new_anchor(head: AuditHead, key: Ed25519PrivateKey | None, key_id: str | None) -> AuditAnchor:
    unsigned = AuditAnchor(
        seq=head.seq, hash=head.hash, anchored_at=datetime.now(UTC).isoformat(timespec="seconds")
    )
    if key is None:
        return unsigned
    signature = base64.b64encode(key.sign(unsigned.content())).decode()
    return unsigned.model_copy(update={"key_id": key_id, "signature": signature})


def anchor_problems(
    records: Sequence[AuditRecord],
    anchors: Sequence[AuditAnchor],
    anchor_keys: Sequence[SigningKey],
) -> list[str]:
    """Each anchor the stored chain disagrees with, and each anchor whose signature fails."""
    by_seq = {record.seq: record for record in records}
    keys = {key.id: key for key in anchor_keys}
    problems = []
    for anchor in sorted(anchors, key=lambda a: a.seq):
        where = f"anchor of record {anchor.seq} written {anchor.anchored_at}"
        if keys:
            key = keys.get(anchor.key_id or "")
            if key is None or not anchor.signature or not _signed(anchor, key):
                problems.append(f"{where}: its signature does not verify (forged anchor)")
                continue
        record = by_seq.get(anchor.seq)
        if anchor.seq == 0:
            continue
        if record is None:
            problems.append(f"{where}: record {anchor.seq} is no longer in the log (deleted)")
        elif record.hash != anchor.hash:
            problems.append(
                f"{where}: {record.label()} has another hash than the one anchored: the chain "
                "was rewritten from there on (consistently, if nothing else shows it)"
            )
    return problems


def _signed(anchor: AuditAnchor, key: SigningKey) -> bool:
    try:
        ed25519_public_key(key.public_key).verify(
            base64.b64decode(anchor.signature or ""), anchor.content()
        )
    except (InvalidSignature, ValueError):
        return False
    return True
