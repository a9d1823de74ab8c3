"""The profile a production month is judged against: the champion's training data, as its
serving bundle recorded it (ranges, medians, category shares)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelops.spec import UseCaseSpec

if TYPE_CHECKING:
    from modelops.ml.data_profile import DataProfile
    from modelops.resources.audit_log import AuditLog
    from modelops.resources.storage import ArtifactStore


def champion_profile(
    store: ArtifactStore, audit_log: AuditLog, spec: UseCaseSpec
) -> DataProfile | None:
    """None without a usable champion: then only the rules that need no profile apply
    (all-null inputs, quarantine, repeated ids)."""
    from modelops.governance.champion import champion_bundle

    try:
        bundle = champion_bundle(store, audit_log, spec)
    except Exception:  # a tampered or missing bundle is reported by the scoring step
        return None
    if bundle is None:
        return None
    if bundle.profile is not None:
        return bundle.profile
    from modelops.ml.data_profile import DataProfile  # a bundle written before profiles

    return DataProfile.fit(bundle.reference_sample, spec)
