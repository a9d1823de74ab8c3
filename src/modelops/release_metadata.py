"""What the Dagster UI shows of a release: the release state, a model card, the inventory.

The same metadata whether a run changed the state (the release assets) or an operator command
did (its runless reports), so the UI reads alike either way. Builds Dagster metadata; the
facts come from `modelops.governance`.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from modelops.defs.outputs import Metadata
from modelops.formatting import bullets
from modelops.governance.card_publisher import PublishedCard
from modelops.governance.inventory import InventoryRow, inventory_markdown
from modelops.governance.release_desk import ReleaseDesk, ReleaseStatus


def release_metadata(
    desk: ReleaseDesk, status: ReleaseStatus, *, candidate: str | None
) -> Metadata:
    metadata: Metadata = {
        "status": status.summary(),
        "risk_tier": status.tier,
        "tier_rationale": dg.MetadataValue.md("\n".join(bullets(desk.assessment.rationale))),
        "champion": status.champion or "none",
        "challenger": status.challenger or "none",
        "awaiting_approval": status.awaiting_approval,
    }
    if candidate is not None:
        metadata["model_version"] = candidate
    if status.notes:
        metadata["warnings"] = dg.MetadataValue.md("\n".join(bullets(status.notes)))
    return metadata


def card_metadata(card: PublishedCard) -> Metadata:
    return {
        "card": dg.MetadataValue.md(card.markdown),
        "model_version": card.model_version,
        "card_uri": dg.MetadataValue.url(card.uri),
    }


def inventory_metadata(rows: Sequence[InventoryRow]) -> Metadata:
    return {
        "inventory": dg.MetadataValue.md(inventory_markdown(rows)),
        "use_cases": len(rows),
        "in_production": sum(r.champion is not None for r in rows),
        "dagster/row_count": len(rows),
    }
