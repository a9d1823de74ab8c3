"""The champion production uses: the version the audit log records, and what scoring needs of
it (its serving bundle, verified against the digest recorded at training).

A registry alias moved by hand in MLflow does not change what is scored; `modelops status`
reports such a mismatch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelops.governance.history import CHAMPION_EVENTS, TRAINING, current_champion
from modelops.names import MODEL, SERVING_BUNDLE_PREFIX

if TYPE_CHECKING:
    import polars as pl

    from modelops.governance.model_record import ModelRecord
    from modelops.ml.evaluation import ChampionScores
    from modelops.ml.serving_bundle import ServingBundle
    from modelops.resources.audit_log import AuditLog
    from modelops.resources.storage import ArtifactStore
    from modelops.resources.tracking import ModelTracking
    from modelops.spec import UseCaseSpec


class MissingServingBundleError(RuntimeError):
    """The champion was trained before serving bundles were written with each version."""


def serving_champion(audit_log: AuditLog, spec: UseCaseSpec) -> str | None:
    """The champion's version, as the audit log records it (None before the first one)."""
    records = audit_log.records(use_case=spec.id, events=list(CHAMPION_EVENTS))
    return current_champion(records, spec.id)


def recorded_bundle_digest(audit_log: AuditLog, spec: UseCaseSpec, version: str) -> str | None:
    """The serving bundle's digest the training record of `version` holds: the anchor a
    stored bundle is checked against (the store's own copy could be edited with it)."""
    trainings = [
        r
        for r in audit_log.records(use_case=spec.id, events=[TRAINING])
        if r.model_version == str(version)
    ]
    return trainings[-1].details.get("serving_bundle_sha256") if trainings else None


def bundle_problem(
    store: ArtifactStore, audit_log: AuditLog, spec: UseCaseSpec, version: str
) -> str | None:
    """Why the stored serving bundle of `version` is not the one trained (None: it is), read
    without deserialising anything: the digest of its files against the training record's,
    then, to name what differs, each file against the manifest's sha256."""
    import hashlib
    import json

    from modelops.ml.model_integrity import files_digest
    from modelops.ml.serving_bundle import FILES, MANIFEST

    recorded = recorded_bundle_digest(audit_log, spec, version)
    if recorded is None:
        return "no serving bundle was recorded at training (retrain it to release it)"
    names = {name: f"{SERVING_BUNDLE_PREFIX}{name}" for name in FILES}
    missing = [
        stored for stored in names.values() if not store.exists(spec.id, MODEL, version, stored)
    ]
    if missing:
        return f"serving bundle file(s) {', '.join(missing)} missing from the artifact store"
    files = {
        name: store.read_bytes(spec.id, MODEL, version, stored) for name, stored in names.items()
    }
    actual = files_digest(files)
    if actual == recorded:
        return None
    try:
        listed = dict(json.loads(files[MANIFEST])["files"])
    except (ValueError, KeyError, TypeError):
        listed = {}
    changed = [
        names[name]
        for name, content in files.items()
        if listed and name != MANIFEST and listed.get(name) != hashlib.sha256(content).hexdigest()
    ]  # no readable manifest: the manifest is what changed
    return (
        f"serving bundle file(s) {', '.join(changed or [names[MANIFEST]])} changed after "
        f"training (bundle sha256 {actual[:12]}, recorded {recorded[:12]})"
    )


def load_serving_bundle(
    store: ArtifactStore, audit_log: AuditLog, spec: UseCaseSpec, version: str
) -> ServingBundle:
    """A version's serving bundle, every file checked against the recorded digest."""
    from modelops.ml.serving_bundle import ServingBundle

    digest = recorded_bundle_digest(audit_log, spec, version)
    if digest is None:
        raise MissingServingBundleError(
            f"{spec.id} version {version} has no serving bundle recorded at training (it was "
            "trained by an earlier platform version); retrain it to score with it"
        )

    def read(filename: str) -> bytes:
        return store.read_bytes(spec.id, MODEL, version, f"{SERVING_BUNDLE_PREFIX}{filename}")

    return ServingBundle.from_files(read, expected_sha256=digest)


def champion_bundle(
    store: ArtifactStore, audit_log: AuditLog, spec: UseCaseSpec
) -> ServingBundle | None:
    """The serving champion's bundle (None when there is no champion yet)."""
    version = serving_champion(audit_log, spec)
    return None if version is None else load_serving_bundle(store, audit_log, spec, version)


def champion_holdout_scores(
    tracking: ModelTracking,
    audit_log: AuditLog,
    spec: UseCaseSpec,
    candidate: ModelRecord,
    holdout: pl.DataFrame,
) -> ChampionScores | None:
    """The champion's scores on the candidate's holdout, if there is a champion other than the
    candidate. A champion trained on other features cannot score this holdout: that is
    reported in the evaluation (with the reason) rather than failing the candidate's."""
    from modelops.ml.evaluation import ChampionScores
    from modelops.ml.training import predict_scores

    version = serving_champion(audit_log, spec)
    if version is None or version == candidate.version:
        return None
    try:
        model = tracking.load_model(f"models:/{spec.registered_model_name}/{version}")
        return ChampionScores(version=version, scores=predict_scores(model, holdout, spec))
    except Exception as exc:  # any failure to load or score is reported, not raised
        return ChampionScores(version=version, scores=None, error=f"{type(exc).__name__}: {exc}")
